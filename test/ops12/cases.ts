/**
 * Runs issue #12's golden cases (test/fixtures/ops-cases.json, PyTorch) through normkit's public
 * API: the inputs as normkit tensors of their dtype, every output decoded to its values, ready for
 * the case's pass rule (test/ops-cases.ts `outputError`). Used per backend and by the pool tests.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import { bf16BitsToF32Array, f16BitsToF32Array } from "../../src/dtype.js";
import { decodeIn, type EncIn, type OpsCase } from "../ops-cases.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/ops-cases.json", import.meta.url));
export const opsCases: OpsCase[] = JSON.parse(readFileSync(FIXTURE, "utf8")).cases;

/** An input as a normkit tensor (a fresh copy each call: float32 data, or the half bits with their dtype). */
export function input(t: EncIn): nk.AnyTensor;
export function input(t: EncIn | null | undefined): nk.AnyTensor | undefined;
export function input(t: EncIn | null | undefined): nk.AnyTensor | undefined {
  if (!t) return undefined;
  const d = decodeIn(t);
  return d.dtype === "float32" ? { shape: d.shape, data: d.data as Float32Array } : { shape: d.shape, data: d.data as Uint16Array, dtype: d.dtype as nk.HalfTensor["dtype"] };
}

/** An output's values (half bits decoded exactly) and its dtype. */
export function valuesOf(t: nk.AnyTensor): { values: Float32Array; dtype: nk.AnyTensor["dtype"] } {
  if (t.dtype === "float16") return { values: f16BitsToF32Array(t.data), dtype: t.dtype };
  if (t.dtype === "bfloat16") return { values: bf16BitsToF32Array(t.data), dtype: t.dtype };
  return { values: t.data as Float32Array, dtype: "float32" };
}

export type Outputs = Record<string, nk.AnyTensor>;

/** The synchronous API (or a stand-in with the same signatures, e.g. a pool made synchronous per call). */
export type Api = Pick<typeof nk,
  "layerNorm" | "layerNormForward" | "layerNormBackward" | "rmsNorm" | "rmsNormForward" | "rmsNormBackward" | "addLayerNorm" | "addRmsNorm" |
  "addLayerNormBackward" | "addRmsNormBackward" | "groupNorm" | "groupNormForward" | "groupNormBackward" | "batchNorm" | "batchNormBackward" |
  "instanceNorm" | "instanceNormBackward">;

/**
 * One case through the API; `saved`: the backward gets the forward's statistics (row and group
 * ops) instead of recomputing them. Returns every output by the case's names.
 */
export function runOpsCase(c: OpsCase, saved = false, api: Api = nk): Outputs {
  const x = input(c.x), dy = input(c.dy);
  const weight = input(c.weight), bias = input(c.bias);
  const eps = c.eps ?? undefined;
  const res: Outputs = {};
  const grads = (g: { dx: nk.AnyTensor; dweight: nk.AnyTensor | null; dbias: nk.AnyTensor | null; dinputBias?: nk.AnyTensor | null }) => {
    res.dx = g.dx;
    if (g.dweight) res.dweight = g.dweight;
    if (g.dbias) res.dbias = g.dbias;
    if (g.dinputBias) res.dinputBias = g.dinputBias;
  };
  const modes = { weightOffset: c.weightOffset, castingMode: c.castingMode };
  switch (c.op) {
    case "layerNorm":
    case "rmsNorm": {
      const o = { weight, bias, eps, ...modes };
      const ns = c.normalizedShape!;
      if (c.op === "layerNorm") {
        const f = api.layerNormForward(x, ns, o);
        res.y = f.y;
        grads(api.layerNormBackward(dy, x, ns, saved ? { ...o, mean: f.mean, rstd: f.rstd } : o));
      } else {
        const f = api.rmsNormForward(x, ns, o);
        res.y = f.y;
        grads(api.rmsNormBackward(dy, x, ns, saved ? { ...o, rstd: f.rstd } : o));
      }
      break;
    }
    case "addLayerNorm":
    case "addRmsNorm": {
      const inputBias = input(c.inputBias);
      const o = { weight, bias, eps, ...modes, inputBias };
      const ns = c.normalizedShape!;
      const residual = input(c.residual!);
      const dh = input(c.dh);
      if (c.op === "addLayerNorm") {
        const f = api.addLayerNorm(x, residual, ns, o);
        [res.y, res.h] = [f.y, f.h];
        grads(api.addLayerNormBackward(dy, f.h, ns, { ...o, dh, ...(saved ? { mean: f.mean, rstd: f.rstd } : {}) }));
      } else {
        const f = api.addRmsNorm(x, residual, ns, o);
        [res.y, res.h] = [f.y, f.h];
        grads(api.addRmsNormBackward(dy, f.h, ns, { ...o, dh, ...(saved ? { rstd: f.rstd } : {}) }));
      }
      break;
    }
    case "groupNorm": {
      const o = { weight, bias, eps, channelsLast: c.channelsLast, activation: c.activation };
      const f = api.groupNormForward(x, c.numGroups!, o);
      res.y = f.y;
      grads(api.groupNormBackward(dy, x, c.numGroups!, saved ? { ...o, mean: f.mean, rstd: f.rstd } : o));
      break;
    }
    case "batchNorm":
    case "instanceNorm": {
      const running = () => ({ runningMean: input(c.runningMean) as nk.Tensor | undefined, runningVar: input(c.runningVar) as nk.Tensor | undefined });
      const common = { weight, bias, eps, momentum: c.momentum, numBatchesTracked: c.numBatchesTracked };
      const r = running();
      // backward gets the running statistics as they were before the forward call
      if (c.op === "batchNorm") {
        grads(api.batchNormBackward(dy, x, { ...common, ...running(), training: c.training }));
        res.y = api.batchNorm(x, { ...common, ...r, training: c.training });
      } else {
        grads(api.instanceNormBackward(dy, x, { ...common, ...running(), useInputStats: c.useInputStats }));
        res.y = api.instanceNorm(x, { ...common, ...r, useInputStats: c.useInputStats });
      }
      if (r.runningMean) res.runningMean = r.runningMean;
      if (r.runningVar) res.runningVar = r.runningVar;
      break;
    }
  }
  return res;
}
