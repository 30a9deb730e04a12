/**
 * The memory floor: `Float32Array.prototype.set` copying as many bytes as the case's kernel must
 * move (lib.ts caseBytes). No normalization kernel can beat a plain copy of its own traffic.
 *
 * Two variants. "copy" repeats the copy on the same arrays, back to back, for each time slice:
 * its source and destination are as hot in the caches as they get. "copy-cold" measures it as
 * bench/quick-wasm.ts always has (the floor of issue #11's targets): before each timed copy, an
 * untimed pass writes and reads two other arrays of the case's size, as the other contenders of a
 * quick-wasm round do between two runs of its floor, so the copy's source was last touched a
 * round earlier.
 */
import type { Peer } from "./child.js";
import { copyElements } from "./lib.js";

export const peer: Peer = {
  async hello() {
    return {
      peer: "floor",
      versions: {},
      variants: [{
        id: "copy-cold",
        peer: "floor",
        label: "memory floor, cold source (as bench/quick-wasm.ts)",
        threads: 1,
        timed: {
          forward: "dst.set(src) as the floor above, after an untimed pass over two other arrays of the case's size",
          backward: "the same",
        },
      }, {
        id: "copy",
        peer: "floor",
        label: "memory floor (Float32Array.set)",
        threads: 1,
        timed: {
          forward: "dst.set(src) of |x|+|γ,β| floats: reads and writes the bytes forward moves",
          backward: "dst.set(src) of (3|x| + stats + params)/2 floats: moves the bytes backward moves (x, dy in; dx out)",
        },
      }],
    };
  },
  async prepare(variant, d) {
    const k = copyElements(d.c);
    const src = new Float32Array(k);
    for (let i = 0; i < k; i++) src[i] = d.x[i % d.x.length]!;
    const dst = new Float32Array(k);
    // the cold variant's other arrays: written and read between copies, as a kernel would
    const other = variant === "copy-cold" ? [new Float32Array(k), new Float32Array(k)] : [];
    // no output: the floor computes no normalization, there is nothing to check
    return {
      run: other.length === 0 ? () => dst.set(src) : () => {
        other[1]!.set(other[0]!);
        other[0]![k >> 1] += 1;
        const t0 = performance.now();
        dst.set(src);
        return { ms: performance.now() - t0 };
      },
    };
  },
};
