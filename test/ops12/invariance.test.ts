/**
 * Batch invariance of issue #12's ops, per backend: a row (or a sample) computed alone is bitwise
 * the same as inside any batch, whatever the other rows hold (NaN, huge values), forward and
 * backward, for every storage dtype; two identical calls give identical bits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { eachBackend, rng } from "../helpers.js";

const bitsOf = (a: nk.AnyTensor) => [...new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)];
/** rows [lo, hi) of a [rows, ...] tensor as a tensor of its own (a copy). */
function rowsOf(a: nk.AnyTensor, lo: number, hi: number): nk.AnyTensor {
  const per = a.data.length / a.shape[0]!;
  const data = a.data.slice(lo * per, hi * per);
  return a.dtype === undefined || a.dtype === "float32" ? { shape: [hi - lo, ...a.shape.slice(1)], data: data as Float32Array } : { shape: [hi - lo, ...a.shape.slice(1)], data: data as Uint16Array, dtype: a.dtype };
}
const sliceBits = (a: nk.AnyTensor, lo: number, hi: number) => bitsOf(rowsOf(a, lo, hi));

eachBackend((backend) => {
  for (const dtype of ["float32", "float16", "bfloat16"] as const) {
    for (const rms of [false, true]) {
      const op = rms ? "addRmsNorm" : "addLayerNorm";
      test(`[${backend}] ${op} ${dtype}: a row alone = the same row in a batch (bitwise), y, h, dx, dinputBias-free; next to NaN/huge rows`, () => {
        nk.setBackend(backend);
        const fwd = rms ? nk.addRmsNorm : nk.addLayerNorm;
        const bwd = rms ? nk.addRmsNormBackward : nk.addLayerNormBackward;
        const r = rng(rms ? 41 : 42);
        for (const D of [3, 16, 100, 769]) {
          const rows = 7;
          const c = (t: nk.Tensor) => nk.cast(t, dtype);
          const x = c(r.tensor([rows, D], 2, 1)), res = c(r.tensor([rows, D])), dy = c(r.tensor([rows, D])), dh = c(r.tensor([rows, D]));
          const o = { weight: c(r.tensor([D], 0.5, 1)), bias: c(r.tensor([D])), inputBias: r.tensor([D], 0.1), weightOffset: 1, castingMode: "llama" as const };
          const all = fwd(x, res, D, o);
          const gAll = bwd(dy, all.h, D, { ...o, dh });
          assert.deepEqual(bitsOf(fwd(x, res, D, o).y), bitsOf(all.y), "deterministic");
          for (const [lo, hi] of [[0, 1], [3, 5], [6, 7], [0, 7]]) {
            const one = fwd(rowsOf(x, lo, hi), rowsOf(res, lo, hi), D, o);
            assert.deepEqual(bitsOf(one.y), sliceBits(all.y, lo, hi), `y rows ${lo}..${hi} D=${D}`);
            assert.deepEqual(bitsOf(one.h), sliceBits(all.h, lo, hi), `h rows ${lo}..${hi} D=${D}`);
            const g = bwd(rowsOf(dy, lo, hi), one.h, D, { ...o, dh: rowsOf(dh, lo, hi) });
            assert.deepEqual(bitsOf(g.dx), sliceBits(gAll.dx, lo, hi), `dx rows ${lo}..${hi} D=${D}`);
          }
          // other rows holding NaN and huge values change nothing in row 0
          const hostile = nk.cast(nk.tensor(Float32Array.from({ length: rows * D }, (_, i) => (i < D ? NaN : 3e4 * (i % 3))), [rows, D]), dtype);
          const mixed = { ...x, data: x.data.slice() } as nk.AnyTensor;
          (mixed.data as Float32Array).set((hostile.data as Float32Array).subarray(D), D);
          const yMixed = fwd(mixed, res, D, o).y;
          assert.deepEqual(sliceBits(yMixed, 0, 1), sliceBits(all.y, 0, 1), `row 0 next to hostile rows, D=${D}`);
        }
      });
    }

    test(`[${backend}] layerNorm/rmsNorm ${dtype} with castingMode none/llama and weightOffset: rows alone = rows in a batch`, () => {
      nk.setBackend(backend);
      const r = rng(43);
      for (const D of [5, 64, 300]) {
        const rows = 6;
        const x = nk.cast(r.tensor([rows, D], 3, -1), dtype), dy = nk.cast(r.tensor([rows, D]), dtype);
        for (const castingMode of ["none", "llama", "gemma"] as const) {
          const o = { weight: nk.cast(r.tensor([D], 0.3), "bfloat16"), weightOffset: 1, castingMode };
          for (const [f, b] of [[nk.layerNorm, nk.layerNormBackward], [nk.rmsNorm, nk.rmsNormBackward]] as const) {
            const y = f(x, D, o), g = b(dy, x, D, o);
            for (const [lo, hi] of [[0, 1], [2, 6]]) {
              assert.deepEqual(bitsOf(f(rowsOf(x, lo, hi), D, o)), sliceBits(y, lo, hi), `${castingMode} y ${lo}..${hi}`);
              assert.deepEqual(bitsOf(b(rowsOf(dy, lo, hi), rowsOf(x, lo, hi), D, o).dx), sliceBits(g.dx, lo, hi), `${castingMode} dx ${lo}..${hi}`);
            }
          }
        }
      }
    });

    test(`[${backend}] groupNorm channels-last + SiLU and instanceNorm ${dtype}: a sample alone = the same sample in a batch`, () => {
      nk.setBackend(backend);
      const r = rng(44);
      const N = 4;
      for (const [shape, G] of [[[N, 5, 3, 8], 4], [[N, 7, 6], 2]] as const) {
        const x = nk.cast(r.tensor([...shape], 2, 0.5), dtype), dy = nk.cast(r.tensor([...shape]), dtype);
        const C = shape[shape.length - 1]!;
        const o = { weight: r.tensor([C], 0.5, 1), bias: r.tensor([C]), channelsLast: true, activation: "silu" as const };
        const y = nk.groupNorm(x, G, o), g = nk.groupNormBackward(dy, x, G, o);
        const Ci = shape[1]!;
        const io = { weight: r.tensor([Ci], 0.5, 1), bias: r.tensor([Ci]) };
        const yi = nk.instanceNorm(x, io), gi = nk.instanceNormBackward(dy, x, io);
        for (let n = 0; n < N; n++) {
          const xs = rowsOf(x, n, n + 1), dys = rowsOf(dy, n, n + 1);
          assert.deepEqual(bitsOf(nk.groupNorm(xs, G, o)), sliceBits(y, n, n + 1), `groupNorm y sample ${n}`);
          assert.deepEqual(bitsOf(nk.groupNormBackward(dys, xs, G, o).dx), sliceBits(g.dx, n, n + 1), `groupNorm dx sample ${n}`);
          assert.deepEqual(bitsOf(nk.instanceNorm(xs, io)), sliceBits(yi, n, n + 1), `instanceNorm y sample ${n}`);
          assert.deepEqual(bitsOf(nk.instanceNormBackward(dys, xs, io).dx), sliceBits(gi.dx, n, n + 1), `instanceNorm dx sample ${n}`);
        }
      }
    });
  }
});
