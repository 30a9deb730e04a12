/** torch.nn.LayerNorm and torch.nn.RMSNorm: statistics per row over the trailing normalizedShape. */
import {
  LAYER_NORM_EPS, MODULE_CALL_KEYS, RMS_NORM_EPS, ROW_MODULE_KEYS, checkEps, moduleShape, optBool, readOptions, rowNormArgs, rowNormBackwardArgs,
  type RowNormArgs, type RowNormBackwardArgs, type Tensor,
} from "../core/index.js";
import { layerNormBackwardOf, layerNormForwardWithStats } from "../ops/layerNorm.js";
import { rmsNormBackwardOf, rmsNormForwardWithStats } from "../ops/rmsNorm.js";
import { NormModule, SavedInput, noForward, param, type Parameter } from "./module.js";

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
  readonly #x = new SavedInput();

  constructor(normalizedShape: unknown, options: unknown, defaultEps: number, defaultBias: boolean) {
    super();
    this.normalizedShape = moduleShape(normalizedShape);
    const o = readOptions(options, "options", ROW_MODULE_KEYS);
    this.eps = checkEps(o.eps, defaultEps);
    const affine = optBool(o, "elementwiseAffine", true);
    const hasBias = optBool(o, "bias", defaultBias);
    this.weight = affine ? param("weight", this.normalizedShape, 1) : null;
    this.bias = affine && hasBias ? param("bias", this.normalizedShape, 0) : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  /** The forward's arguments, validated as the functional op's, with x replaced by the copy backward will use. */
  protected args(x: Tensor, options?: ModuleCallOptions): RowNormArgs {
    const o = readOptions(options, "options", MODULE_CALL_KEYS);
    const a = rowNormArgs(x, this.normalizedShape, { weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, out: o.out }, this.eps, true);
    return { ...a, x: this.#x.keep(a.x) };
  }

  /**
   * The backward's arguments, validated as the functional backward's: this forward's x and
   * statistics, dx into `options.out` when given, parameter grads added into `.grad`.
   */
  protected backwardArgs(dy: Tensor, rms: boolean, options?: ModuleCallOptions): RowNormBackwardArgs {
    const o = readOptions(options, "options", MODULE_CALL_KEYS);
    const s = this.saved ?? noForward(rms ? "RMSNorm" : "LayerNorm");
    const a = rowNormBackwardArgs(dy, s.a.x, this.normalizedShape, {
      weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, out: o.out,
      into: { dweight: this.weight?.grad, dbias: this.bias?.grad },
    }, this.eps, rms);
    return { ...a, stats: { mean: s.mean, rstd: s.rstd } };
  }

  /** Statistics of the last forward call (one per row): mean (LayerNorm only) and rstd; copies. */
  get stats(): { mean: Float32Array | null; rstd: Float32Array } | null {
    return this.saved && { mean: this.saved.mean?.slice() ?? null, rstd: this.saved.rstd.slice() };
  }
}

/** torch.nn.LayerNorm */
export class LayerNorm extends RowNormModule {
  constructor(normalizedShape: number | readonly number[], options: RowNormModuleOptions = {}) {
    super(normalizedShape, options, LAYER_NORM_EPS, true);
  }

  /** y for x (into `options.out` when given); keeps x (a copy), mean and rstd for backward. */
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
