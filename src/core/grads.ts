/** Saved statistics and `into` gradients handed to a backward, and the tensors results are wrapped in. */
import { NormError, describe } from "../errors.js";
import { INTO_KEYS } from "./defaults.js";
import { readOptions } from "./options.js";
import { checkParamShape } from "./shapes.js";
import { bf16BitsToF32, f16BitsToF32, f64ToBf16Bits, f64ToF16Bits } from "../dtype.js";
import { alloc, allocStored, shapeStr, type Stored, type Tensor } from "./tensor.js";

type Shaped = { readonly shape: readonly number[] };

/** Gradients returned by every `*Backward`: `dweight`/`dbias` are tensors exactly when weight/bias were given. */
export interface Grads {
  dx: Tensor;
  dweight: Tensor | null;
  dbias: Tensor | null;
}

/**
 * `options.mean`/`options.rstd` of a backward, for any tensor-like `check` accepts (CPU tensors,
 * GPU tensors), each of the given shape: null when neither is given (backward recomputes them).
 * Reads the caller's own properties only.
 */
export function savedStats<T extends Shaped>(
  check: (t: unknown, name: string) => T, options: unknown, rms: boolean, shape: readonly number[],
): { mean: T | null; rstd: T } | null {
  const o = readOptions(options, "options", null);
  const m = o.mean ?? null, r = o.rstd ?? null;
  if (rms && m !== null) {
    throw new NormError("BAD_ARGUMENT", "mean", `expected no mean (RMSNorm subtracts none; pass rstd alone), got ${describe(m)}`);
  }
  if (m === null && r === null) return null;
  if (r === null) throw new NormError("BAD_ARGUMENT", "rstd", "expected the rstd saved with mean (layerNormForward returns both), got none");
  if (!rms && m === null) throw new NormError("BAD_ARGUMENT", "mean", "expected the mean saved with rstd (layerNormForward returns both), got none");
  const stat = (t: unknown, name: string): T => {
    const c = check(t, name);
    if (c.shape.length !== shape.length || c.shape.some((d, k) => d !== shape[k])) {
      throw new NormError("BAD_PARAM_SHAPE", name, `expected shape ${shapeStr(shape)} (one value per normalized row, as the forward returns), got ${shapeStr(c.shape)}`);
    }
    return c;
  };
  return { mean: m === null ? null : stat(m, "mean"), rstd: stat(r, "rstd") };
}

/**
 * `options.into` of a backward: the gradient tensors to add into, each allowed only where its
 * parameter was given (otherwise there is no such gradient), with the parameter's shape.
 * `into: null` is the same as none; unknown keys are NormErrors.
 */
export function gradsInto<T extends Shaped>(
  check: (t: unknown, name: string) => T, into: unknown, hasWeight: boolean, hasBias: boolean, paramShape: readonly number[],
): { dweight: T | null; dbias: T | null } {
  const o = readOptions(into ?? undefined, "into", INTO_KEYS);
  const grad = (t: unknown, name: string, has: boolean, param: string): T | null => {
    if (t === undefined || t === null) return null;
    if (!has) throw new NormError("BAD_ARGUMENT", name, `expected none (no ${param} was given, so there is no gradient for it), got ${describe(t)}`);
    const c = check(t, name);
    checkParamShape(c, name, paramShape);
    return c;
  };
  return { dweight: grad(o.dweight, "into.dweight", hasWeight, "weight"), dbias: grad(o.dbias, "into.dbias", hasBias, "bias") };
}

/** A result tensor of the given shape. */
export function out(data: Float32Array, shape: readonly number[]): Tensor {
  return { shape: Object.freeze([...shape]), data };
}

/**
 * Gradient buffers for the parameters that were given: fresh zeros, or the caller's buffers
 * (`into`: `options.into`, a module's accumulated grads) which the kernels then add to.
 */
export function paramGrads(
  weight: Float32Array | null, bias: Float32Array | null, shape: readonly number[],
  into?: { dweight: Float32Array | null; dbias: Float32Array | null },
) {
  const dweight = weight === null ? null : (into?.dweight ?? alloc(weight.length, "dweight"));
  const dbias = bias === null ? null : (into?.dbias ?? alloc(bias.length, "dbias"));
  return {
    dweight,
    dbias,
    wrap(dx: Float32Array, xShape: readonly number[]): Grads {
      return {
        dx: out(dx, xShape),
        dweight: dweight !== null ? out(dweight, shape) : null,
        dbias: dbias !== null ? out(dbias, shape) : null,
      };
    },
  };
}

/** A parameter gradient of any dtype: the kernels' float64 sums, then added once into its tensor. */
export interface GradTarget {
  /** float64 sums the kernels add into (+=), zeroed */
  readonly sum: Float64Array;
  /** the gradient's storage: the caller's `into` tensor, or fresh zeros of the parameter's dtype */
  readonly target: Stored;
}

/** A GradTarget for a given parameter (null when absent): into `into` when given, else fresh. */
export function gradTarget(param: Stored | null, into: Stored | null, n: number, what: string): GradTarget | null {
  if (param === null) return null;
  return { sum: new Float64Array(n), target: into ?? allocStored(param.dtype, n, what) };
}

/**
 * target += sum, element by element, rounded once to the target's dtype (float32: the float64
 * sum of the stored value and the float64 partial sums, rounded once, as the float32 kernels add
 * their float64 sums; half: the same, to nearest even in the half dtype).
 */
export function addSums(g: GradTarget | null): void {
  if (g === null) return;
  const { sum, target } = g;
  if (target.dtype === "float32") {
    const t = target.data;
    for (let i = 0; i < t.length; i++) t[i] += sum[i]!;
    return;
  }
  const t = target.data;
  const [from, to] = target.dtype === "float16" ? [f16BitsToF32, f64ToF16Bits] : [bf16BitsToF32, f64ToBf16Bits];
  for (let i = 0; i < t.length; i++) t[i] = to(from(t[i]!) + sum[i]!);
}
