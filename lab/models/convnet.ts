/**
 * A small convolutional classifier for Wu & He 2018's experiment: 3×3 convolutions (the second
 * with stride 2), each followed by a normalization and ReLU, global average pooling and a linear head:
 *   x [B, 1, S, S] → conv(1→c1) → N → ReLU → conv(c1→c2, stride 2) → N → ReLU [→ conv(c2→c2) → N → ReLU] → mean over positions → linear → logits
 * N is normkit's BatchNorm (statistics per channel over the batch and the positions), GroupNorm
 * (per sample, over groups of channels and the positions) or LayerNorm in Wu & He's sense, which is
 * GroupNorm with one group (per sample, over all channels and positions). He-normal convolutions
 * (ReLU), LeCun-normal head, zero biases; convolutions have no bias, as before a BatchNorm.
 */
import { BatchNorm, GroupNorm, tensor } from "../../src/index.js";
import { avgPoolBackward, avgPoolForward, col2im, im2col, nchwToNhwc, nhwcToNchw, outSize, patchIndex, reluBackward, reluForward, type ConvShape } from "../train/conv.js";
import { crossEntropyBackward, crossEntropyForward, matmulBackward, matmulForward } from "../train/kernels.js";
import { fromModule, param, type Param } from "../train/params.js";
import type { Rng } from "../train/rng.js";

export type ConvNorm = "batchnorm" | "groupnorm" | "layernorm";

export interface ConvNetConfig {
  /** image side; one input channel */
  size: number;
  channels: [number, number];
  /** 2 or 3 convolutions (the third keeps c2 channels at stride 1) */
  convs: 2 | 3;
  /** GroupNorm's groups (channels per group = c / groups) */
  groups: number;
  classes: number;
  norm: ConvNorm;
  maxBatch: number;
}

interface Stage {
  shape: ConvShape;
  /** which input pixel each patch element reads (patchIndex) */
  idx: Int32Array;
  /** positions out (Ho·Wo) and channels out */
  S: number;
  Cout: number;
  w: Param;
  norm: BatchNorm | GroupNorm;
  cols: Float32Array;
  /** conv output as rows (NHWC), the same as planes (NCHW), normalized, after ReLU */
  rows: Float32Array;
  planes: Float32Array;
  normed: Float32Array;
  act: Float32Array;
}

export class ConvNet {
  readonly params: Param[] = [];
  private readonly stages: Stage[] = [];
  private readonly head: Param;
  private readonly headBias: Param;
  private readonly pooled: Float32Array;
  readonly logits: Float32Array;
  private readonly probs: Float32Array;
  private x: Float32Array | null = null;
  private targets: Int32Array | null = null;
  private B = 0;

  constructor(readonly cfg: ConvNetConfig, rng: Rng) {
    const { size, channels: [c1, c2], classes: K, maxBatch: N } = cfg;
    const mk = (name: string, n: number, decay: boolean, std: number) => {
      const p = param(name, n, decay);
      if (std > 0) rng.fillNormal(p.value, std);
      this.params.push(p);
      return p;
    };
    let H = size;
    let Cin = 1;
    for (const [i, [Cout, stride]] of ([[c1, 1], [c2, 2], [c2, 1]] as const).slice(0, cfg.convs).entries()) {
      const shape: ConvShape = { B: N, Cin, H, W: H, K: 3, stride, pad: 1 };
      const Ho = outSize(H, 3, stride, 1);
      const S = Ho * Ho;
      const norm = cfg.norm === "batchnorm" ? new BatchNorm(Cout) : new GroupNorm(cfg.norm === "groupnorm" ? cfg.groups : 1, Cout);
      const w = mk(`conv${i}.w`, 9 * Cin * Cout, true, Math.sqrt(2 / (9 * Cin)));
      this.params.push(...fromModule(`conv${i}.norm`, norm.parameters()));
      const n = N * S * Cout;
      this.stages.push({
        shape, idx: patchIndex(shape), S, Cout, w, norm, cols: new Float32Array(N * S * 9 * Cin),
        rows: new Float32Array(n), planes: new Float32Array(n), normed: new Float32Array(n), act: new Float32Array(n),
      });
      H = Ho;
      Cin = Cout;
    }
    this.head = mk("head.w", c2 * K, true, Math.sqrt(1 / c2));
    this.headBias = mk("head.b", K, false, 0);
    this.pooled = new Float32Array(N * c2);
    this.logits = new Float32Array(N * K);
    this.probs = new Float32Array(N * K);
  }

  /** Train mode (BatchNorm: batch statistics) or eval mode (running statistics). */
  setTraining(on: boolean): void {
    for (const s of this.stages) s.norm.train(on);
  }

  /** Forward on B images x [B, 1, size, size]; returns the mean cross-entropy. */
  forward(x: Float32Array, targets: Int32Array, B: number): number {
    if (!(B >= 1 && B <= this.cfg.maxBatch)) throw new RangeError(`ConvNet: batch ${B} outside 1..${this.cfg.maxBatch}`);
    this.x = x;
    this.targets = targets;
    this.B = B;
    let input = x;
    for (const s of this.stages) {
      const shape = { ...s.shape, B };
      const n = B * s.S * s.Cout;
      im2col(s.cols, input, shape, s.idx);
      matmulForward(s.rows, s.cols, s.w.value, null, B * s.S, 9 * shape.Cin, s.Cout);
      nhwcToNchw(s.planes, s.rows, B, s.S, s.Cout);
      s.normed.set(s.norm.forward(tensor(s.planes.subarray(0, n), [B, s.Cout, s.S])).data);
      reluForward(s.act, s.normed, n);
      input = s.act;
    }
    const last = this.stages[this.stages.length - 1];
    const { classes: K } = this.cfg;
    avgPoolForward(this.pooled, last.act, B, last.Cout, last.S);
    matmulForward(this.logits, this.pooled, this.head.value, this.headBias.value, B, last.Cout, K);
    return crossEntropyForward(this.probs, this.logits, targets, B, K);
  }

  /** Accumulates ∂loss/∂θ into the parameter grads (zero them first). */
  backward(): void {
    const B = this.B;
    const { classes: K } = this.cfg;
    const last = this.stages[this.stages.length - 1];
    const dlogits = new Float32Array(B * K);
    crossEntropyBackward(dlogits, this.probs, this.targets!, B, K);
    const dpooled = new Float32Array(B * last.Cout);
    matmulBackward(dpooled, this.head.grad, this.headBias.grad, dlogits, this.pooled, this.head.value, B, last.Cout, K);
    let dact = new Float32Array(B * last.Cout * last.S);
    avgPoolBackward(dact, dpooled, B, last.Cout, last.S);
    for (let i = this.stages.length - 1; i >= 0; i--) {
      const s = this.stages[i];
      const shape = { ...s.shape, B };
      const n = B * s.S * s.Cout;
      const dnormed = new Float32Array(n);
      reluBackward(dnormed, s.normed, dact, n);
      const dplanes = s.norm.backward(tensor(dnormed, [B, s.Cout, s.S])).data;
      const drows = new Float32Array(n);
      nchwToNhwc(drows, dplanes, B, s.S, s.Cout);
      const rowLen = 9 * shape.Cin;
      const dcols = i > 0 ? new Float32Array(B * s.S * rowLen) : null;
      matmulBackward(dcols, s.w.grad, null, drows, s.cols, s.w.value, B * s.S, rowLen, s.Cout);
      if (dcols !== null) {
        dact = new Float32Array(B * shape.Cin * shape.H * shape.W);
        col2im(dact, dcols, shape, s.idx);
      }
    }
  }
}
