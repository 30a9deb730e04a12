/**
 * The lab's normalization layers are normkit's own public modules (LayerNorm, RMSNorm, BatchNorm):
 * this wrapper only adapts them to flat rows × D buffers and times them (for claim 5).
 */
import { BatchNorm, LayerNorm, RMSNorm, tensor, type NormModule } from "../../src/index.js";
import { fromModule, type Param } from "../train/params.js";

export type NormKind = "layernorm" | "rmsnorm" | "batchnorm";

/** Milliseconds spent inside normkit's forward/backward, summed over all NormLayers while enabled. */
export const normTimer = { enabled: false, ms: 0 };

export class NormLayer {
  readonly module: LayerNorm | RMSNorm | BatchNorm;
  readonly params: Param[];

  constructor(readonly kind: NormKind, readonly D: number, name: string) {
    // BatchNorm over features of [N, D] = BatchNorm1d(D); LayerNorm/RMSNorm over the last dim
    this.module = kind === "layernorm" ? new LayerNorm(D) : kind === "rmsnorm" ? new RMSNorm(D) : new BatchNorm(D);
    this.params = fromModule(name, this.module.parameters());
  }

  /** y (rows × D) = norm(x); the module keeps its statistics for backward. */
  forward(y: Float32Array, x: Float32Array, rows: number): void {
    const t0 = normTimer.enabled ? performance.now() : 0;
    const xt = tensor(x.subarray(0, rows * this.D), [rows, this.D]);
    // LayerNorm/RMSNorm write y in place; BatchNorm's module returns a new tensor
    if (this.module instanceof BatchNorm) y.set(this.module.forward(xt).data);
    else this.module.forward(xt, { out: tensor(y.subarray(0, rows * this.D), [rows, this.D]) });
    if (normTimer.enabled) normTimer.ms += performance.now() - t0;
  }

  /** dx += dnorm/dx · dy; the module adds its dweight/dbias into the parameter grads. */
  backward(dx: Float32Array, dy: Float32Array, rows: number): void {
    const t0 = normTimer.enabled ? performance.now() : 0;
    const g = this.module.backward(tensor(dy.subarray(0, rows * this.D), [rows, this.D])).data;
    for (let i = 0; i < g.length; i++) dx[i] += g[i];
    if (normTimer.enabled) normTimer.ms += performance.now() - t0;
  }

  setTraining(on: boolean): void {
    (this.module as NormModule).train(on);
  }
}
