/**
 * Finite-difference gradient checks in float64 for every op's reference backward: the loss is
 * L = Σ dy·y, so ∂L/∂p ≈ (L(p + h) − L(p − h)) / 2h. The fast kernels are then checked against this
 * reference elsewhere (golden, property tests), which closes the loop.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reference as ref } from "../../src/index.js";
import { rng } from "../helpers.js";

const H = 1e-6;

function dot(a: ArrayLike<number>, b: ArrayLike<number>) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Numerical gradient of loss(p) with respect to every entry of p (p is perturbed in place, then restored). */
function numgrad(p: Float64Array, loss: () => number): Float64Array {
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    p[i] = v + H;
    const lp = loss();
    p[i] = v - H;
    const lm = loss();
    p[i] = v;
    g[i] = (lp - lm) / (2 * H);
  }
  return g;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-6 * Math.max(1, Math.abs(want[i]));
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: analytic ${got[i]} vs numeric ${want[i]}`);
  }
}

const r = rng(7);
const vec = (n: number, scale = 1, offset = 0) => Float64Array.from(r.tensor([n], scale, offset).data);

for (const rms of [false, true]) {
  for (const affine of [false, true]) {
    test(`gradcheck ${rms ? "rmsNorm" : "layerNorm"} affine=${affine}`, () => {
      const rows = 3, D = 7, eps = 1e-5;
      const x = vec(rows * D, 2, 0.5), dy = vec(rows * D);
      const w = affine ? vec(D, 1, 1) : null, b = affine ? vec(D) : null;
      const loss = () => dot(dy, ref.rowNormRef(rms, x, rows, D, w, b, eps));
      const g = ref.rowNormBackwardRef(rms, dy, x, rows, D, w, b, eps);
      close(g.dx, numgrad(x, loss), "dx");
      if (w && b) {
        close(g.dweight!, numgrad(w, loss), "dweight");
        close(g.dbias!, numgrad(b, loss), "dbias");
      }
    });
  }
}

test("gradcheck groupNorm", () => {
  const N = 2, C = 6, S = 5, G = 3, eps = 1e-5;
  const x = vec(N * C * S, 1.5, -0.3), dy = vec(N * C * S), w = vec(C, 1, 1), b = vec(C);
  const loss = () => dot(dy, ref.groupNormRef(x, N, C, S, G, w, b, eps));
  const g = ref.groupNormBackwardRef(dy, x, N, C, S, G, w, b, eps);
  close(g.dx, numgrad(x, loss), "dx");
  close(g.dweight!, numgrad(w, loss), "dweight");
  close(g.dbias!, numgrad(b, loss), "dbias");
});

for (const training of [true, false]) {
  test(`gradcheck batchNorm training=${training}`, () => {
    const N = 4, C = 3, S = 5;
    const x = vec(N * C * S, 1.2, 0.4), dy = vec(N * C * S), w = vec(C, 1, 1), b = vec(C);
    const runningMean = vec(C, 0.3), runningVar = Float64Array.from(vec(C), (v) => Math.abs(v) + 0.5);
    const opts = () => ({ weight: w, bias: b, runningMean, runningVar, training, momentum: 0.1, eps: 1e-5 });
    const loss = () => dot(dy, ref.batchNormRef(x, N, C, S, opts()).y);
    const g = ref.batchNormBackwardRef(dy, x, N, C, S, opts());
    close(g.dx, numgrad(x, loss), "dx");
    close(g.dweight!, numgrad(w, loss), "dweight");
    close(g.dbias!, numgrad(b, loss), "dbias");
  });
}
