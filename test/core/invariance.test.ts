/**
 * Batch invariance and determinism, per backend: a row's result is bitwise the same computed alone
 * or inside any batch, whatever the other rows hold, and two identical calls give identical bits.
 */
import { test } from "node:test";
import * as nk from "../../src/index.js";
import { assertBitwise, eachBackend, rng } from "../helpers.js";

eachBackend((backend) => {
  for (const op of ["layerNorm", "rmsNorm"] as const) {
    test(`[${backend}] ${op}: a row alone = the same row inside any batch (bitwise), forward and dx`, () => {
      nk.setBackend(backend);
      const [fwd, bwd] = op === "layerNorm" ? [nk.layerNorm, nk.layerNormBackward] : [nk.rmsNorm, nk.rmsNormBackward];
      const r = rng(3);
      for (const D of [1, 3, 4, 7, 64, 100, 769]) {
        const rows = 9;
        const x = r.tensor([rows, D], 2, 1);
        const dy = r.tensor([rows, D]);
        const weight = r.tensor([D], 0.5, 1);
        const bias = r.tensor([D]);
        const opts = { weight, bias };
        const yAll = fwd(x, [D], opts).data;
        const dxAll = bwd(dy, x, [D], opts).dx.data;
        // twice: deterministic
        assertBitwise(fwd(x, [D], opts).data, yAll, `${op} repeat D=${D}`);
        for (const lo of [0, 4, 8]) {
          for (const hi of [lo + 1, rows]) {
            if (hi <= lo) continue;
            const xs = nk.tensor(x.data.slice(lo * D, hi * D), [hi - lo, D]);
            const dys = nk.tensor(dy.data.slice(lo * D, hi * D), [hi - lo, D]);
            assertBitwise(fwd(xs, [D], opts).data, yAll.subarray(lo * D, hi * D), `${op} y rows ${lo}..${hi} D=${D}`);
            assertBitwise(bwd(dys, xs, [D], opts).dx.data, dxAll.subarray(lo * D, hi * D), `${op} dx rows ${lo}..${hi} D=${D}`);
          }
        }
        // other rows' contents (here: NaN and huge rows) don't change row 0
        const hostile = x.data.slice();
        hostile.fill(NaN, D, 2 * D);
        hostile.fill(1e30, 2 * D, 3 * D);
        const yH = fwd(nk.tensor(hostile, [rows, D]), [D], opts).data;
        assertBitwise(yH.subarray(0, D), yAll.subarray(0, D), `${op} row 0 next to NaN rows, D=${D}`);
        assertBitwise(yH.subarray(3 * D), yAll.subarray(3 * D), `${op} rows 3.. next to NaN rows, D=${D}`);
      }
    });
  }

  test(`[${backend}] groupNorm: a sample alone = the same sample inside a batch (bitwise)`, () => {
    nk.setBackend(backend);
    const r = rng(5);
    const x = r.tensor([5, 6, 10]);
    const w = r.tensor([6], 0.5, 1), b = r.tensor([6]);
    const all = nk.groupNorm(x, 3, { weight: w, bias: b }).data;
    for (let n = 0; n < 5; n++) {
      const one = nk.groupNorm(nk.tensor(x.data.slice(n * 60, (n + 1) * 60), [1, 6, 10]), 3, { weight: w, bias: b }).data;
      assertBitwise(one, all.subarray(n * 60, (n + 1) * 60), `sample ${n}`);
    }
  });
});
