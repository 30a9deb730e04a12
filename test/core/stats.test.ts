/**
 * The autograd-style API: `layerNormForward`/`rmsNormForward` return the row statistics, and the
 * backward ops take them back (`mean`/`rstd`), write dx into `out` and add the parameter
 * gradients `into` caller buffers. Checked per backend and on the pool: the statistics are the
 * reference's, and every variant gives the bits of the plain call.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { NormError } from "../../src/index.js";
import { assertBitwise, assertClose, eachBackend, rng } from "../helpers.js";

const r = rng(41);

/** x of shape [2, 3, 40] (6 rows of 40), its dy and affine parameters. */
function problem(seed: number) {
  const q = rng(seed);
  return { x: q.tensor([2, 3, 40], 3, 1), dy: q.tensor([2, 3, 40]), weight: q.tensor([40], 0.5, 1), bias: q.tensor([40]) };
}

/** float64 row statistics, two-pass: mean (0 for RMSNorm), rstd = 1/√(Σ(x − mean)²/D + ε). */
function statsRef(x: Float32Array, D: number, rms: boolean, eps: number) {
  const rows = x.length / D, mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const row = Array.from(x.subarray(i * D, (i + 1) * D));
    mean[i] = rms ? 0 : row.reduce((p, v) => p + v, 0) / D;
    rstd[i] = 1 / Math.sqrt(row.reduce((p, v) => p + (v - mean[i]) ** 2, 0) / D + eps);
  }
  return { mean, rstd };
}

eachBackend((backend) => {
  for (const rms of [false, true]) {
    const op = rms ? "rmsNorm" : "layerNorm";
    test(`[${backend}] ${op}Forward: y = ${op}'s bits; mean/rstd of shape x's leading dims = the reference`, () => {
      nk.setBackend(backend);
      const { x, weight, bias } = problem(1);
      const f = rms ? nk.rmsNormForward(x, 40, { weight }) : nk.layerNormForward(x, 40, { weight, bias });
      assertBitwise(f.y.data, (rms ? nk.rmsNorm(x, 40, { weight }) : nk.layerNorm(x, 40, { weight, bias })).data, "y");
      assert.deepEqual(f.rstd.shape, [2, 3]);
      const ref = statsRef(x.data, 40, rms, rms ? nk.RMS_NORM_EPS : nk.LAYER_NORM_EPS);
      assertClose(f.rstd.data, ref.rstd, 1e-5, "rstd");
      if (!rms) {
        const m = (f as unknown as { mean: nk.Tensor }).mean;
        assert.deepEqual(m.shape, [2, 3]);
        assertClose(m.data, ref.mean, 1e-5, "mean");
      }
      // one row: the statistics are a scalar tensor
      const one = nk.tensor(x.data.slice(0, 40), [40]);
      assert.deepEqual((rms ? nk.rmsNormForward(one, 40) : nk.layerNormForward(one, 40)).rstd.shape, []);
    });

    test(`[${backend}] ${op}Backward from saved statistics, into out, adding into grads = the plain call's bits`, () => {
      nk.setBackend(backend);
      const { x, dy, weight, bias } = problem(2);
      const opts = rms ? { weight } : { weight, bias };
      const plain = rms ? nk.rmsNormBackward(dy, x, 40, opts) : nk.layerNormBackward(dy, x, 40, opts);
      const f = rms ? nk.rmsNormForward(x, 40, opts) : nk.layerNormForward(x, 40, opts);
      const stats = rms ? { rstd: f.rstd } : { mean: (f as unknown as { mean: nk.Tensor }).mean, rstd: f.rstd };
      const out = nk.tensor(new Float32Array(x.data.length).fill(NaN), x.shape);
      const start = r.tensor([40]);
      const into = { dweight: nk.tensor(start.data.slice(), [40]), dbias: rms ? null : nk.tensor(start.data.slice(), [40]) };
      const before = [x, dy, weight, bias, f.rstd].map((t) => t.data.slice());
      const g = rms
        ? nk.rmsNormBackward(dy, x, 40, { ...opts, ...stats, out, into })
        : nk.layerNormBackward(dy, x, 40, { ...opts, ...stats, out, into });
      assert.equal(g.dx.data, out.data, "dx is a tensor over out's data");
      assertBitwise(out.data, plain.dx.data, "dx");
      assert.equal(g.dweight!.data, into.dweight.data, "dweight is into.dweight");
      // added into (the backend may add its float64 sum before rounding: not bitwise start + fresh)
      assertClose(into.dweight.data, start.data.map((v, i) => v + plain.dweight!.data[i]), 1e-6, "dweight += ");
      if (!rms) assertClose(into.dbias!.data, start.data.map((v, i) => v + plain.dbias!.data[i]), 1e-6, "dbias += ");
      [x, dy, weight, bias, f.rstd].forEach((t, i) => assertBitwise(t.data, before[i], "inputs unchanged"));
      // saved statistics alone (fresh outputs) give the same bits too
      const s = rms ? nk.rmsNormBackward(dy, x, 40, { ...opts, ...stats }) : nk.layerNormBackward(dy, x, 40, { ...opts, ...stats });
      assertBitwise(s.dx.data, plain.dx.data, "dx from saved statistics");
      assertBitwise(s.dweight!.data, plain.dweight!.data, "dweight from saved statistics");
    });
  }
});

test("saved statistics, out and into: misuse is a NormError naming the argument; inputs stay unchanged", () => {
  const { x, dy, weight, bias } = problem(3);
  const { mean, rstd } = nk.layerNormForward(x, 40, { weight, bias });
  const bad = (fn: () => unknown, code: string, argument: string, mentions: string) => {
    const e = (() => { try { fn(); } catch (err) { return err; } })();
    assert.ok(e instanceof NormError, `expected a NormError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.argument, argument, e.message);
    assert.ok(e.message.includes(mentions), e.message);
  };
  const before = [x, dy, weight, bias, mean, rstd].map((t) => t.data.slice());
  bad(() => nk.layerNormBackward(dy, x, 40, { rstd }), "BAD_ARGUMENT", "mean", "layerNormForward returns both");
  bad(() => nk.layerNormBackward(dy, x, 40, { mean }), "BAD_ARGUMENT", "rstd", "layerNormForward returns both");
  bad(() => nk.rmsNormBackward(dy, x, 40, { mean, rstd }), "BAD_ARGUMENT", "mean", "RMSNorm subtracts none");
  bad(() => nk.layerNormBackward(dy, x, 40, { mean, rstd: nk.tensor(rstd.data, [6]) }), "BAD_PARAM_SHAPE", "rstd", "expected shape [2, 3]");
  bad(() => nk.layerNormBackward(dy, x, 40, { mean: [1, 2] as unknown as nk.Tensor, rstd }), "BAD_SHAPE", "mean.shape", "");
  bad(() => nk.layerNormBackward(dy, x, 40, { into: { dweight: r.tensor([40]) } }), "BAD_ARGUMENT", "into.dweight", "no weight was given");
  bad(() => nk.layerNormBackward(dy, x, 40, { weight, into: { dweight: r.tensor([41]) } }), "BAD_PARAM_SHAPE", "into.dweight", "[40]");
  bad(() => nk.layerNormBackward(dy, x, 40, { weight, into: { dweight: weight } }), "BAD_ARGUMENT", "into.dweight", "overlapping weight");
  bad(() => nk.layerNormBackward(dy, x, 40, { weight, into: 3 as unknown as { dweight: null } }), "BAD_ARGUMENT", "into", "options object");
  bad(() => nk.layerNormBackward(dy, x, 40, { out: r.tensor([6, 40]) }), "SHAPE_MISMATCH", "out", "[2, 3, 40]");
  bad(() => nk.layerNormBackward(dy, x, 40, { out: dy }), "BAD_ARGUMENT", "out", "overlapping dy");
  const buf = new ArrayBuffer(4 * (240 + 40));
  const tail = nk.tensor(new Float32Array(buf, 240 * 4, 40), [40]);
  bad(() => nk.layerNormBackward(dy, x, 40, { weight, out: nk.tensor(new Float32Array(buf, 4, 240), [2, 3, 40]), into: { dweight: tail } }),
    "BAD_ARGUMENT", "into.dweight", "overlapping out");
  [x, dy, weight, bias, mean, rstd].forEach((t, i) => assertBitwise(t.data, before[i], "inputs unchanged"));
});

test("pool: layerNormForward/rmsNormForward statistics and backward with saved statistics, shared out and into = the synchronous bits", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const q = rng(5);
    const x = nk.sharedTensor([300, 96], q.tensor([300, 96], 3, 1).data), dy = nk.sharedTensor([300, 96], q.tensor([300, 96]).data);
    const weight = q.tensor([96], 0.5, 1), bias = q.tensor([96]);
    for (const rms of [false, true]) {
      const opts = rms ? { weight } : { weight, bias };
      const sf = rms ? nk.rmsNormForward(x, 96, opts) : nk.layerNormForward(x, 96, opts);
      const pf = rms ? await pool.rmsNormForward(x, 96, opts) : await pool.layerNormForward(x, 96, opts);
      assertBitwise(pf.y.data, sf.y.data, "y");
      assertBitwise(pf.rstd.data, sf.rstd.data, "rstd");
      assert.deepEqual(pf.rstd.shape, [300]);
      if (!rms) assertBitwise((pf as unknown as { mean: nk.Tensor }).mean.data, (sf as unknown as { mean: nk.Tensor }).mean.data, "mean");
      const stats = rms ? { rstd: pf.rstd } : { mean: (pf as unknown as { mean: nk.Tensor }).mean, rstd: pf.rstd };
      const recomputed = rms ? await pool.rmsNormBackward(dy, x, 96, opts) : await pool.layerNormBackward(dy, x, 96, opts);
      for (const out of [nk.sharedTensor([300, 96]), nk.tensor(new Float32Array(300 * 96), [300, 96])]) {
        const into = { dweight: nk.tensor(new Float32Array(96).fill(1), [96]) };
        const g = rms
          ? await pool.rmsNormBackward(dy, x, 96, { ...opts, ...stats, out, into })
          : await pool.layerNormBackward(dy, x, 96, { ...opts, ...stats, out, into });
        assert.equal(g.dx.data, out.data);
        assertBitwise(out.data, recomputed.dx.data, "pool dx from saved statistics");
        assertClose(into.dweight.data, recomputed.dweight!.data.map((v) => 1 + v), 1e-5, "pool dweight += ");
        if (!rms) assertBitwise(g.dbias!.data, recomputed.dbias!.data, "pool dbias (fresh)");
      }
      const sync = rms ? nk.rmsNormBackward(dy, x, 96, opts) : nk.layerNormBackward(dy, x, 96, opts);
      assertBitwise(recomputed.dx.data, sync.dx.data, "pool dx = sync dx");
    }
  } finally {
    await pool.close();
  }
});
