/**
 * A deep residual MLP classifier (claims 1–3). Block l maps the residual stream h_l (width W):
 *   none:     h_{l+1} = h_l + f(h_l)
 *   pre-*:    h_{l+1} = h_l + f(N_l(h_l))            (N = LayerNorm, RMSNorm or BatchNorm), final N_f
 *   post-ln:  h_{l+1} = LN_l(h_l + f(h_l))
 * with f(u) = GELU(u·W1 + b1)·W2 + b2 (hidden width H). Input x·Win + bin, head logits = h·Wout + bout,
 * softmax cross-entropy. He-normal W1, LeCun-normal Win/W2/Wout, zero biases: the textbook inits
 * that keep a plain (non-residual) layer's output variance at its input's; the same for every variant.
 * init "scaled" (the fair no-norm baseline) multiplies W2's standard deviation by 1/√(2L), GPT-2's
 * residual-branch scaling, so the stream's variance stays bounded over depth at initialization.
 */
import {
  crossEntropyBackward, crossEntropyForward, geluBackward, geluForward, l2, matmulBackward, matmulForward, rms,
} from "../train/kernels.js";
import { param, type Param } from "../train/params.js";
import type { Rng } from "../train/rng.js";
import { NormLayer, type NormKind } from "./norm.js";

export type MlpNorm = "none" | "post-ln" | "pre-ln" | "pre-rms" | "pre-bn";

export interface MlpConfig {
  din: number;
  width: number;
  hidden: number;
  depth: number;
  classes: number;
  norm: MlpNorm;
  maxBatch: number;
  /** "standard" (default) or "scaled": residual branches' output weights ×1/√(2·depth) at init */
  init?: MlpInit;
}

export type MlpInit = "standard" | "scaled";

const normKind = (n: MlpNorm): NormKind | null =>
  n === "pre-ln" || n === "post-ln" ? "layernorm" : n === "pre-rms" ? "rmsnorm" : n === "pre-bn" ? "batchnorm" : null;

interface Block {
  w1: Param; b1: Param; w2: Param; b2: Param;
  norm: NormLayer | null;
  u: Float32Array; a: Float32Array; g: Float32Array; f: Float32Array; s: Float32Array | null;
}

export class ResidualMLP {
  readonly params: Param[] = [];
  readonly blocks: Block[] = [];
  private readonly win: Param; private readonly bin: Param;
  private readonly wout: Param; private readonly bout: Param;
  private readonly finalNorm: NormLayer | null;
  /** h[l] is the residual stream entering block l; h[depth] leaves the last block */
  readonly h: Float32Array[];
  private readonly hf: Float32Array;
  readonly logits: Float32Array;
  private readonly probs: Float32Array;
  private readonly dh: Float32Array; private readonly dh2: Float32Array;
  private readonly du: Float32Array; private readonly da: Float32Array; private readonly dg: Float32Array;
  private readonly dlogits: Float32Array; private readonly dhf: Float32Array;
  private x: Float32Array | null = null;
  private targets: Int32Array | null = null;
  private B = 0;
  /** ‖∂loss/∂h_l‖ per layer (RMS over the batch), from the last backward */
  readonly streamGradRms: number[];

  constructor(readonly cfg: MlpConfig, rng: Rng) {
    const { din, width: W, hidden: H, depth, classes: K, maxBatch: N } = cfg;
    const kind = normKind(cfg.norm);
    const mk = (name: string, n: number, decay: boolean, std: number) => {
      const p = param(name, n, decay);
      if (std > 0) rng.fillNormal(p.value, std);
      this.params.push(p);
      return p;
    };
    this.win = mk("in.w", din * W, true, Math.sqrt(1 / din));
    this.bin = mk("in.b", W, false, 0);
    const branch = cfg.init === "scaled" ? 1 / Math.sqrt(2 * depth) : 1;
    for (let l = 0; l < depth; l++) {
      const norm = kind ? new NormLayer(kind, W, `block${l}.norm`) : null;
      const b: Block = {
        w1: mk(`block${l}.w1`, W * H, true, Math.sqrt(2 / W)),
        b1: mk(`block${l}.b1`, H, false, 0),
        w2: mk(`block${l}.w2`, H * W, true, branch * Math.sqrt(1 / H)),
        b2: mk(`block${l}.b2`, W, false, 0),
        norm,
        u: new Float32Array(N * W), a: new Float32Array(N * H), g: new Float32Array(N * H), f: new Float32Array(N * W),
        s: cfg.norm === "post-ln" ? new Float32Array(N * W) : null,
      };
      if (norm) this.params.push(...norm.params);
      this.blocks.push(b);
    }
    this.finalNorm = kind && cfg.norm !== "post-ln" ? new NormLayer(kind, W, "final.norm") : null;
    if (this.finalNorm) this.params.push(...this.finalNorm.params);
    this.wout = mk("out.w", W * K, true, Math.sqrt(1 / W));
    this.bout = mk("out.b", K, false, 0);
    this.h = Array.from({ length: depth + 1 }, () => new Float32Array(N * W));
    this.hf = new Float32Array(N * W);
    this.logits = new Float32Array(N * K);
    this.probs = new Float32Array(N * K);
    this.dh = new Float32Array(N * W); this.dh2 = new Float32Array(N * W);
    this.du = new Float32Array(N * W); this.dhf = new Float32Array(N * W);
    this.da = new Float32Array(N * H); this.dg = new Float32Array(N * H);
    this.dlogits = new Float32Array(N * K);
    this.streamGradRms = new Array(depth + 1).fill(0);
  }

  /** Train mode (BatchNorm: batch statistics) or eval mode (running statistics). */
  setTraining(on: boolean): void {
    for (const b of this.blocks) b.norm?.setTraining(on);
    this.finalNorm?.setTraining(on);
  }

  /** Forward on B rows of x [B, din]; returns the mean cross-entropy (NaN-safe: NaN stays NaN). */
  forward(x: Float32Array, targets: Int32Array, B: number): number {
    const { din, width: W, hidden: H, classes: K } = this.cfg;
    // typed arrays drop out-of-range writes silently: a too-large batch must fail loudly
    if (!(B >= 1 && B <= this.cfg.maxBatch)) throw new RangeError(`ResidualMLP: batch ${B} outside 1..${this.cfg.maxBatch}`);
    this.x = x; this.targets = targets; this.B = B;
    matmulForward(this.h[0], x, this.win.value, this.bin.value, B, din, W);
    for (let l = 0; l < this.blocks.length; l++) {
      const b = this.blocks[l];
      const hin = this.h[l];
      const hout = this.h[l + 1];
      const post = b.s !== null;
      let u = hin;
      if (b.norm && !post) {
        b.norm.forward(b.u, hin, B);
        u = b.u;
      }
      matmulForward(b.a, u, b.w1.value, b.b1.value, B, W, H);
      geluForward(b.g, b.a, B * H);
      matmulForward(b.f, b.g, b.w2.value, b.b2.value, B, H, W);
      const sum = post ? b.s! : hout;
      for (let i = 0; i < B * W; i++) sum[i] = hin[i] + b.f[i];
      if (post) b.norm!.forward(hout, b.s!, B);
    }
    let hf = this.h[this.blocks.length];
    if (this.finalNorm) {
      this.finalNorm.forward(this.hf, hf, B);
      hf = this.hf;
    }
    matmulForward(this.logits, hf, this.wout.value, this.bout.value, B, W, K);
    return crossEntropyForward(this.probs, this.logits, targets, B, K);
  }

  /** Accumulates ∂loss/∂θ into the parameter grads (zero them first). */
  backward(): void {
    const { din, width: W, hidden: H, classes: K } = this.cfg;
    const B = this.B;
    const n = B * W;
    const depth = this.blocks.length;
    this.dlogits.fill(0, 0, B * K);
    crossEntropyBackward(this.dlogits, this.probs, this.targets!, B, K);
    const hL = this.h[depth];
    let dh = this.dh;
    dh.fill(0, 0, n);
    if (this.finalNorm) {
      this.dhf.fill(0, 0, n);
      matmulBackward(this.dhf, this.wout.grad, this.bout.grad, this.dlogits, this.hf, this.wout.value, B, W, K);
      this.finalNorm.backward(dh, this.dhf, B);
    } else {
      matmulBackward(dh, this.wout.grad, this.bout.grad, this.dlogits, hL, this.wout.value, B, W, K);
    }
    this.streamGradRms[depth] = rms(dh, n);
    let other = this.dh2;
    for (let l = depth - 1; l >= 0; l--) {
      const b = this.blocks[l];
      const post = b.s !== null;
      // post-LN: first through LN_l, then the residual sum s = h + f(h)
      let ds = dh;
      if (post) {
        other.fill(0, 0, n);
        b.norm!.backward(other, dh, B);
        ds = other;
        other = dh;
      }
      const pre = b.norm !== null && !post;
      const u = pre ? b.u : this.h[l];
      this.dg.fill(0, 0, B * H);
      matmulBackward(this.dg, b.w2.grad, b.b2.grad, ds, b.g, b.w2.value, B, H, W);
      this.da.fill(0, 0, B * H);
      geluBackward(this.da, b.a, this.dg, B * H);
      // ∂/∂h_l = ds (skip path) + the block's path (through N_l for pre-norm)
      this.du.fill(0, 0, n);
      matmulBackward(this.du, b.w1.grad, b.b1.grad, this.da, u, b.w1.value, B, W, H);
      if (pre) b.norm!.backward(ds, this.du, B);
      else for (let i = 0; i < n; i++) ds[i] += this.du[i];
      if (post) {
        dh = ds;
      }
      this.streamGradRms[l] = rms(dh, n);
    }
    matmulBackward(null, this.win.grad, this.bin.grad, dh, this.x!, this.win.value, B, din, W);
  }

  /** The final norm's running statistics (BatchNorm), for callers that must save and restore them. */
  finalNormModuleBuffers(): { value: { data: Float32Array } }[] {
    return this.finalNorm?.module.buffers() ?? [];
  }

  /** RMS of the residual stream entering each block and leaving the last (index 0..depth). */
  streamRms(): number[] {
    const n = this.B * this.cfg.width;
    return this.h.map((h) => rms(h, n));
  }

  /** RMS of each block's normalized input (pre-norm variants), else of its raw input. */
  blockInputRms(): number[] {
    const n = this.B * this.cfg.width;
    return this.blocks.map((b, l) => rms(b.norm && !b.s ? b.u : this.h[l], n));
  }

  /** ‖∂loss/∂(W1, W2)‖ per block, from the accumulated grads. */
  blockGradNorms(): number[] {
    return this.blocks.map((b) => Math.hypot(l2(b.w1.grad), l2(b.w2.grad)));
  }
}
