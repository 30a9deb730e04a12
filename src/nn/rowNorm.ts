/**
 * torch.nn.LayerNorm and torch.nn.RMSNorm: statistics per row over the trailing normalizedShape.
 *
 * Resident by default where wasm memory is shared (Node; browsers with shared WebAssembly memory):
 * the saved copy of x and the statistics live in wasm memory, so the kernels run on them in place,
 * and for a resident input (a `wasmTensor`) forward returns y, and backward dx for a resident dy,
 * in a buffer the module owns and reuses: the next call overwrites it (pass `out` to keep a
 * result). A training loop of modules on resident tensors then allocates nothing per step. Plain
 * inputs get fresh plain outputs, as before.
 */
import {
  LAYER_NORM_EPS, MODULE_CALL_KEYS, RMS_NORM_EPS, ROW_MODULE_KEYS, checkEps, moduleShape, optBool, readOptions, rowNormArgs, rowNormBackwardArgs,
  type RowNormArgs, type RowNormBackwardArgs, type Tensor,
} from "../core/index.js";
import { kernels } from "../backends/registry.js";
import { layerNormBackwardOf, layerNormForwardWithStats } from "../ops/layerNorm.js";
import { rmsNormBackwardOf, rmsNormForwardWithStats } from "../ops/rmsNorm.js";
import { isResident } from "../backends/wasm/resident.js";
import { overlaps } from "../core/index.js";
import { NormModule, Reused, SavedInput, noForward, param, type Parameter } from "./module.js";

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
  /** forward's statistics, and the outputs returned for resident inputs (see the file's comment) */
  protected readonly buf = { mean: new Reused("mean"), rstd: new Reused("rstd"), y: new Reused("y"), dx: new Reused("dx") };

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
    // y into the module's buffer for a resident x (before x is replaced by the kept copy)
    const out = a.out ?? (isResident(a.x.data) ? this.buf.y.get(a.rows * a.D) : null);
    return { ...a, out, x: this.#x.keep(a.x) };
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
    // dx into the module's buffer for a resident dy, unless dy is that buffer (a previous dx)
    let out = a.out;
    if (out === null && isResident(a.dy)) {
      const dx = this.buf.dx.get(a.rows * a.D);
      if (!overlaps(dx, a.dy)) out = dx;
    }
    return { ...a, out, stats: { mean: s.mean, rstd: s.rstd } };
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
    const { y, mean, rstd } = layerNormForwardWithStats(a, kernels(), { mean: this.buf.mean.get(a.rows), rstd: this.buf.rstd.get(a.rows) });
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
    const { y, rstd } = rmsNormForwardWithStats(a, kernels(), { rstd: this.buf.rstd.get(a.rows) });
    this.saved = { a, mean: null, rstd };
    return y;
  }

  backward(dy: Tensor, options?: ModuleCallOptions): Tensor {
    return rmsNormBackwardOf(this.backwardArgs(dy, true, options)).dx;
  }
}
