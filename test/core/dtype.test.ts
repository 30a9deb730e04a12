/**
 * src/dtype.ts: float32 ↔ float16/bfloat16 conversions. Every half pattern exhaustively; the
 * float32 → half rounding against torch's `.to()` (test/fixtures/dtype-cases.json, from
 * tools/gen_op_cases.py), against an independent float64 implementation at every tie and near-tie
 * of every half interval, and against the runtime's Float16Array where it has one (Chromium: see
 * dtype-browser.test.ts); the float64 → half rounding against exact rational arithmetic.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import {
  bf16BitsToF32, bf16BitsToF32Array, f16BitsToF32, f16BitsToF32Array, f32ToBf16Bits, f32ToBf16BitsArray, f32ToF16Bits,
  f32ToF16BitsArray, f64ToBf16Bits, f64ToF16Bits, roundToDType,
} from "../../src/dtype.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/dtype-cases.json", import.meta.url));
const fx = JSON.parse(readFileSync(FIXTURE, "utf8"));
const buf = (b64: string) => new Uint8Array(Buffer.from(b64, "base64")).buffer;

const ALL16 = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
const hex = (v: number) => "0x" + v.toString(16);

/** The float32 values whose bit patterns are every `hi` (high bits) with each of `lows` as its low `shift` bits. */
function patterns(shift: number, lows: number[]): Float32Array {
  const n = 2 ** (32 - shift);
  const out = new Float32Array(n * lows.length);
  const u = new Uint32Array(out.buffer);
  for (let j = 0; j < lows.length; j++) for (let hi = 0; hi < n; hi++) u[j * n + hi] = ((hi << shift) | lows[j]) >>> 0;
  return out;
}

test("float16: all 65,536 patterns decode exactly (scalar = array = sign·m·2^(e−25)) and round-trip", () => {
  const arr = f16BitsToF32Array(ALL16);
  const bits = new Uint32Array(arr.buffer);
  for (let h = 0; h < 65536; h++) {
    const e = (h >> 10) & 31, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
    const want = e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1024 + m) * 2 ** (e - 25);
    const v = f16BitsToF32(h);
    assert.ok(Object.is(v, want), `${hex(h)}: scalar ${v} ≠ ${want}`);
    if (isNaN16(h)) {
      // a NaN keeps sign and payload in float32 (bits 13..22), and comes back quiet (bit 9 set)
      assert.equal(bits[h], (((h & 0x8000) << 16) | 0x7f800000 | (m << 13)) >>> 0, `${hex(h)}: NaN payload`);
      assert.equal(f32ToF16Bits(arr[h]), h | 0x200, `${hex(h)}: NaN round trip`);
    } else {
      assert.ok(Object.is(arr[h], want), `${hex(h)}: array ${arr[h]} ≠ ${want}`);
      assert.equal(f32ToF16Bits(v), h, `${hex(h)}: round trip`);
      assert.equal(f64ToF16Bits(v), h, `${hex(h)}: float64 round trip`);
    }
  }
  const back = f32ToF16BitsArray(arr);
  for (let h = 0; h < 65536; h++) assert.equal(back[h], isNaN16(h) ? h | 0x200 : h, `${hex(h)}: array round trip`);
});

test("bfloat16: all 65,536 patterns are the top half of their float32 and round-trip", () => {
  const arr = bf16BitsToF32Array(ALL16);
  const bits = new Uint32Array(arr.buffer);
  for (let h = 0; h < 65536; h++) {
    assert.equal(bits[h], h * 65536, `${hex(h)}: array bits`);
    const v = bf16BitsToF32(h);
    assert.ok(Object.is(v, arr[h]) || (isNaNBf(h) && Number.isNaN(v)), `${hex(h)}: scalar ${v} ≠ ${arr[h]}`);
    assert.equal(f32ToBf16Bits(arr[h]), isNaNBf(h) ? h | 0x40 : h, `${hex(h)}: round trip`);
    if (!isNaNBf(h)) assert.equal(f64ToBf16Bits(v), h, `${hex(h)}: float64 round trip`);
  }
  const back = f32ToBf16BitsArray(arr);
  for (let h = 0; h < 65536; h++) assert.equal(back[h], isNaNBf(h) ? h | 0x40 : h, `${hex(h)}: array round trip`);
});

test("float32 → half matches torch's .to(float16/bfloat16): ties, 65504/65520, subnormal boundary, NaN quiet", () => {
  const x = new Float32Array(buf(fx.f32.u32));
  const t16 = new Uint16Array(buf(fx.torchFloat16.u16));
  const tbf = new Uint16Array(buf(fx.torchBfloat16.u16));
  assert.ok(x.length > 5000 && t16.length === x.length && tbf.length === x.length);
  const a16 = f32ToF16BitsArray(x), abf = f32ToBf16BitsArray(x);
  let nans = 0;
  for (let i = 0; i < x.length; i++) {
    const xb = hex(new Uint32Array(x.buffer)[i]);
    if (Number.isNaN(x[i])) {
      // torch drops the payload (and for bfloat16 the sign): compare NaN-ness and quietness only
      nans++;
      assert.ok(isNaN16(a16[i]) && a16[i] & 0x200 && isNaN16(t16[i]), `${xb}: float16 NaN ${hex(a16[i])}`);
      assert.ok(isNaNBf(abf[i]) && abf[i] & 0x40 && isNaNBf(tbf[i]), `${xb}: bfloat16 NaN ${hex(abf[i])}`);
      continue;
    }
    assert.equal(a16[i], t16[i], `${xb} (${x[i]}): float16 ${hex(a16[i])}, torch ${hex(t16[i])}`);
    assert.equal(f32ToF16Bits(x[i]), t16[i], `${xb}: scalar float16`);
    assert.equal(f64ToF16Bits(x[i]), t16[i], `${xb}: float64 → float16`);
    assert.equal(abf[i], tbf[i], `${xb} (${x[i]}): bfloat16 ${hex(abf[i])}, torch ${hex(tbf[i])}`);
    assert.equal(f32ToBf16Bits(x[i]), tbf[i], `${xb}: scalar bfloat16`);
    assert.equal(f64ToBf16Bits(x[i]), tbf[i], `${xb}: float64 → bfloat16`);
  }
  assert.ok(nans >= 4);
  // the boundaries named in the brief, spelled out
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65519.99609375), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // the tie above the largest finite rounds to even: Inf
  assert.equal(f32ToF16Bits(-65520), 0xfc00);
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal: even 0
  assert.equal(f32ToF16Bits(Math.fround(2 ** -25 * (1 + 2 ** -20))), 0x0001);
  assert.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002); // 1.5 subnormal units: the tie goes to the even 2
  assert.equal(f32ToF16Bits(5 * 2 ** -25), 0x0002); // 2.5 units: to the even 2 as well
  assert.equal(f32ToF16Bits(2 ** -14 * (1 - 2 ** -11)), 0x0400); // rounds up into the smallest normal
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie: even
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(f32ToBf16Bits(3.4028234663852886e38), 0x7f80); // float32 max rounds to Inf
});

test("float32 → half: bit arithmetic (scalar and array) = float64 arithmetic at every tie and near-tie", () => {
  // every float16 interval of every exponent (the 19 high bits), its low 13 bits at and around
  // the tie; likewise bfloat16's 16 high bits with low 16 bits around its tie
  for (const [shift, lows, toBits, toBitsArray, f64To] of [
    [13, [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff], f32ToF16Bits, f32ToF16BitsArray, f64ToF16Bits],
    [16, [0, 1, 0x7fff, 0x8000, 0x8001, 0xffff], f32ToBf16Bits, f32ToBf16BitsArray, f64ToBf16Bits],
  ] as const) {
    const x = patterns(shift, [...lows]);
    const arr = toBitsArray(x);
    for (let i = 0; i < x.length; i++) {
      if (Number.isNaN(x[i])) continue;
      const want = f64To(x[i]);
      if (arr[i] !== want || toBits(x[i]) !== want) assert.fail(`${x[i]}: bits ${hex(arr[i])} / ${hex(toBits(x[i]))}, float64 path ${hex(want)}`);
    }
  }
});

test("float64 → half rounds once (exact rational arithmetic), where rounding through float32 may round twice", () => {
  const x = new Float64Array(buf(fx.f64.f64));
  const e16 = new Uint16Array(buf(fx.f64ToFloat16.u16));
  const ebf = new Uint16Array(buf(fx.f64ToBfloat16.u16));
  for (let i = 0; i < x.length; i++) {
    assert.equal(f64ToF16Bits(x[i]), e16[i], `${x[i]}: float16`);
    assert.equal(f64ToBf16Bits(x[i]), ebf[i], `${x[i]}: bfloat16`);
  }
  const above = 1 + 2 ** -11 + 2 ** -40; // just above a float16 tie: float32 rounds it onto the tie
  assert.equal(f64ToF16Bits(above), 0x3c01);
  assert.equal(f32ToF16Bits(above), 0x3c00);
  assert.equal(roundToDType(above, "float16"), 1 + 2 ** -10);
  assert.equal(roundToDType(above, "float32"), Math.fround(above));
  assert.equal(f64ToF16Bits(NaN), 0x7e00);
  assert.equal(f64ToBf16Bits(-Infinity), 0xff80);
});

test("array versions: out is used and checked, inputs untouched, views honored, misuse is a NormError", () => {
  const backing = new Float32Array([9, 1.5, -2, 65520, 9]);
  const view = backing.subarray(1, 4);
  const out = new Uint16Array(3);
  assert.equal(f32ToF16BitsArray(view, out), out);
  assert.deepEqual([...out], [0x3e00, 0xc000, 0x7c00]);
  assert.deepEqual([...backing], [9, 1.5, -2, 65520, 9]);
  const back = new Float32Array(8).subarray(2, 5);
  assert.equal(f16BitsToF32Array(out, back), back);
  assert.deepEqual([...back], [1.5, -2, Infinity]);
  const bad: [() => unknown, string][] = [
    [() => f32ToF16BitsArray([1, 2] as unknown as Float32Array), "src"],
    [() => f32ToF16BitsArray(new Float64Array(2) as unknown as Float32Array), "src"],
    [() => f16BitsToF32Array(new Int16Array(2) as unknown as Uint16Array), "src"],
    [() => f32ToBf16BitsArray(new Float32Array(3), new Uint16Array(2)), "out"],
    [() => bf16BitsToF32Array(new Uint16Array(2), new Float64Array(2) as unknown as Float32Array), "out"],
  ];
  // out over src's own memory
  const shared = new Float32Array(4);
  bad.push([() => f32ToF16BitsArray(shared, new Uint16Array(shared.buffer, 0, 4)), "out"]);
  const bits = new Uint16Array(8);
  bad.push([() => f16BitsToF32Array(bits.subarray(0, 2), new Float32Array(bits.buffer, 0, 2)), "out"]);
  for (const [fn, arg] of bad) {
    assert.throws(fn, (e: unknown) => e instanceof nk.NormError && e.argument === arg, `expected a NormError naming ${arg}`);
  }
  // a Proxy of a typed array is not one (it has no buffer): a NormError, not a TypeError
  assert.throws(() => f32ToF16BitsArray(new Proxy(new Float32Array(2), {})), (e: unknown) => e instanceof nk.NormError && e.argument === "src");
  // a detached (transferred) array is empty
  const gone = new Float32Array(4);
  structuredClone(gone.buffer, { transfer: [gone.buffer] });
  assert.equal(f32ToF16BitsArray(gone).length, 0);
  assert.equal(f16BitsToF32Array(new Uint16Array(0), gone).length, 0);
  // adjacent (not overlapping) memory is fine
  assert.deepEqual([...f16BitsToF32Array(bits.subarray(0, 2), new Float32Array(bits.buffer, 4, 2))], [0, 0]);
});

test("Float16Array of this runtime, where it has one, agrees bit for bit", { skip: typeof (globalThis as { Float16Array?: unknown }).Float16Array !== "function" && "no Float16Array in this runtime (checked in Chromium by dtype-browser.test.ts)" }, () => {
  const F16 = (globalThis as unknown as { Float16Array: new (b: ArrayBufferLike) => Float32Array }).Float16Array;
  const x = patterns(13, [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff]);
  const f16 = new (F16 as unknown as new (n: number) => Float32Array)(x.length);
  f16.set(x);
  const theirs = new Uint16Array(f16.buffer);
  const ours = f32ToF16BitsArray(x);
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) assert.equal(ours[i], theirs[i], `${x[i]}`);
  const decoded = Float32Array.from(new F16(ALL16.slice().buffer));
  const mine = f16BitsToF32Array(ALL16);
  for (let h = 0; h < 65536; h++) if (!isNaN16(h)) assert.ok(Object.is(decoded[h], mine[h]), hex(h));
});
