/**
 * Parameters as flat buffers with their gradients, and AdamW over them. Buffers are allocated once
 * when a model is built; a step only writes into them.
 */
import type { Parameter } from "../../src/index.js";
import { powInt } from "./math.js";

export interface Param {
  name: string;
  value: Float32Array;
  grad: Float32Array;
  /** weight decay applies to matrices and embeddings, not to norm gains/biases or linear biases */
  decay: boolean;
}

export function param(name: string, n: number, decay: boolean): Param {
  return { name, value: new Float32Array(n), grad: new Float32Array(n), decay };
}

/** A normkit module's parameters, seen as lab params (same buffers, not copies). */
export function fromModule(prefix: string, ps: Parameter[]): Param[] {
  return ps.map((p) => ({ name: `${prefix}.${p.name}`, value: p.value.data, grad: p.grad.data, decay: false }));
}

export function zeroGrads(ps: Param[]): void {
  for (const p of ps) p.grad.fill(0);
}

/** Global gradient L2 norm (float64 sum); NaN/Inf propagate. */
export function gradNorm(ps: Param[]): number {
  let s = 0;
  for (const p of ps) for (let i = 0; i < p.grad.length; i++) s += p.grad[i] * p.grad[i];
  return Math.sqrt(s);
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** clip the global gradient norm to this value before the update; 0/undefined = off */
  clip?: number;
}

/** AdamW (decoupled weight decay, bias-corrected moments), as torch.optim.AdamW. */
export class AdamW {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;
  /** how many steps had their gradient clipped (reported with each run) */
  clipped = 0;

  constructor(private readonly ps: Param[], readonly opts: AdamWOptions) {
    this.m = ps.map((p) => new Float32Array(p.value.length));
    this.v = ps.map((p) => new Float32Array(p.value.length));
  }

  /** One update; returns the gradient norm before clipping. */
  step(lr = this.opts.lr): number {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01, clip = 0 } = this.opts;
    const norm = gradNorm(this.ps);
    let scale = 1;
    if (clip > 0 && norm > clip) {
      scale = clip / norm;
      this.clipped++;
    }
    this.t++;
    const bc1 = 1 - powInt(beta1, this.t); // not `**`: engines differ in its last bit (./math.ts)
    const bc2 = 1 - powInt(beta2, this.t);
    for (let k = 0; k < this.ps.length; k++) {
      const p = this.ps[k];
      const m = this.m[k];
      const v = this.v[k];
      const wd = p.decay ? weightDecay : 0;
      for (let i = 0; i < p.value.length; i++) {
        const g = p.grad[i] * scale;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        p.value[i] -= lr * ((m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps) + wd * p.value[i]);
      }
    }
    return norm;
  }
}
