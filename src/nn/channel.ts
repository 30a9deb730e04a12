/** torch.nn.GroupNorm and torch.nn.BatchNorm1d/2d/3d: x is [N, C, *]. */
import {
  BATCH_MODULE_KEYS, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, GROUP_MODULE_KEYS, GROUP_NORM_EPS,
  batchNormArgs, checkCount, checkEps, checkMomentum, checkNumGroups, checkSameShape, groupNormArgs, optBool, readOptions,
  type BatchNormArgs, type GroupNormArgs, type Grads, type Tensor,
} from "../core/index.js";
import { batchNormBackwardWithStats, batchNormForwardWithStats } from "../ops/batchNorm.js";
import { groupNormBackwardWithStats, groupNormForwardWithStats } from "../ops/groupNorm.js";
import { NormModule, SavedInput, noForward, param, type Parameter, type StateEntry } from "./module.js";

export interface ChannelModuleOptions {
  eps?: number;
  /** Learnable per-channel γ (init 1) and β (init 0). Default true. */
  affine?: boolean;
}

/** GroupNorm and BatchNorm modules take no per-call options. */
const NO_OPTIONS: readonly string[] = [];

type Into = { dweight: Float32Array | null; dbias: Float32Array | null };

/** A channel module's backward: the saved forward (x copy, statistics), dy of x's shape, grads added into the parameters. */
function savedBackward<A extends { x: Tensor }, S>(
  name: string, saved: { a: A; mean: S; rstd: S } | null, dy: Tensor, options: unknown,
  weight: Parameter | null, bias: Parameter | null, run: (a: A, dy: Float32Array, mean: S, rstd: S, into: Into) => Grads,
): Tensor {
  readOptions(options, "options", NO_OPTIONS);
  const s = saved ?? noForward(name);
  return run(s.a, checkSameShape(dy, s.a.x).data, s.mean, s.rstd, { dweight: weight?.grad.data ?? null, dbias: bias?.grad.data ?? null }).dx;
}

/** torch.nn.GroupNorm; eps and affine are fixed at construction, as in PyTorch. */
export class GroupNorm extends NormModule {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  /** the validated constructor options (a frozen copy) */
  readonly options: Readonly<ChannelModuleOptions>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  private saved: { a: GroupNormArgs; mean: Float32Array; rstd: Float32Array } | null = null;
  readonly #x = new SavedInput();

  constructor(numGroups: number, numChannels: number, options: ChannelModuleOptions = {}) {
    super();
    this.numChannels = checkCount(numChannels, "numChannels", 0);
    this.numGroups = checkNumGroups(numGroups, this.numChannels);
    const o = readOptions(options, "options", GROUP_MODULE_KEYS);
    this.eps = checkEps(o.eps, GROUP_NORM_EPS);
    const affine = optBool(o, "affine", true);
    this.options = Object.freeze({ eps: this.eps, affine });
    this.weight = affine ? param("weight", [this.numChannels], 1) : null;
    this.bias = affine ? param("bias", [this.numChannels], 0) : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  /** y for x; keeps x (a copy) and the group statistics for backward. */
  forward(x: Tensor, options?: Record<string, never>): Tensor {
    readOptions(options, "options", NO_OPTIONS);
    const a = groupNormArgs(x, this.numGroups, { weight: this.weight?.value, bias: this.bias?.value, eps: this.eps });
    const kept = { ...a, x: this.#x.keep(a.x) };
    const { y, mean, rstd } = groupNormForwardWithStats(kept);
    this.saved = { a: kept, mean, rstd };
    return y;
  }

  /** dx for dy, from the forward's x and statistics; adds dweight/dbias into the parameters' grads. */
  backward(dy: Tensor, options?: Record<string, never>): Tensor {
    return savedBackward("GroupNorm", this.saved, dy, options, this.weight, this.bias, groupNormBackwardWithStats);
  }
}

export interface BatchNormModuleOptions extends ChannelModuleOptions {
  /** Weight of each batch in the running statistics; null: their cumulative average (PyTorch's momentum=None). Default 0.1. */
  momentum?: number | null;
  /** Keep running statistics (used in eval mode). Default true. */
  trackRunningStats?: boolean;
}

/** torch.nn.BatchNorm1d/2d/3d (one class: x is [N, C, *]). */
export class BatchNorm extends NormModule {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  /** the validated constructor options (a frozen copy) */
  readonly options: Readonly<BatchNormModuleOptions>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /** Training batches seen with running statistics (PyTorch's num_batches_tracked); momentum null averages over them. */
  numBatchesTracked = 0;
  private saved: { a: BatchNormArgs; mean: Float64Array; rstd: Float64Array } | null = null;
  readonly #x = new SavedInput();

  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) {
    super();
    this.numFeatures = checkCount(numFeatures, "numFeatures", 0);
    const o = readOptions(options, "options", BATCH_MODULE_KEYS);
    this.eps = checkEps(o.eps, BATCH_NORM_EPS);
    this.momentum = checkMomentum(o.momentum, BATCH_NORM_MOMENTUM);
    const affine = optBool(o, "affine", true);
    const track = optBool(o, "trackRunningStats", true);
    this.options = Object.freeze({ eps: this.eps, momentum: this.momentum, affine, trackRunningStats: track });
    this.weight = affine ? param("weight", [this.numFeatures], 1) : null;
    this.bias = affine ? param("bias", [this.numFeatures], 0) : null;
    this.runningMean = track ? param("runningMean", [this.numFeatures], 0).value : null;
    this.runningVar = track ? param("runningVar", [this.numFeatures], 1).value : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  override buffers() {
    return this.runningMean && this.runningVar
      ? [{ name: "runningMean", value: this.runningMean }, { name: "runningVar", value: this.runningVar }]
      : [];
  }

  protected override stateEntries(): StateEntry[] {
    if (this.runningMean === null) return super.stateEntries();
    return [...super.stateEntries(), {
      name: "numBatchesTracked", shape: [],
      read: () => [this.numBatchesTracked],
      check: (v) => void checkCount(v[0], "stateDict.numBatchesTracked", 0, "BAD_ARGUMENT"),
      write: (v) => void (this.numBatchesTracked = v[0]!),
    }];
  }

  /** y for x: batch statistics in training mode (updating the running ones), else the running statistics. */
  forward(x: Tensor, options?: Record<string, never>): Tensor {
    readOptions(options, "options", NO_OPTIONS);
    const tracking = this.training && this.runningMean !== null;
    const a = batchNormArgs(x, {
      weight: this.weight?.value,
      bias: this.bias?.value,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      // without running statistics, eval mode uses batch statistics, as PyTorch does
      training: this.training || this.runningMean === null,
      momentum: this.momentum,
      numBatchesTracked: this.numBatchesTracked,
      eps: this.eps,
    });
    const kept = { ...a, x: this.#x.keep(a.x) };
    const { y, mean, rstd } = batchNormForwardWithStats(kept, true);
    if (tracking) this.numBatchesTracked++;
    this.saved = { a: kept, mean, rstd };
    return y;
  }

  /** dx for dy in the forward's mode, from its x and statistics; adds dweight/dbias into the parameters' grads. */
  backward(dy: Tensor, options?: Record<string, never>): Tensor {
    return savedBackward("BatchNorm", this.saved, dy, options, this.weight, this.bias, batchNormBackwardWithStats);
  }
}

