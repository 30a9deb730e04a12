/**
 * lab/train/math.ts: the portable exp, expm1, log, sin, cos, tanh and powInt the lab trains with, so
 * that `npm start` and the web lab (another JavaScript engine) give bitwise the same losses. Checked
 * against the engine's Math.* in ulps over wide random and edge-case arguments, with special values
 * exact. (The cross-engine equality itself is tested end to end in test/lab/web.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cos, exp, expm1, log, powInt, sin, tanh } from "../../lab/train/math.js";

const bits = new BigInt64Array(1);
const f64 = new Float64Array(bits.buffer);
/** Distance in units in the last place between two finite doubles of the same sign. */
function ulps(a: number, b: number): number {
  if (Object.is(a, b)) return 0;
  f64[0] = a;
  const ia = bits[0];
  f64[0] = b;
  const ib = bits[0];
  if (a === 0 || b === 0 || Math.sign(a) !== Math.sign(b)) return a === b ? 0 : Infinity;
  return Number(ia > ib ? ia - ib : ib - ia);
}

/** xorshift32 in [0, 1), deterministic */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function worst(f: (x: number) => number, ref: (x: number) => number, gen: () => number, n: number): { ulp: number; at: number } {
  let w = { ulp: 0, at: NaN };
  for (let i = 0; i < n; i++) {
    const x = gen();
    const u = ulps(f(x), ref(x));
    if (u > w.ulp) w = { ulp: u, at: x };
  }
  return w;
}

test("exp: within 1 ulp of Math.exp from −745 to 709, exact at the edges", () => {
  const r = rng(1);
  for (const [lo, hi] of [[-745, 709.7], [-20, 20], [-0.35, 0.35], [-1e-6, 1e-6]]) {
    const w = worst(exp, Math.exp, () => lo + (hi - lo) * r(), 100_000);
    assert.ok(w.ulp <= 1, `exp on [${lo}, ${hi}]: ${w.ulp} ulp at ${w.at}`);
  }
  assert.equal(exp(0), 1);
  assert.equal(exp(-0), 1);
  assert.equal(exp(Infinity), Infinity);
  assert.equal(exp(-Infinity), 0);
  assert.ok(Number.isNaN(exp(NaN)));
  assert.equal(exp(710), Infinity);
  assert.equal(exp(-746), 0);
  assert.equal(exp(709.78), Math.exp(709.78));
  assert.ok(exp(-740) > 0 && ulps(exp(-740), Math.exp(-740)) <= 1, "subnormal results");
  assert.ok(ulps(exp(1), Math.E) <= 1);
});

test("log: within 1 ulp of Math.log over the whole positive range, exact special values", () => {
  const r = rng(2);
  const wide = worst(log, Math.log, () => 2 ** (2098 * r() - 1074) * (1 + r()), 100_000);
  assert.ok(wide.ulp <= 1, `log, wide: ${wide.ulp} ulp at ${wide.at}`);
  const near1 = worst(log, Math.log, () => 1 + (r() - 0.5) * 1e-3, 100_000);
  assert.ok(near1.ulp <= 1, `log near 1: ${near1.ulp} ulp at ${near1.at}`);
  const mid = worst(log, Math.log, () => 1e-3 + 1e3 * r(), 100_000);
  assert.ok(mid.ulp <= 1, `log on [1e-3, 1e3]: ${mid.ulp} ulp at ${mid.at}`);
  assert.equal(log(1), 0);
  assert.equal(log(0), -Infinity);
  assert.equal(log(-0), -Infinity);
  assert.ok(Number.isNaN(log(-1)) && Number.isNaN(log(NaN)) && Number.isNaN(log(-Infinity)));
  assert.equal(log(Infinity), Infinity);
  assert.equal(log(Math.E), 1);
  assert.equal(log(5e-324), Math.log(5e-324));
});

test("sin, cos: within 2 ulp of Math on the lab's angles (Box–Muller: [0, 2π)) and up to 10⁵", () => {
  const r = rng(3);
  for (const [lo, hi] of [[0, 2 * Math.PI], [-100, 100], [-1e5, 1e5]]) {
    for (const [name, f, ref] of [["sin", sin, Math.sin], ["cos", cos, Math.cos]] as const) {
      // near a zero of the function the relative error of any reduction grows; compare absolutely there
      let worstUlp = 0, worstAbs = 0;
      for (let i = 0; i < 100_000; i++) {
        const x = lo + (hi - lo) * r();
        const [a, b] = [f(x), ref(x)];
        if (Math.abs(b) > 1e-3) worstUlp = Math.max(worstUlp, ulps(a, b));
        worstAbs = Math.max(worstAbs, Math.abs(a - b));
      }
      assert.ok(worstUlp <= 2, `${name} on [${lo}, ${hi}]: ${worstUlp} ulp`);
      assert.ok(worstAbs <= 1e-15 * Math.max(1, hi / 1e3), `${name} on [${lo}, ${hi}]: |error| ${worstAbs}`);
    }
  }
  assert.equal(sin(0), 0);
  assert.ok(Object.is(sin(-0), -0));
  assert.equal(cos(0), 1);
  assert.ok(Number.isNaN(sin(NaN)) && Number.isNaN(cos(Infinity)));
});

test("tanh and expm1: within 4 ulp of Math, odd, exactly ±1 far out", () => {
  const r = rng(4);
  for (const [lo, hi] of [[-25, 25], [-1, 1], [-1e-3, 1e-3]]) {
    const w = worst(tanh, Math.tanh, () => lo + (hi - lo) * r(), 100_000);
    assert.ok(w.ulp <= 4, `tanh on [${lo}, ${hi}]: ${w.ulp} ulp at ${w.at}`);
    const e = worst(expm1, Math.expm1, () => lo + (hi - lo) * r(), 100_000);
    assert.ok(e.ulp <= 4, `expm1 on [${lo}, ${hi}]: ${e.ulp} ulp at ${e.at}`);
  }
  for (const x of [0.3, 2, 7.5]) assert.equal(tanh(-x), -tanh(x));
  assert.equal(tanh(30), 1);
  assert.equal(tanh(-Infinity), -1);
  assert.ok(Object.is(tanh(-0), -0));
  assert.ok(Number.isNaN(tanh(NaN)));
});

test("powInt: Adam's β^t within 2 ulp of Math.pow, exact for powers of two, rejects non-integers", () => {
  for (const b of [0.9, 0.95, 0.999]) {
    // powInt is within 1 ulp of the exact value, and so is Math.pow
    for (let t = 0; t <= 5000; t++) assert.ok(ulps(powInt(b, t), Math.pow(b, t)) <= 2, `${b}^${t}: ${powInt(b, t)} vs ${Math.pow(b, t)}`);
  }
  assert.equal(powInt(2, 10), 1024);
  assert.equal(powInt(0.5, 1074), 5e-324);
  assert.equal(powInt(7, 0), 1);
  assert.throws(() => powInt(2, 1.5), /non-negative integer/);
  assert.throws(() => powInt(2, -1), /non-negative integer/);
});
