/**
 * Inputs are never modified: every array a call writes (out, into.dweight/dbias, BatchNorm's
 * running statistics) must share no byte with an array it reads, nor with another written one.
 * Arrays that are only read may alias freely (dy may be x). Overlap is by byte range within one
 * buffer, so two halves of one ArrayBuffer are fine; ranges come from the intrinsic getters. All
 * the buffers of normkit's WebAssembly memory count as one (src/core/resident.ts).
 */
import { NormError } from "../errors.js";
import { typedBuffer, typedByteOffset, typedLength } from "./intrinsics.js";
import { sameMemory } from "./resident.js";

export type Named = readonly [string, Float32Array | null];

export function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (!sameMemory(typedBuffer(a), typedBuffer(b))) return false;
  const a0 = typedByteOffset(a), b0 = typedByteOffset(b);
  const a1 = a0 + 4 * typedLength(a), b1 = b0 + 4 * typedLength(b);
  return a0 < b1 && b0 < a1;
}

/** Each written array must overlap no read array and no other written one. */
export function checkWrites(written: readonly Named[], read: readonly Named[], why = "inputs are never modified"): void {
  written.forEach(([name, w], k) => {
    if (w === null) return;
    for (const [other, r] of [...read, ...written.slice(0, k)]) {
      if (r !== null && overlaps(w, r)) {
        throw new NormError("BAD_ARGUMENT", name, `expected memory not overlapping ${other} (${why}), got a view of ${other}'s memory`);
      }
    }
  });
}
