/**
 * The memory floor: `Float32Array.prototype.set` copying as many bytes as the case's kernel must
 * move (lib.ts caseBytes). No normalization kernel can beat a plain copy of its own traffic.
 */
import type { Peer } from "./child.js";
import { copyElements } from "./lib.js";

export const peer: Peer = {
  async hello() {
    return {
      peer: "floor",
      versions: {},
      variants: [{
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
  async prepare(_variant, d) {
    const k = copyElements(d.c);
    const src = new Float32Array(k);
    for (let i = 0; i < k; i++) src[i] = d.x[i % d.x.length]!;
    const dst = new Float32Array(k);
    // no output: the floor computes no normalization, there is nothing to check
    return { run: () => dst.set(src) };
  },
};
