/**
 * Results of the wasm backend's current build on fixed inputs (LayerNorm forward with weight and
 * bias, where the FMA build fuses y = x̂·w + b; its backward, where it fuses the most), and a
 * digest of their bits: to compare builds across processes and engines (resident-env.test.ts and
 * its child fma-child.ts).
 */
import type * as NK from "../../src/index.js";
import { rng } from "../shared.js";

export const PROBE = { rows: 64, D: 200 };

export function probeInputs(nk: typeof NK) {
  const r = rng(13);
  const { rows, D } = PROBE;
  return {
    x: nk.tensor(r.tensor([rows, D], 2, 0.5).data, [rows, D]),
    dy: nk.tensor(r.tensor([rows, D]).data, [rows, D]),
    weight: nk.tensor(r.tensor([D], 0.3, 1).data, [D]),
    bias: nk.tensor(r.tensor([D], 0.7).data, [D]),
  };
}

export function buildProbe(nk: typeof NK): { y: Float32Array; dx: Float32Array } {
  const { x, dy, weight, bias } = probeInputs(nk);
  const y = nk.layerNorm(x, [PROBE.D], { weight, bias }).data;
  const dx = nk.layerNormBackward(dy, x, [PROBE.D], { weight, bias }).dx.data;
  return { y, dx };
}

/** FNV-1a over the float32 bits of `arrays`, as 8 hex digits. */
export function bitsDigest(...arrays: Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    for (const u of new Uint32Array(a.buffer, a.byteOffset, a.length)) {
      for (let k = 0; k < 32; k += 8) h = Math.imul(h ^ ((u >>> k) & 0xff), 0x01000193);
    }
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}
