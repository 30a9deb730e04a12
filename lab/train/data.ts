/** The lab's data: a synthetic classification task for the MLP, character batches for the GPT. */
import type { Rng } from "./rng.js";
import { cos, exp, sin, tanh } from "./math.js";

/**
 * Labels from a fixed random teacher, y = argmax(tanh(x·A)·M) with x ~ N(0, I): learnable, not
 * linearly separable, and unlimited fresh samples (so train loss tracks held-out loss).
 */
export class TeacherTask {
  private readonly A: Float64Array;
  private readonly M: Float64Array;
  private static readonly HIDDEN = 32;

  constructor(readonly din: number, readonly classes: number, rng: Rng) {
    const H = TeacherTask.HIDDEN;
    this.A = Float64Array.from({ length: din * H }, () => rng.normal() * Math.sqrt(4 / din));
    this.M = Float64Array.from({ length: H * classes }, () => rng.normal() / Math.sqrt(H));
  }

  /** Fills B samples. */
  sample(x: Float32Array, y: Int32Array, B: number, rng: Rng): void {
    const { din, classes: K } = this;
    const H = TeacherTask.HIDDEN;
    const h = new Float64Array(H);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < din; i++) x[b * din + i] = rng.normal();
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let i = 0; i < din; i++) s += x[b * din + i] * this.A[i * H + j];
        h[j] = tanh(s);
      }
      let best = 0;
      let bestV = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += h[j] * this.M[j * K + k];
        if (s > bestV) {
          bestV = s;
          best = k;
        }
      }
      y[b] = best;
    }
  }
}

/** Character-level tokens of a text: vocabulary = its distinct characters (code points), sorted. */
export class CharData {
  readonly vocab: string[];
  readonly tokens: Int32Array;
  /** first token index of the held-out tail (last 10%) */
  readonly split: number;

  constructor(text: string) {
    const chars = Array.from(text);
    this.vocab = [...new Set(chars)].sort();
    const index = new Map(this.vocab.map((c, i) => [c, i]));
    this.tokens = Int32Array.from(chars, (c) => index.get(c)!);
    this.split = Math.floor(this.tokens.length * 0.9);
  }

  /** B random windows of length T (+1 for targets) from the train (or held-out) part. */
  batch(tokens: Int32Array, targets: Int32Array, B: number, T: number, rng: Rng, heldOut = false): void {
    const lo = heldOut ? this.split : 0;
    const hi = heldOut ? this.tokens.length : this.split;
    const span = hi - lo - T - 1;
    if (span <= 0) throw new Error(`corpus too short: need more than ${T + 1} characters in each split`);
    for (let b = 0; b < B; b++) {
      const start = lo + rng.int(span);
      for (let t = 0; t < T; t++) {
        tokens[b * T + t] = this.tokens[start + t];
        targets[b * T + t] = this.tokens[start + t + 1];
      }
    }
  }
}

/**
 * A synthetic image task (Wu & He 2018's experiment, at small scale): one-channel size×size images
 * of a sine grating whose orientation is the class (k·180°/K), with random frequency and phase, a
 * random contrast and brightness per image (what normalization has to undo), and pixel noise.
 * Unlimited fresh samples, so a held-out set is just more of them.
 */
export class GratingTask {
  constructor(readonly size: number, readonly classes: number, readonly noise: number) {}

  /** Fills B images [B, 1, size, size] and their labels. */
  sample(x: Float32Array, y: Int32Array, B: number, rng: Rng): void {
    const S = this.size;
    for (let b = 0; b < B; b++) {
      const k = rng.int(this.classes);
      const theta = (Math.PI * k) / this.classes;
      const freq = 2 * Math.PI * (0.18 + 0.04 * rng.uniform());
      const phase = 2 * Math.PI * rng.uniform();
      const contrast = exp(0.7 * rng.normal());
      const brightness = 3 * rng.normal();
      // portable sin/cos/exp (./math.ts): the web lab must draw the same images bitwise
      const c = cos(theta);
      const s = sin(theta);
      for (let py = 0; py < S; py++) {
        for (let px = 0; px < S; px++) {
          x[b * S * S + py * S + px] = contrast * (sin(freq * (px * c + py * s) + phase) + this.noise * rng.normal()) + brightness;
        }
      }
      y[b] = k;
    }
  }
}
