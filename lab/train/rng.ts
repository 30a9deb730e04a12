/**
 * Seeded randomness for the lab: every weight, batch and data set comes from here, so the same
 * seed gives the same numbers. mulberry32 for uniforms, Box–Muller for normals.
 */
import { cos, log, sin } from "./math.js";

export class Rng {
  private s: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    // portable log/sin/cos (./math.ts): Math's differ in the last bit between engines
    const r = Math.sqrt(-2 * log(1 - this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * sin(a);
    return r * cos(a);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  fillNormal(a: Float32Array, std: number): Float32Array {
    for (let i = 0; i < a.length; i++) a[i] = std * this.normal();
    return a;
  }
}

/** A seed derived from a base seed and labels (FNV-1a), so each run/config gets its own stream. */
export function deriveSeed(base: number, ...labels: (string | number)[]): number {
  let h = (0x811c9dc5 ^ (base >>> 0)) >>> 0;
  for (const ch of labels.join("|")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
