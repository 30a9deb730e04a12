/**
 * tensor(data, shape, dtype) and cast(t, dtype): the storage conversions at the API (the bit
 * conversions themselves are tested exhaustively in test/core/dtype.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, f64ToF16Bits } from "../../src/dtype.js";
import { throwsNorm } from "../core/hostile.js";

test("tensor(numbers, shape, half) rounds each float64 once; a Uint16Array is used as bits, without a copy", () => {
  // 1 + 2⁻¹¹ + 2⁻⁴⁰ is 1 + 2⁻¹⁰ in float16 rounded once, 1 when rounded through float32 first
  const v = 1 + 2 ** -11 + 2 ** -40;
  const t = nk.tensor([v, 65519, 65520, -0, NaN, 2 ** -25, 1e-8], [7], "float16");
  assert.equal(t.dtype, "float16");
  assert.deepEqual([...t.data], [f64ToF16Bits(v), 0x7bff, 0x7c00, 0x8000, 0x7e00, 0, 0]);
  assert.equal(f16BitsToF32(t.data[0]!), 1 + 2 ** -10);
  const bits = new Uint16Array([0x3c00, 0xc000]);
  const tb = nk.tensor(bits, [2], "bfloat16");
  assert.equal(tb.data, bits, "used as is");
  const f32 = nk.tensor(new Uint16Array([1, 2]), [2]);
  assert.equal(f32.dtype, undefined, "without a dtype a Uint16Array is numbers, as before");
  assert.deepEqual([...f32.data], [1, 2]);
  assert.deepEqual([...nk.tensor(new Float32Array([1.5, -2]), [2], "bfloat16").data], [f32ToBf16Bits(1.5), f32ToBf16Bits(-2)]);
});

test("cast: float32 → half rounds to nearest even, half → float32 is exact, half → half rounds once, same dtype copies", () => {
  const src = nk.tensor([1, 65504, 65520, 1e-7, -3.14159, Infinity, NaN, 2 ** -24 * 1.5], [2, 4]);
  const h = nk.cast(src, "float16");
  assert.deepEqual(h.shape, [2, 4]);
  assert.deepEqual([...h.data], [...src.data].map((v) => f32ToF16Bits(v)));
  const back = nk.cast(h, "float32");
  assert.equal(back.dtype, undefined);
  assert.deepEqual([...back.data], [...h.data].map(f16BitsToF32));
  const b = nk.cast(h, "bfloat16");
  assert.deepEqual([...b.data], [...back.data].map((v) => f32ToBf16Bits(v)));
  const copy = nk.cast(src, "float32");
  assert.notEqual(copy.data, src.data);
  assert.deepEqual([...copy.data], [...src.data]);
  // a long tensor crosses the conversion blocks
  const long = nk.tensor(Float32Array.from({ length: 10000 }, (_, i) => Math.sin(i) * 1000), [10000]);
  assert.deepEqual([...nk.cast(long, "bfloat16").data], [...long.data].map((v) => f32ToBf16Bits(v)));
});

test("cast and tensor misuse: NormErrors", async () => {
  await throwsNorm(() => nk.cast({ shape: [2], data: new Uint16Array(2) } as never, "float32"), "BAD_DTYPE", "t.dtype");
  await throwsNorm(() => nk.cast(null as never, "float16"), "BAD_ARGUMENT", "t");
  await throwsNorm(() => nk.tensor(new Uint16Array(3), [2], "float16"), "SHAPE_MISMATCH", "tensor");
  await throwsNorm(() => nk.tensor(["1"] as never, [1], "float16"), "BAD_DTYPE", "data");
  await throwsNorm(() => nk.tensor(new Float32Array(2), [2], "float8" as never), "BAD_DTYPE", "dtype");
});

test("Float16Array data (where the runtime has one) is a float16 tensor over the same memory", { skip: typeof (globalThis as { Float16Array?: unknown }).Float16Array !== "function" && "no Float16Array in this runtime" }, () => {
  const F16 = (globalThis as unknown as { Float16Array: new (a: number[]) => ArrayLike<number> & { buffer: ArrayBuffer } }).Float16Array;
  const a = new F16([1, -2, 0.5]);
  const t = nk.tensor(a as never, [3]);
  assert.equal(t.dtype, "float16");
  assert.equal((t.data as unknown as Uint16Array).buffer, a.buffer);
  const y = nk.rmsNorm({ shape: [1, 3], data: a } as never, 3);
  assert.equal(y.dtype, "float16");
});
