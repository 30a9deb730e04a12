/**
 * The float64 references of issue #12 (src/reference/ops.ts) against every golden case of
 * test/fixtures/ops-cases.json (PyTorch float64, tools/gen_op_cases.py): these references are what
 * the kernels are tested against, so they must reproduce PyTorch's float64 results to ~1e-12,
 * and the residual stream h bit for bit. Then directional finite-difference checks of each
 * backward (as torch.autograd.gradcheck's fast mode): for random directions v of every input p,
 * ⟨∂L/∂p, v⟩ ≈ (L(p + hv) − L(p − hv))/2h with L = Σ dy·y (+ Σ dh·h).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { reference as ref } from "../../src/index.js";
import { roundToDType } from "../../src/dtype.js";
import { decodeIn, decodeOut, outputError, valuesOf, type OpsCase } from "../ops-cases.js";
import { rng } from "../helpers.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/ops-cases.json", import.meta.url));
const cases: OpsCase[] = JSON.parse(readFileSync(FIXTURE, "utf8")).cases;

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** The references' outputs for one case, named as the case's expected outputs. */
export function referenceOutputs(c: OpsCase): Record<string, Float64Array> {
  const x = decodeIn(c.x);
  const dy = valuesOf(c.dy)!;
  const weight = valuesOf(c.weight), bias = valuesOf(c.bias);
  const out: Record<string, Float64Array> = {};
  const grads = (g: { dx: Float64Array; dweight: Float64Array | null; dbias: Float64Array | null; dinputBias?: Float64Array | null }) => {
    out.dx = g.dx;
    if (g.dweight) out.dweight = g.dweight;
    if (g.dbias) out.dbias = g.dbias;
    if (g.dinputBias) out.dinputBias = g.dinputBias;
  };
  switch (c.op) {
    case "layerNorm":
    case "rmsNorm":
    case "addLayerNorm":
    case "addRmsNorm": {
      const rms = c.op === "rmsNorm" || c.op === "addRmsNorm";
      const D = numel(c.normalizedShape!);
      const rows = numel(x.shape) / D;
      const o = {
        weight, bias, eps: c.eps ?? (rms ? 2 ** -23 : 1e-5), weightOffset: c.weightOffset, castingMode: c.castingMode,
        inputBias: valuesOf(c.inputBias), dh: valuesOf(c.dh),
        dtypes: { x: x.dtype, weight: c.weight ? decodeIn(c.weight).dtype : undefined, bias: c.bias ? decodeIn(c.bias).dtype : undefined },
      };
      if (c.op.startsWith("add")) {
        const { y, h } = ref.addRowNormRef(rms, x.values, valuesOf(c.residual)!, rows, D, o);
        out.y = y;
        out.h = h;
        grads(ref.addRowNormBackwardRef(rms, dy, h, rows, D, o));
      } else {
        out.y = ref.rowNormModeRef(rms, x.values, rows, D, o);
        grads(ref.rowNormModeBackwardRef(rms, dy, x.values, rows, D, o));
      }
      break;
    }
    case "groupNorm": {
      const N = x.shape[0];
      const C = c.channelsLast ? x.shape[x.shape.length - 1] : x.shape[1];
      const S = numel(x.shape) / (N * C);
      const o = { weight, bias, eps: c.eps ?? 1e-5, channelsLast: c.channelsLast, activation: c.activation };
      out.y = ref.groupNormModeRef(x.values, N, C, S, c.numGroups!, o);
      grads(ref.groupNormModeBackwardRef(dy, x.values, N, C, S, c.numGroups!, o));
      break;
    }
    case "batchNorm":
    case "instanceNorm": {
      const [N, C] = x.shape;
      const S = numel(x.shape) / (N * C);
      const running = () => ({ runningMean: valuesOf(c.runningMean), runningVar: valuesOf(c.runningVar) });
      const common = { weight, bias, eps: c.eps ?? 1e-5, momentum: ref.runningStatsFactor(c.momentum ?? null, c.numBatchesTracked ?? 0) };
      const r =
        c.op === "batchNorm"
          ? ref.batchNormRef(x.values, N, C, S, { ...common, ...running(), training: c.training! })
          : ref.instanceNormRef(x.values, N, C, S, { ...common, ...running(), useInputStats: c.useInputStats! });
      out.y = r.y;
      if (r.runningMean) out.runningMean = r.runningMean;
      if (r.runningVar) out.runningVar = r.runningVar;
      // backward with the running statistics as they were before the forward call
      grads(
        c.op === "batchNorm"
          ? ref.batchNormBackwardRef(dy, x.values, N, C, S, { ...common, ...running(), training: c.training! })
          : ref.instanceNormBackwardRef(dy, x.values, N, C, S, { ...common, ...running(), useInputStats: c.useInputStats! }),
      );
      break;
    }
  }
  return out;
}

test("ops-cases.json covers every new op, option and dtype", () => {
  const has = (p: (c: OpsCase) => unknown) => cases.some(p);
  for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm", "groupNorm", "batchNorm", "instanceNorm"]) assert.ok(has((c) => c.op === op), op);
  for (const dt of ["float16", "bfloat16"]) {
    for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm", "groupNorm", "batchNorm", "instanceNorm"]) {
      assert.ok(has((c) => c.op === op && "dtype" in c.x && c.x.dtype === dt), `${op} ${dt}`);
    }
    for (const mode of ["gemma", "llama", "none"]) {
      for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm"]) {
        assert.ok(has((c) => c.op === op && (c.castingMode ?? "gemma") === mode && "dtype" in c.x && c.x.dtype === dt), `${op} ${mode} ${dt}`);
      }
    }
  }
  assert.ok(has((c) => c.weightOffset === 1 && c.op.startsWith("add")) && has((c) => c.weightOffset === 1 && c.op === "layerNorm"));
  assert.ok(has((c) => c.inputBias) && has((c) => c.dh) && has((c) => c.op.startsWith("add") && c.eps === null));
  assert.ok(has((c) => c.channelsLast && c.activation === "silu") && has((c) => c.channelsLast && !c.activation) && has((c) => !c.channelsLast && c.activation === "silu"));
  for (const op of ["batchNorm", "instanceNorm"]) assert.ok(has((c) => c.op === op && c.momentum === null), `${op} momentum null`);
  assert.ok(has((c) => c.op === "instanceNorm" && c.useInputStats === false) && has((c) => c.op === "instanceNorm" && !c.runningMean));
  assert.ok(has((c) => c.name.includes("overflow_800")), "the float16 overflow rows");
});

for (const c of cases) {
  test(`reference = PyTorch float64: ${c.op} ${c.name}`, () => {
    const got = referenceOutputs(c);
    for (const [k, enc] of Object.entries(c.expected)) {
      assert.ok(got[k], `${k} missing from the references' outputs`);
      const { values: want, dtype } = decodeOut(enc);
      if (k === "h") {
        // the residual stream is exact: bit for bit what PyTorch's float32 add rounded to x's dtype gives
        assert.deepEqual(got.h, want, `${c.name}.h`);
        continue;
      }
      // float64 against float64 (different summation orders): 1e-11 of the output's scale
      let scale = 1;
      for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < want.length; i++) {
        const ok = Number.isFinite(want[i]) ? Math.abs(got[k][i] - want[i]) <= 1e-11 * scale : Object.is(got[k][i], want[i]);
        if (!ok) assert.fail(`${c.name}.${k}[${i}]: reference ${got[k][i]}, PyTorch float64 ${want[i]}`);
      }
      // and the reference, stored in the output's dtype, passes the case's own rule
      const stored = dtype === "float32" ? Float32Array.from(got[k]) : got[k].map((v) => roundToDType(v, dtype));
      assert.equal(outputError(c, k, stored), null);
    }
    for (const k of Object.keys(got)) assert.ok(k in c.expected, `unexpected output ${k}`);
  });
}

// ---------------------------------------------------------------- directional gradient checks

const H = 1e-6;
const r = rng(12);
const vec = (n: number, scale = 1, offset = 0) => Float64Array.from(r.tensor([n], scale, offset).data);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);

/**
 * For each named input p (a Float64Array the loss reads) and 3 random directions v: the analytic
 * ⟨grad, v⟩ equals the central difference of `loss` along v (p is moved in place, then restored).
 */
function checkDirectional(inputs: Record<string, { p: Float64Array; grad: ArrayLike<number> }>, loss: () => number) {
  for (const [name, { p, grad }] of Object.entries(inputs)) {
    assert.equal(grad.length, p.length, `${name}: gradient length`);
    for (let t = 0; t < 3; t++) {
      const v = vec(p.length);
      const at = (s: number) => {
        const saved = Float64Array.from(p);
        for (let i = 0; i < p.length; i++) p[i] += s * v[i];
        const l = loss();
        p.set(saved);
        return l;
      };
      const numeric = (at(H) - at(-H)) / (2 * H);
      const analytic = dot(grad, v);
      assert.ok(Math.abs(numeric - analytic) <= 1e-6 * Math.max(1, Math.abs(numeric)), `${name}: analytic ${analytic} vs numeric ${numeric}`);
    }
  }
}

for (const rms of [false, true]) {
  const op = rms ? "addRmsNorm" : "addLayerNorm";
  test(`gradcheck ${op}: dx (= d/dh + dh, shared by x and residual), dinputBias, dweight with weightOffset, dbias`, () => {
    const rows = 3, D = 7, eps = 1e-5;
    const x = vec(rows * D, 1.5, 0.3), residual = vec(rows * D), inputBias = vec(D, 0.5), dy = vec(rows * D), dh = vec(rows * D);
    const weight = vec(D, 0.3), bias = vec(D);
    const o = { weight, bias, eps, weightOffset: 1, inputBias, dh };
    // the exact sum (no rounding) for the finite differences: addInputRef rounds h to float32
    const h = () => Float64Array.from(x, (v, k) => v + residual[k] + inputBias[k % D]);
    const loss = () => {
      const hh = h();
      return dot(dy, ref.rowNormModeRef(rms, hh, rows, D, o)) + dot(dh, hh);
    };
    const g = ref.addRowNormBackwardRef(rms, dy, h(), rows, D, o);
    checkDirectional(
      { x: { p: x, grad: g.dx }, residual: { p: residual, grad: g.dx }, inputBias: { p: inputBias, grad: g.dinputBias! }, weight: { p: weight, grad: g.dweight! }, bias: { p: bias, grad: g.dbias! } },
      loss,
    );
  });
}

for (const rms of [false, true]) {
  test(`gradcheck ${rms ? "rmsNorm" : "layerNorm"} weightOffset 1, no weight (offset ignored) and castingMode llama's dweight`, () => {
    const rows = 4, D = 6, eps = 1e-5;
    const x = vec(rows * D, 2, 0.5), dy = vec(rows * D), weight = vec(D, 0.2);
    const plain = { eps, weightOffset: 1 };
    checkDirectional({ x: { p: x, grad: ref.rowNormModeBackwardRef(rms, dy, x, rows, D, plain).dx } }, () => dot(dy, ref.rowNormModeRef(rms, x, rows, D, plain)));
    // llama: y = round(x̂)·(1 + w) is linear in w, so its dweight = Σ dy·round(x̂) is an exact gradient
    const llama = { weight, eps, weightOffset: 1, castingMode: "llama" as const, dtypes: { x: "bfloat16" as const } };
    const xb = x.map((v) => roundToDType(v, "bfloat16"));
    const g = ref.rowNormModeBackwardRef(rms, dy, xb, rows, D, llama);
    checkDirectional({ weight: { p: weight, grad: g.dweight! } }, () => dot(dy, ref.rowNormModeRef(rms, xb, rows, D, llama)));
  });
}

for (const [useInputStats, affine] of [[true, true], [true, false], [false, true]] as const) {
  test(`gradcheck instanceNorm useInputStats=${useInputStats} affine=${affine}`, () => {
    const N = 3, C = 2, S = 5;
    const x = vec(N * C * S, 1.3, 0.2), dy = vec(N * C * S);
    const weight = affine ? vec(C, 1, 1) : null, bias = affine ? vec(C) : null;
    const runningMean = vec(C, 0.3), runningVar = vec(C).map((v) => Math.abs(v) + 0.5);
    const o = () => ({ weight, bias, runningMean, runningVar, useInputStats, momentum: 0.1, eps: 1e-5 });
    const g = ref.instanceNormBackwardRef(dy, x, N, C, S, o());
    const inputs: Record<string, { p: Float64Array; grad: ArrayLike<number> }> = { x: { p: x, grad: g.dx } };
    if (weight && bias) Object.assign(inputs, { weight: { p: weight, grad: g.dweight! }, bias: { p: bias, grad: g.dbias! } });
    checkDirectional(inputs, () => dot(dy, ref.instanceNormRef(x, N, C, S, o()).y));
  });
}

for (const [channelsLast, activation] of [[true, "silu"], [true, null], [false, "silu"]] as const) {
  test(`gradcheck groupNorm channelsLast=${channelsLast} activation=${activation}`, () => {
    const N = 2, C = 6, S = 4, G = 3;
    const x = vec(N * C * S, 1.5, -0.3), dy = vec(N * C * S), weight = vec(C, 1, 1), bias = vec(C);
    const o = { weight, bias, eps: 1e-5, channelsLast, activation };
    const g = ref.groupNormModeBackwardRef(dy, x, N, C, S, G, o);
    checkDirectional(
      { x: { p: x, grad: g.dx }, weight: { p: weight, grad: g.dweight! }, bias: { p: bias, grad: g.dbias! } },
      () => dot(dy, ref.groupNormModeRef(x, N, C, S, G, o)),
    );
  });
}

test("channels-last GroupNorm is channels-first GroupNorm of the transposed tensor; InstanceNorm's running update is the batch mean", () => {
  const N = 2, C = 4, S = 3, G = 2;
  const xcf = vec(N * C * S);
  const xcl = new Float64Array(N * C * S);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) xcl[(n * S + s) * C + c] = xcf[(n * C + c) * S + s];
  const ycf = ref.groupNormRef(xcf, N, C, S, G, null, null, 1e-5);
  const ycl = ref.groupNormModeRef(xcl, N, C, S, G, { eps: 1e-5, channelsLast: true });
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) assert.equal(ycl[(n * S + s) * C + c], ycf[(n * C + c) * S + s]);
  // running mean ← (1 − m)·rm + m·mean_n(mean of instance (n, c)); variance unbiased per instance
  const rm = [0.5, -1, 2, 0], rv = [1, 2, 0.5, 1];
  const { runningMean, runningVar } = ref.instanceNormRef(xcf, N, C, S, { runningMean: rm, runningVar: rv, useInputStats: true, momentum: 0.25, eps: 1e-5 });
  for (let c = 0; c < C; c++) {
    let m = 0, v = 0;
    for (let n = 0; n < N; n++) {
      const row = Array.from({ length: S }, (_, s) => xcf[(n * C + c) * S + s]);
      const mu = row.reduce((a, b) => a + b) / S;
      m += mu / N;
      v += row.reduce((a, b) => a + (b - mu) ** 2, 0) / (S - 1) / N;
    }
    assert.ok(Math.abs(runningMean![c] - (0.75 * rm[c] + 0.25 * m)) < 1e-14);
    assert.ok(Math.abs(runningVar![c] - (0.75 * rv[c] + 0.25 * v)) < 1e-14);
  }
  assert.equal(ref.runningStatsFactor(null, 0), 1);
  assert.equal(ref.runningStatsFactor(null, 3), 0.25);
  assert.equal(ref.runningStatsFactor(0.1, 3), 0.1);
});
