/**
 * Inputs are never modified: every array a call writes (out, into.dweight/dbias, residualOut,
 * BatchNorm's running statistics) must share no byte with an array it reads, nor with another
 * written one. Arrays that are only read may alias freely (dy may be x). Overlap is by byte range
 * within one buffer, so two halves of one ArrayBuffer are fine; ranges come from the intrinsic
 * getters. The one allowed alias of a written array: addLayerNorm/addRmsNorm's `residualOut` may
 * be `residual` itself, exactly (h over the residual stream in place, as FlashInfer's
 * fused_add_rmsnorm does); the kernels read each row before writing it.
 */
import { NormError } from "../errors.js";
import { typedBuffer, typedByteOffset, typedLength, typedTag } from "./intrinsics.js";
import { ELEMENT_BYTES } from "./tensor.js";

type Typed = Float32Array | Uint16Array;
export type Named = readonly [string, Typed | null];

/** [first byte, end byte) of a typed array's view. */
function span(a: Typed): [number, number] {
  const at = typedByteOffset(a);
  return [at, at + (ELEMENT_BYTES[typedTag(a)!] ?? 4) * typedLength(a)];
}

export function overlaps(a: Typed, b: Typed): boolean {
  if (typedBuffer(a) !== typedBuffer(b)) return false;
  const [a0, a1] = span(a), [b0, b1] = span(b);
  return a0 < b1 && b0 < a1;
}

/** Whether two arrays view exactly the same bytes (same buffer, offset and length). */
export function sameMemory(a: Typed, b: Typed): boolean {
  if (typedBuffer(a) !== typedBuffer(b)) return false;
  const [a0, a1] = span(a), [b0, b1] = span(b);
  return a0 === b0 && a1 === b1;
}

/**
 * Each written array must overlap no read array and no other written one. `allowed` lists
 * [written, read] name pairs that may be the same memory exactly (never a partial overlap).
 */
export function checkWrites(
  written: readonly Named[], read: readonly Named[], why = "inputs are never modified", allowed: ReadonlyArray<readonly [string, string]> = [],
): void {
  written.forEach(([name, w], k) => {
    if (w === null) return;
    for (const [other, r] of [...read, ...written.slice(0, k)]) {
      if (r === null || !overlaps(w, r)) continue;
      if (allowed.some(([a, b]) => a === name && b === other) && sameMemory(w, r)) continue;
      const exact = allowed.some(([a, b]) => a === name && b === other) ? ` (it may be ${other} itself, exactly, but not part of it)` : "";
      throw new NormError("BAD_ARGUMENT", name, `expected memory not overlapping ${other} (${why})${exact}, got a view of ${other}'s memory`);
    }
  });
}
