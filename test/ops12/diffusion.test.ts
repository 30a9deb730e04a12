/**
 * GroupNorm + SiLU, channels last, at Stable Diffusion's U-Net shapes with 32 groups, on every
 * backend: [2, 64, 64, 320] in float16 and [1, 128, 128, 512] in float32, forward and backward, one
 * call each. Checked against the float64 reference on a few (sample, group) pairs: a group's
 * outputs depend on its own values only, so each pair's reference is GroupNorm of its values
 * alone ([1, S, C/G], one group), which keeps the check fast.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { reference as ref } from "../../src/index.js";
import { roundToDType, f64ToF16Bits } from "../../src/dtype.js";
import { eachBackend, rng } from "../helpers.js";
import { valuesOf } from "./cases.js";

const G = 32;

/** A tensor of uniform values in [offset − width/2, offset + width/2) (xorshift32). */
function uniform(shape: number[], seed: number, width: number, offset: number): nk.Tensor {
  const d = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed | 1;
  for (let i = 0; i < d.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    d[i] = offset + width * ((s >>> 0) / 4294967296 - 0.5);
  }
  return { shape, data: d };
}

/** Values of channels [c0, c0 + Cg) of sample n of a channels-last [N, S, C] array, as [S, Cg]. */
function groupValues(v: ArrayLike<number>, n: number, S: number, C: number, c0: number, Cg: number): Float64Array {
  const out = new Float64Array(S * Cg);
  for (let s = 0; s < S; s++) for (let c = 0; c < Cg; c++) out[s * Cg + c] = v[(n * S + s) * C + c0 + c]!;
  return out;
}

const ulpKey = (v: number) => {
  const b = f64ToF16Bits(v);
  return b & 0x8000 ? -(b & 0x7fff) : b;
};

/** got within tol·scale of want (float32), or within 1 float16 ulp of want rounded (float16); returns the worst miss or null. */
function check(got: ArrayLike<number>, want: ArrayLike<number>, half: boolean, tol: number, what: string): string | null {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Math.abs(g - w) <= tol * scale) continue;
    if (half && Math.abs(ulpKey(g) - ulpKey(roundToDType(w, "float16"))) <= 1) continue;
    return `${what}[${i}]: got ${g}, want ${w} (scale ${scale})`;
  }
  return null;
}

eachBackend((backend) => {
  for (const [shape, dtype] of [[[2, 64, 64, 320], "float16"], [[1, 128, 128, 512], "float32"]] as const) {
    test(`[${backend}] diffusion GroupNorm + SiLU, channels last ${JSON.stringify(shape)} ${dtype}, 32 groups: forward and backward against the reference`, () => {
      nk.setBackend(backend);
      const [N, H, W, C] = shape;
      const S = H * W, Cg = C / G;
      const r = rng(320 + C);
      // uniform values from a cheap generator (millions of normals would take seconds)
      const xf = uniform([...shape], 320 + C, 3, 0.2), dyf = uniform([...shape], 321 + C, 2, 0);
      const x = nk.cast(xf, dtype), dy = nk.cast(dyf, dtype);
      const weight = r.tensor([C], 0.5, 1), bias = r.tensor([C], 0.3);
      const o = { weight, bias, channelsLast: true, activation: "silu" as const };
      const { y, mean, rstd } = nk.groupNormForward(x, G, o);
      const g = nk.groupNormBackward(dy, x, G, { ...o, mean, rstd });
      assert.equal(y.dtype ?? "float32", dtype);
      assert.deepEqual(mean.shape, [N, G]);
      const yv = valuesOf(y).values, dxv = valuesOf(g.dx).values;
      const xv = valuesOf(x).values, dyv = valuesOf(dy).values;
      const half = dtype === "float16";
      // a few groups: the first, the last, one in between; dweight/dbias of a group's channels sum over the samples
      for (const gi of [0, 13, G - 1]) {
        const c0 = gi * Cg;
        const w = weight.data.subarray(c0, c0 + Cg), b = bias.data.subarray(c0, c0 + Cg);
        const dw = new Float64Array(Cg), db = new Float64Array(Cg);
        for (let n = 0; n < N; n++) {
          const xs = groupValues(xv, n, S, C, c0, Cg), dys = groupValues(dyv, n, S, C, c0, Cg);
          const ro = { weight: w, bias: b, eps: 1e-5, channelsLast: true, activation: "silu" as const };
          const yRef = ref.groupNormModeRef(xs, 1, Cg, S, 1, ro);
          const gRef = ref.groupNormModeBackwardRef(dys, xs, 1, Cg, S, 1, ro);
          const e1 = check(groupValues(yv, n, S, C, c0, Cg), yRef, half, 2e-6, `y n=${n} g=${gi}`);
          const e2 = check(groupValues(dxv, n, S, C, c0, Cg), gRef.dx, half, 2e-6, `dx n=${n} g=${gi}`);
          if (e1 !== null) assert.fail(e1);
          if (e2 !== null) assert.fail(e2);
          for (let c = 0; c < Cg; c++) {
            dw[c] += gRef.dweight![c]!;
            db[c] += gRef.dbias![c]!;
          }
        }
        const e3 = check(g.dweight!.data.subarray(c0, c0 + Cg), dw, false, 1e-5, `dweight g=${gi}`);
        const e4 = check(g.dbias!.data.subarray(c0, c0 + Cg), db, false, 1e-5, `dbias g=${gi}`);
        if (e3 !== null) assert.fail(e3);
        if (e4 !== null) assert.fail(e4);
      }
    });
  }
});
