/**
 * Modules for training: LayerNorm, RMSNorm, BatchNorm, GroupNorm. Each holds its parameters and
 * their gradients; `forward(x)` keeps the statistics it computed (mean, rstd) and `backward(dy)`
 * reuses them rather than recomputing, accumulating (+=) into the parameter gradients.
 */
import { type BatchNormArgs, batchNormArgs, batchNormBackwardWithStats, batchNormForwardWithStats, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM } from "../ops/batchNorm.js";
import { checkSameShape, rowNormArgs, rowNormBackwardArgs, type RowNormArgs, type RowNormBackwardArgs } from "../ops/common.js";
import { checkOptions } from "../tensor.js";
import { type GroupNormArgs, groupNormArgs, groupNormBackwardWithStats, groupNormForwardWithStats, GROUP_NORM_EPS } from "../ops/groupNorm.js";
import { LAYER_NORM_EPS, layerNormBackwardOf, layerNormForwardWithStats } from "../ops/layerNorm.js";
import { RMS_NORM_EPS, rmsNormBackwardOf, rmsNormForwardWithStats } from "../ops/rmsNorm.js";
import type { Tensor } from "../tensor.js";
import { NormModule, noForward, param, type Parameter } from "./module.js";

export { NormModule, type Parameter, type StateDict } from "./module.js";

/** Per-call options of the LayerNorm/RMSNorm modules. */
export interface ModuleCallOptions {
  /** Write the result (y, or dx) into this tensor — x's shape, not overlapping an input — instead of a new one. */
  out?: Tensor | null;
}

export interface RowNormModuleOptions {
  eps?: number;
  /** Learnable γ (init 1) and β (init 0) as in PyTorch's elementwise_affine. Default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, whether β exists. Default: true for LayerNorm, false for RMSNorm. */
  bias?: boolean;
}

abstract class RowNormModule extends NormModule {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  protected saved: { a: RowNormArgs; mean: Float32Array | null; rstd: Float32Array } | null = null;

  constructor(normalizedShape: number | readonly number[], options: RowNormModuleOptions, defaultEps: number, defaultBias: boolean) {
    super();
    this.normalizedShape = Object.freeze(typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape]);
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? param("weight", this.normalizedShape, 1) : null;
    this.bias = affine && (options.bias ?? defaultBias) ? param("bias", this.normalizedShape, 0) : null;
    // validates eps and normalizedShape once, with a probe of the right trailing shape
    this.eps = rowNormArgs({ shape: this.normalizedShape, data: new Float32Array(this.normalizedShape.reduce((p, d) => p * d, 1)) }, this.normalizedShape, { eps: options.eps }, defaultEps).eps;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  protected args(x: Tensor, options?: ModuleCallOptions): RowNormArgs {
    const o = checkOptions<ModuleCallOptions>(options);
    return rowNormArgs(x, this.normalizedShape, { weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, out: o.out }, this.eps, true);
  }

  /**
   * The backward's arguments, validated as the functional backward's: this forward's x and
   * statistics, dx into `options.out` when given, parameter grads added into `.grad`.
   */
  protected backwardArgs(dy: Tensor, rms: boolean, options?: ModuleCallOptions): RowNormBackwardArgs {
    const s = this.saved ?? noForward(rms ? "RMSNorm" : "LayerNorm");
    const o = checkOptions<ModuleCallOptions>(options);
    const a = rowNormBackwardArgs(dy, s.a.x, this.normalizedShape, {
      weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, out: o.out,
      into: { dweight: this.weight?.grad, dbias: this.bias?.grad },
    }, this.eps, rms);
    return { ...a, stats: { mean: s.mean, rstd: s.rstd } };
  }

  /** Statistics of the last forward call (one per row): mean (LayerNorm only) and rstd. */
  get stats(): { mean: Float32Array | null; rstd: Float32Array } | null {
    return this.saved;
  }
}

/** torch.nn.LayerNorm */
export class LayerNorm extends RowNormModule {
  constructor(normalizedShape: number | readonly number[], options: RowNormModuleOptions = {}) {
    super(normalizedShape, options, LAYER_NORM_EPS, true);
  }

  /** y for x (into `options.out` when given); keeps mean/rstd for backward. */
  forward(x: Tensor, options?: ModuleCallOptions): Tensor {
    const a = this.args(x, options);
    const { y, mean, rstd } = layerNormForwardWithStats(a);
    this.saved = { a, mean, rstd };
    return y;
  }

  /** dx for dy (into `options.out` when given); adds this call's dweight/dbias into the parameters' grads. */
  backward(dy: Tensor, options?: ModuleCallOptions): Tensor {
    return layerNormBackwardOf(this.backwardArgs(dy, false, options)).dx;
  }
}

/** torch.nn.RMSNorm (no bias by default; `bias: true` adds β). */
export class RMSNorm extends RowNormModule {
  constructor(normalizedShape: number | readonly number[], options: RowNormModuleOptions = {}) {
    super(normalizedShape, options, RMS_NORM_EPS, false);
  }

  forward(x: Tensor, options?: ModuleCallOptions): Tensor {
    const a = this.args(x, options);
    const { y, rstd } = rmsNormForwardWithStats(a);
    this.saved = { a, mean: null, rstd };
    return y;
  }

  backward(dy: Tensor, options?: ModuleCallOptions): Tensor {
    return rmsNormBackwardOf(this.backwardArgs(dy, true, options)).dx;
  }
}

export interface ChannelModuleOptions {
  eps?: number;
  /** Learnable per-channel γ (init 1) and β (init 0). Default true. */
  affine?: boolean;
}

/** torch.nn.GroupNorm */
export class GroupNorm extends NormModule {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  private saved: { a: GroupNormArgs; mean: Float32Array; rstd: Float32Array } | null = null;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly options: ChannelModuleOptions = {}) {
    super();
    const affine = options.affine ?? true;
    this.weight = affine ? param("weight", [numChannels], 1) : null;
    this.bias = affine ? param("bias", [numChannels], 0) : null;
    groupNormArgs({ shape: [1, numChannels], data: new Float32Array(numChannels) }, numGroups, { eps: options.eps });
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  forward(x: Tensor): Tensor {
    const a = groupNormArgs(x, this.numGroups, { weight: this.weight?.value, bias: this.bias?.value, eps: this.options.eps ?? GROUP_NORM_EPS });
    const { y, mean, rstd } = groupNormForwardWithStats(a);
    this.saved = { a, mean, rstd };
    return y;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved ?? noForward("GroupNorm");
    const into = { dweight: this.weight?.grad.data ?? null, dbias: this.bias?.grad.data ?? null };
    return groupNormBackwardWithStats(s.a, checkSameShape(dy, s.a.x).data, s.mean, s.rstd, into).dx;
  }
}

export interface BatchNormModuleOptions extends ChannelModuleOptions {
  momentum?: number;
  /** Keep running statistics (used in eval mode). Default true. */
  trackRunningStats?: boolean;
}

/** torch.nn.BatchNorm1d/2d/3d (one class: x is [N, C, *]). */
export class BatchNorm extends NormModule {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  private saved: { a: BatchNormArgs; mean: Float64Array; rstd: Float64Array } | null = null;

  constructor(readonly numFeatures: number, readonly options: BatchNormModuleOptions = {}) {
    super();
    const affine = options.affine ?? true;
    this.weight = affine ? param("weight", [numFeatures], 1) : null;
    this.bias = affine ? param("bias", [numFeatures], 0) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? param("runningMean", [numFeatures], 0).value : null;
    this.runningVar = track ? param("runningVar", [numFeatures], 1).value : null;
    batchNormArgs({ shape: [2, numFeatures], data: new Float32Array(2 * numFeatures) }, { eps: options.eps, momentum: options.momentum, training: true });
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  override buffers() {
    return this.runningMean && this.runningVar
      ? [{ name: "runningMean", value: this.runningMean }, { name: "runningVar", value: this.runningVar }]
      : [];
  }

  forward(x: Tensor): Tensor {
    const a = batchNormArgs(x, {
      weight: this.weight?.value,
      bias: this.bias?.value,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      // without running statistics, eval mode uses batch statistics, as PyTorch does
      training: this.training || this.runningMean === null,
      momentum: this.options.momentum ?? BATCH_NORM_MOMENTUM,
      eps: this.options.eps ?? BATCH_NORM_EPS,
    });
    const { y, mean, rstd } = batchNormForwardWithStats(a, true);
    this.saved = { a, mean, rstd };
    return y;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved ?? noForward("BatchNorm");
    const into = { dweight: this.weight?.grad.data ?? null, dbias: this.bias?.grad.data ?? null };
    return batchNormBackwardWithStats(s.a, checkSameShape(dy, s.a.x).data, s.mean, s.rstd, into).dx;
  }
}
