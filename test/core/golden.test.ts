/** Every golden case computed by PyTorch passes through the public API, on every backend. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { assertClose, eachBackend, f32, f64, FIXTURES, loadCases, type GoldenCase } from "../helpers.js";

// the shared case file (copied unchanged) plus any more the same generator wrote with other seeds
const dir = dirname(FIXTURES);
const files = readdirSync(dir).filter((f) => /^normalization-cases.*\.json$/.test(f)).sort();
const cases = files.flatMap((f) => loadCases(join(dir, f)).map((c) => ({ ...c, name: `${c.name} (${f})` })));

/** Runs one case through the public API; returns outputs by name (y, dx, dweight, dbias, running stats). */
export function runCase(c: GoldenCase): Record<string, Float32Array> {
  const x = f32(c.x);
  const dy = f32(c.dy);
  const weight = c.weight ? f32(c.weight) : undefined;
  const bias = c.bias ? f32(c.bias) : undefined;
  const eps = c.eps ?? undefined;
  const res: Record<string, Float32Array> = {};
  const grads = (g: nk.Grads) => {
    res.dx = g.dx.data;
    if (g.dweight) res.dweight = g.dweight.data;
    if (g.dbias) res.dbias = g.dbias.data;
  };
  switch (c.op) {
    case "layerNorm":
    case "rmsNorm": {
      const [fwd, bwd] = c.op === "layerNorm" ? [nk.layerNorm, nk.layerNormBackward] : [nk.rmsNorm, nk.rmsNormBackward];
      res.y = fwd(x, c.normalizedShape!, { weight, bias, eps }).data;
      grads(bwd(dy, x, c.normalizedShape!, { weight, bias, eps }));
      break;
    }
    case "groupNorm":
      res.y = nk.groupNorm(x, c.numGroups!, { weight, bias, eps }).data;
      grads(nk.groupNormBackward(dy, x, c.numGroups!, { weight, bias, eps }));
      break;
    case "batchNorm": {
      const rm = c.runningMean ? f32(c.runningMean) : undefined;
      const rv = c.runningVar ? f32(c.runningVar) : undefined;
      const opts = (m?: typeof rm, v?: typeof rv) => ({ weight, bias, eps, training: c.training, momentum: c.momentum, runningMean: m, runningVar: v });
      // backward gets the running statistics as they were before the forward call
      grads(nk.batchNormBackward(dy, x, opts(rm && f32(c.runningMean!), rv && f32(c.runningVar!))));
      res.y = nk.batchNorm(x, opts(rm, rv)).data;
      if (rm) res.runningMean = rm.data;
      if (rv) res.runningVar = rv.data;
      break;
    }
  }
  return res;
}

test("golden cases are present and cover every op", () => {
  assert.ok(cases.length >= 20);
  for (const op of ["layerNorm", "rmsNorm", "batchNorm", "groupNorm"]) assert.ok(cases.some((c) => c.op === op), op);
});

eachBackend((backend) => {
  for (const c of cases) {
    test(`[${backend}] golden ${c.op} ${c.name}`, () => {
      nk.setBackend(backend);
      const got = runCase(c);
      for (const [k, enc] of Object.entries(c.expected)) {
        assert.ok(got[k], `${k} missing from the result`);
        assertClose(got[k], f64(enc), c.tolerance[k], `${c.name}.${k}`);
      }
      for (const k of Object.keys(got)) assert.ok(k in c.expected, `unexpected output ${k}`);
    });
  }
});
