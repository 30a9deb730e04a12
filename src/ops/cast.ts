/**
 * cast(t, dtype): a new tensor of another storage dtype (torch's `.to(dtype)`): float32 → half
 * rounds to nearest even (NaN stays NaN, overflow → ±Inf as IEEE rounding gives, float16
 * subnormals exact); half → float32 is exact; float16 ↔ bfloat16 goes through float32, which is
 * exact on the way in, so the result is rounded once. The same dtype gives a copy.
 */
import type { DType, HalfDType } from "../dtype.js";
import { allocStored, checkAnyTensor, checkDType, tensorOf, type AnyTensor, type HalfTensor, type Tensor } from "../core/index.js";
import { narrow, widen } from "../backends/storage.js";

/** Values converted a block at a time (no float32 copy of the whole tensor for half → half). */
const BLOCK = 4096;

export function cast(t: AnyTensor, dtype: "float32"): Tensor;
export function cast(t: AnyTensor, dtype: HalfDType): HalfTensor;
export function cast(t: AnyTensor, dtype: DType): AnyTensor;
export function cast(t: AnyTensor, dtype: DType): AnyTensor {
  const src = checkAnyTensor(t, "t");
  checkDType(dtype, "dtype");
  const n = src.data.length;
  const dst = allocStored(dtype, n, "cast");
  const buf = new Float32Array(Math.min(n, BLOCK));
  for (let at = 0; at < n; at += BLOCK) {
    const k = Math.min(BLOCK, n - at);
    widen(buf, 0, src, at, k);
    narrow(dst, at, buf, 0, k);
  }
  return tensorOf(dst, src.shape);
}
