/** torch.nn.InstanceNorm1d/2d/3d (one class: x is [N, C, *]). */
import { INSTANCE_MODULE_KEYS, INSTANCE_NORM_EPS, INSTANCE_NORM_MOMENTUM, instanceNormArgs, readOptions, type AnyTensor, type InstanceNormArgs, type Like, type Tensor } from "../core/index.js";
import { instanceNormBackwardWithStats, instanceNormForwardWithStats } from "../ops/instanceNorm.js";
import { RunningStatsModule, savedBackward, type BatchNormModuleOptions } from "./channel.js";

/** InstanceNorm's options: affine and trackRunningStats default to false, as PyTorch's. */
export type InstanceNormModuleOptions = BatchNormModuleOptions;

/**
 * torch.nn.InstanceNorm1d/2d/3d: each (sample, channel) normalized over its positions. Affine and
 * running statistics are off by default; with trackRunningStats, training updates the running
 * statistics with the batch mean of the per-instance statistics (unbiased variance) and eval
 * normalizes with them (PyTorch: use_input_stats = training || !track_running_stats). momentum
 * null is the cumulative average over the training batches, as BatchNorm's.
 */
export class InstanceNorm extends RunningStatsModule {
  private last: { a: InstanceNormArgs; mean: { mean: Float32Array; rstd: Float32Array } | null; rstd: null } | null = null;

  constructor(numFeatures: number, options: InstanceNormModuleOptions = {}) {
    super(numFeatures, options, INSTANCE_MODULE_KEYS, { eps: INSTANCE_NORM_EPS, momentum: INSTANCE_NORM_MOMENTUM, affine: false, track: false });
  }

  /** y for x (x's dtype); keeps x (a copy) and the per-instance statistics for backward. */
  forward<T extends AnyTensor = Tensor>(x: T, options?: Record<string, never>): Like<T> {
    readOptions(options, "options", []);
    const { batchStats, ...o } = this.callOptions(this.training || this.runningMean === null);
    const a = instanceNormArgs(x, { ...o, useInputStats: batchStats });
    const kept = { ...a, x: this.saved.keep(a.x) };
    const { y, stats } = instanceNormForwardWithStats(kept, true);
    if (this.training && this.runningMean !== null) this.numBatchesTracked++;
    this.last = { a: kept, mean: stats, rstd: null };
    return y as Like<T>;
  }

  /** dx for dy, from the forward's x and statistics; adds dweight/dbias into the parameters' grads. */
  backward<T extends AnyTensor = Tensor>(dy: T, options?: Record<string, never>): Like<T> {
    return savedBackward("InstanceNorm", this.last, dy, options, this.weight, this.bias, (a, g, stats, _, into) => instanceNormBackwardWithStats(a, g, stats, into)) as Like<T>;
  }
}
