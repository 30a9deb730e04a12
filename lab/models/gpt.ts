/**
 * A small character-level GPT (claims 1, 2, 5), llm.c style: token + position embeddings, L blocks
 * of causal self-attention and a GELU MLP, an untied linear head, softmax cross-entropy. Each block
 * has two sublayers F (attention, MLP) around the residual stream r:
 *   pre-ln / pre-rms:  r ← r + F(N(r)),  final N_f before the head   (GPT-2)
 *   post-ln:           r ← N(r + F(r))                              (original Transformer)
 *   none:              r ← r + F(r)
 * N is normkit's LayerNorm or RMSNorm module. GPT-2 init (default): N(0, 0.02), residual
 * projections scaled by 1/√(2L), zero biases, the same for every variant. "xavier" (Xiong et al.
 * 2020's setting, the original Transformer's): every matrix Xavier-normal, std √(2/(fan_in + fan_out)),
 * no residual scaling, token and position embeddings N(0, ½) so that their sum has unit variance.
 */
import {
  attentionBackward, attentionForward, crossEntropyBackward, crossEntropyForward, geluBackward, geluForward, l2,
  matmulBackward, matmulForward, rms,
} from "../train/kernels.js";
import { param, type Param } from "../train/params.js";
import type { Rng } from "../train/rng.js";
import { NormLayer } from "./norm.js";

export type GptNorm = "none" | "pre-ln" | "post-ln" | "pre-rms";

export interface GptConfig {
  vocab: number;
  /** context length */
  T: number;
  /** channels */
  C: number;
  heads: number;
  layers: number;
  norm: GptNorm;
  /** largest batch (sequences) the buffers hold */
  maxBatch: number;
  /** "gpt2" (default) or "xavier" */
  init?: "gpt2" | "xavier";
}

/** One residual sublayer's saved activations: its input stream, normalized input, output, sum. */
interface Sub {
  norm: NormLayer | null;
  rin: Float32Array; // stream entering
  u: Float32Array; // N(rin) for pre-norm
  out: Float32Array; // F(u)
  s: Float32Array; // rin + out (post-norm: before N)
}

interface Layer {
  qkvw: Param; qkvb: Param; projw: Param; projb: Param; fcw: Param; fcb: Param; fcpw: Param; fcpb: Param;
  attn: Sub; mlp: Sub;
  qkv: Float32Array; preatt: Float32Array; att: Float32Array; atty: Float32Array;
  fch: Float32Array; fchg: Float32Array;
}

export class GPT {
  readonly params: Param[] = [];
  readonly layers: Layer[] = [];
  private readonly wte: Param; private readonly wpe: Param; private readonly lmw: Param;
  private readonly finalNorm: NormLayer | null;
  private readonly x0: Float32Array;
  private readonly xf: Float32Array;
  /** the stream leaving the last block, and the head's input (N_f of it for pre-norm) */
  private readonly lastStream: Float32Array; private readonly headIn: Float32Array;
  private readonly logits: Float32Array; private readonly probs: Float32Array;
  // gradient scratch, allocated once
  private readonly dr: Float32Array; private readonly dtmp: Float32Array; private readonly du: Float32Array;
  private readonly dout: Float32Array; private readonly dqkv: Float32Array;
  private readonly dpreatt: Float32Array; private readonly datt: Float32Array;
  private readonly dfch: Float32Array; private readonly dfchg: Float32Array; private readonly dlogits: Float32Array;
  private tokens: Int32Array | null = null;
  private targets: Int32Array | null = null;
  private B = 0;

  constructor(readonly cfg: GptConfig, rng: Rng) {
    const { vocab: V, T, C, heads, layers: L, maxBatch } = cfg;
    if (C % heads !== 0) throw new Error(`GPT: C=${C} is not a multiple of heads=${heads}`);
    const N = maxBatch * T;
    const pre = cfg.norm === "pre-ln" || cfg.norm === "pre-rms";
    const kind = cfg.norm === "pre-rms" ? "rmsnorm" : "layernorm";
    const mk = (name: string, n: number, decay: boolean, std: number) => {
      const p = param(name, n, decay);
      if (std > 0) rng.fillNormal(p.value, std);
      this.params.push(p);
      return p;
    };
    const sub = (name: string): Sub => {
      const norm = cfg.norm === "none" ? null : new NormLayer(kind, C, name);
      if (norm) this.params.push(...norm.params);
      return { norm, rin: new Float32Array(N * C), u: new Float32Array(N * C), out: new Float32Array(N * C), s: new Float32Array(N * C) };
    };
    const xavier = cfg.init === "xavier";
    // std of a [fanIn, fanOut] matrix: GPT-2's 0.02 (residual projections 0.02/√(2L)), or Xavier's
    const std = (fanIn: number, fanOut: number, residual = false) =>
      xavier ? Math.sqrt(2 / (fanIn + fanOut)) : residual ? 0.02 / Math.sqrt(2 * L) : 0.02;
    const embStd = xavier ? Math.SQRT1_2 : 0.02;
    this.wte = mk("wte", V * C, true, embStd);
    this.wpe = mk("wpe", T * C, true, embStd);
    for (let l = 0; l < L; l++) {
      this.layers.push({
        qkvw: mk(`h${l}.qkv.w`, C * 3 * C, true, std(C, 3 * C)), qkvb: mk(`h${l}.qkv.b`, 3 * C, false, 0),
        projw: mk(`h${l}.proj.w`, C * C, true, std(C, C, true)), projb: mk(`h${l}.proj.b`, C, false, 0),
        fcw: mk(`h${l}.fc.w`, C * 4 * C, true, std(C, 4 * C)), fcb: mk(`h${l}.fc.b`, 4 * C, false, 0),
        fcpw: mk(`h${l}.fcproj.w`, 4 * C * C, true, std(4 * C, C, true)), fcpb: mk(`h${l}.fcproj.b`, C, false, 0),
        attn: sub(`h${l}.ln1`), mlp: sub(`h${l}.ln2`),
        qkv: new Float32Array(N * 3 * C), preatt: new Float32Array(maxBatch * heads * T * T),
        att: new Float32Array(maxBatch * heads * T * T), atty: new Float32Array(N * C),
        fch: new Float32Array(N * 4 * C), fchg: new Float32Array(N * 4 * C),
      });
    }
    this.finalNorm = pre ? new NormLayer(kind, C, "lnf") : null;
    if (this.finalNorm) this.params.push(...this.finalNorm.params);
    this.lmw = mk("lm_head.w", C * V, true, std(C, V));
    this.x0 = new Float32Array(N * C);
    this.xf = new Float32Array(N * C);
    this.lastStream = new Float32Array(N * C); this.headIn = new Float32Array(N * C);
    this.logits = new Float32Array(N * V); this.probs = new Float32Array(N * V); this.dlogits = new Float32Array(N * V);
    this.dr = new Float32Array(N * C); this.dtmp = new Float32Array(N * C); this.du = new Float32Array(N * C);
    this.dout = new Float32Array(N * C); this.dqkv = new Float32Array(N * 3 * C);
    this.dpreatt = new Float32Array(maxBatch * heads * T * T); this.datt = new Float32Array(maxBatch * heads * T * T);
    this.dfch = new Float32Array(N * 4 * C); this.dfchg = new Float32Array(N * 4 * C);
  }

  private get pre(): boolean {
    return this.cfg.norm === "pre-ln" || this.cfg.norm === "pre-rms";
  }

  /** r ← r + F(N(r)) or N(r + F(r)); writes the stream leaving into `next`. */
  private subForward(s: Sub, rin: Float32Array, next: Float32Array, n: number, F: (u: Float32Array, out: Float32Array) => void): void {
    s.rin.set(rin.subarray(0, n));
    let u = s.rin;
    if (this.pre) {
      s.norm!.forward(s.u, s.rin, n / this.cfg.C);
      u = s.u;
    }
    F(u, s.out);
    for (let i = 0; i < n; i++) s.s[i] = s.rin[i] + s.out[i];
    if (this.cfg.norm === "post-ln") s.norm!.forward(next, s.s, n / this.cfg.C);
    else next.set(s.s.subarray(0, n));
  }

  /**
   * dr (∂loss/∂stream leaving) → ∂loss/∂stream entering, in place. Fdown(dout, du) backprops F,
   * accumulating into du (∂/∂F's input) and the parameter grads.
   */
  private subBackward(s: Sub, dr: Float32Array, n: number, Fdown: (dout: Float32Array, du: Float32Array) => void): void {
    const rows = n / this.cfg.C;
    if (this.cfg.norm === "post-ln") {
      this.dtmp.fill(0, 0, n);
      s.norm!.backward(this.dtmp, dr, rows);
      dr.set(this.dtmp.subarray(0, n));
    }
    // dr is now ∂/∂(rin + out): the skip path passes it through, F's path adds to it
    this.du.fill(0, 0, n);
    Fdown(dr, this.du);
    if (this.pre) s.norm!.backward(dr, this.du, rows);
    else for (let i = 0; i < n; i++) dr[i] += this.du[i];
  }

  /** Mean next-token cross-entropy of B sequences (tokens, targets: [B, T]). */
  forward(tokens: Int32Array, targets: Int32Array, B: number): number {
    const { vocab: V, T, C, heads } = this.cfg;
    const N = B * T;
    const n = N * C;
    // typed arrays drop out-of-range writes silently: a too-large batch must fail loudly
    if (!(B >= 1 && B <= this.cfg.maxBatch)) throw new RangeError(`GPT: batch ${B} outside 1..${this.cfg.maxBatch}`);
    this.tokens = tokens; this.targets = targets; this.B = B;
    const x = this.x0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const o = (b * T + t) * C;
        const te = tokens[b * T + t] * C;
        const pe = t * C;
        for (let i = 0; i < C; i++) x[o + i] = this.wte.value[te + i] + this.wpe.value[pe + i];
      }
    }
    let r = x;
    for (const L of this.layers) {
      this.subForward(L.attn, r, this.dout, n, (u, out) => {
        matmulForward(L.qkv, u, L.qkvw.value, L.qkvb.value, N, C, 3 * C);
        attentionForward(L.atty, L.preatt, L.att, L.qkv, B, T, C, heads);
        matmulForward(out, L.atty, L.projw.value, L.projb.value, N, C, C);
      });
      r = this.dout; // scratch: the MLP sublayer copies it into its own rin
      this.subForward(L.mlp, r, this.xf, n, (u, out) => {
        matmulForward(L.fch, u, L.fcw.value, L.fcb.value, N, C, 4 * C);
        geluForward(L.fchg, L.fch, N * 4 * C);
        matmulForward(out, L.fchg, L.fcpw.value, L.fcpb.value, N, 4 * C, C);
      });
      r = this.xf;
    }
    // xf/dtmp are scratch reused by the next forward/backward: keep the head's input in its own buffer
    let hf: Float32Array = r;
    if (this.finalNorm) {
      this.finalNorm.forward(this.dtmp, r, N);
      hf = this.dtmp;
    }
    this.lastStream.set(r.subarray(0, n));
    this.headIn.set(hf.subarray(0, n));
    matmulForward(this.logits, this.headIn, this.lmw.value, null, N, C, V);
    return crossEntropyForward(this.probs, this.logits, targets, N, V);
  }

  /** Accumulates ∂loss/∂θ into the parameter grads (zero them first). */
  backward(): void {
    const { vocab: V, T, C, heads } = this.cfg;
    const B = this.B;
    const N = B * T;
    const n = N * C;
    this.dlogits.fill(0, 0, N * V);
    crossEntropyBackward(this.dlogits, this.probs, this.targets!, N, V);
    const dr = this.dr;
    dr.fill(0, 0, n);
    if (this.finalNorm) {
      this.dout.fill(0, 0, n);
      matmulBackward(this.dout, this.lmw.grad, null, this.dlogits, this.headIn, this.lmw.value, N, C, V);
      this.finalNorm.backward(dr, this.dout, N);
    } else {
      matmulBackward(dr, this.lmw.grad, null, this.dlogits, this.headIn, this.lmw.value, N, C, V);
    }
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const L = this.layers[l];
      const uOf = (s: Sub) => (this.pre ? s.u : s.rin);
      this.subBackward(L.mlp, dr, n, (dout, du) => {
        this.dfchg.fill(0, 0, N * 4 * C);
        matmulBackward(this.dfchg, L.fcpw.grad, L.fcpb.grad, dout, L.fchg, L.fcpw.value, N, 4 * C, C);
        this.dfch.fill(0, 0, N * 4 * C);
        geluBackward(this.dfch, L.fch, this.dfchg, N * 4 * C);
        matmulBackward(du, L.fcw.grad, L.fcb.grad, this.dfch, uOf(L.mlp), L.fcw.value, N, C, 4 * C);
      });
      this.subBackward(L.attn, dr, n, (dout, du) => {
        this.dout.fill(0, 0, n);
        matmulBackward(this.dout, L.projw.grad, L.projb.grad, dout, L.atty, L.projw.value, N, C, C);
        this.dqkv.fill(0, 0, N * 3 * C);
        const nat = B * heads * T * T;
        this.dpreatt.fill(0, 0, nat);
        this.datt.fill(0, 0, nat);
        attentionBackward(this.dqkv, this.dpreatt, this.datt, this.dout, L.qkv, L.att, B, T, C, heads);
        matmulBackward(du, L.qkvw.grad, L.qkvb.grad, this.dqkv, uOf(L.attn), L.qkvw.value, N, C, 3 * C);
      });
    }
    const toks = this.tokens!;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const o = (b * T + t) * C;
        const te = toks[b * T + t] * C;
        const pe = t * C;
        for (let i = 0; i < C; i++) {
          this.wte.grad[te + i] += dr[o + i];
          this.wpe.grad[pe + i] += dr[o + i];
        }
      }
    }
  }

  /** RMS of the residual stream entering each block, and leaving the last (index 0..layers). */
  streamRms(): number[] {
    const n = this.B * this.cfg.T * this.cfg.C;
    return [...this.layers.map((L) => rms(L.attn.rin, n)), rms(this.lastStream, n)];
  }

  /** RMS of each attention sublayer's input: N(stream) for pre-norm, the stream itself otherwise. */
  blockInputRms(): number[] {
    const n = this.B * this.cfg.T * this.cfg.C;
    return this.layers.map((L) => rms(this.pre ? L.attn.u : L.attn.rin, n));
  }

  /** ‖∂loss/∂W^{FFN,2}‖ per block (the MLP's output matrix, the one Xiong et al. 2020 plot), from the accumulated grads. */
  ffnOutGradNorms(): number[] {
    return this.layers.map((L) => l2(L.fcpw.grad));
  }

  /** ‖∂loss/∂(block matrices)‖ per block, from the accumulated grads. */
  blockGradNorms(): number[] {
    return this.layers.map((L) => Math.hypot(l2(L.qkvw.grad), l2(L.projw.grad), l2(L.fcw.grad), l2(L.fcpw.grad)));
  }
}
