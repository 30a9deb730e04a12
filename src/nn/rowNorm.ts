/** torch.nn.LayerNorm and torch.nn.RMSNorm: statistics per row over the trailing normalizedShape. */
import { kernels } from "../backends/registry.js";
import {
  LAYER_NORM_EPS, MODULE_CALL_KEYS, RMS_NORM_EPS, ROW_MODULE_KEYS, checkCastingMode, checkEps, checkWeightOffset, moduleShape, optBool, readOptions,
  rowNormBackwardSpec, rowNormSpec, tensorOf,
  type AnyTensor, type CastingMode, type Like, type RowNormSpec, type Tensor,
} from "../core/index.js";
import { rowBackward, rowForward } from "../ops/rows.js";
import { NormModule, SavedInput, noForward, param, type Parameter } from "./module.js";

/** Per-call options of the LayerNorm/RMSNorm modules. */
export interface ModuleCallOptions {
  /** Write the result (y, or dx) into this tensor — x's shape and dtype, not overlapping an input — instead of a new one. */
  out?: AnyTensor | null;
}

export interface RowNormModuleOptions {
  eps?: number;
  /** Learnable γ and β as in PyTorch's elementwise_affine. Default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, whether β exists. Default: true for LayerNorm, false for RMSNorm. */
  bias?: boolean;
  /**
   * y = x̂·(weightOffset + γ) + β (Gemma: 1). γ is initialised to 1 − weightOffset, so y = x̂ at
   * init (Gemma's zeros for offset 1). Default 0.
   */
  weightOffset?: number;
  /** For half x: "gemma" (default), "llama" or "none" (docs/ops-semantics.md). */
  castingMode?: CastingMode;
}

abstract class RowNormModule extends NormModule {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weightOffset: number;
  readonly castingMode: CastingMode;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  protected saved: { a: RowNormSpec; mean: Float32Array | null; rstd: Float32Array } | null = null;
  readonly #x = new SavedInput();

  constructor(normalizedShape: unknown, options: unknown, defaultEps: number, defaultBias: boolean) {
    super();
    this.normalizedShape = moduleShape(normalizedShape);
    const o = readOptions(options, "options", ROW_MODULE_KEYS);
    this.eps = checkEps(o.eps, defaultEps);
    this.weightOffset = checkWeightOffset(o.weightOffset);
    this.castingMode = checkCastingMode(o.castingMode);
    const affine = optBool(o, "elementwiseAffine", true);
    const hasBias = optBool(o, "bias", defaultBias);
    this.weight = affine ? param("weight", this.normalizedShape, 1 - this.weightOffset) : null;
    this.bias = affine && hasBias ? param("bias", this.normalizedShape, 0) : null;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias].filter((p): p is Parameter => p !== null);
  }

  private common() {
    return { weight: this.weight?.value, bias: this.bias?.value, eps: this.eps, weightOffset: this.weightOffset, castingMode: this.castingMode };
  }

  /** y for x (into `options.out`); keeps x (a copy) and the statistics for backward. */
  protected run<T extends AnyTensor>(rms: boolean, x: T, options?: ModuleCallOptions): Like<T> {
    const o = readOptions(options, "options", MODULE_CALL_KEYS);
    const v = rowNormSpec(x, this.normalizedShape, { ...this.common(), out: o.out }, this.eps);
    const a = { ...v, x: this.#x.keep(v.x) };
    const r = rowForward(a, rms, kernels());
    this.saved = { a, mean: r.mean, rstd: r.rstd };
    return tensorOf(r.y, a.x.shape) as Like<T>;
  }

  /**
   * dx for dy, validated as the functional backward's: this forward's x and statistics, dx into
   * `options.out` when given, parameter grads added into `.grad`.
   */
  protected runBackward<T extends AnyTensor>(rms: boolean, dy: T, options?: ModuleCallOptions): Like<T> {
    const o = readOptions(options, "options", MODULE_CALL_KEYS);
    const s = this.saved ?? noForward(rms ? "RMSNorm" : "LayerNorm");
    const a = rowNormBackwardSpec(dy, s.a.x, this.normalizedShape, {
      ...this.common(), out: o.out, into: { dweight: this.weight?.grad, dbias: this.bias?.grad },
    }, this.eps, rms);
    return rowBackward({ ...a, stats: { mean: s.mean, rstd: s.rstd } }, rms, kernels()).dx as Like<T>;
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

  /** y for x (x's dtype; into `options.out` when given); keeps x (a copy), mean and rstd for backward. */
  forward<T extends AnyTensor = Tensor>(x: T, options?: ModuleCallOptions): Like<T> {
    return this.run(false, x, options);
  }

  /** dx for dy (into `options.out` when given); adds this call's dweight/dbias into the parameters' grads. */
  backward<T extends AnyTensor = Tensor>(dy: T, options?: ModuleCallOptions): Like<T> {
    return this.runBackward(false, dy, options);
  }
}

/** torch.nn.RMSNorm (no bias by default; `bias: true` adds β). */
export class RMSNorm extends RowNormModule {
  constructor(normalizedShape: number | readonly number[], options: RowNormModuleOptions = {}) {
    super(normalizedShape, options, RMS_NORM_EPS, false);
  }

  forward<T extends AnyTensor = Tensor>(x: T, options?: ModuleCallOptions): Like<T> {
    return this.run(true, x, options);
  }

  backward<T extends AnyTensor = Tensor>(dy: T, options?: ModuleCallOptions): Like<T> {
    return this.runBackward(true, dy, options);
  }
}
