import { NormError, describe } from "./errors.js";

/** A dense float32 tensor: row-major, contiguous. Any object of this form is accepted. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Makes a tensor. A Float32Array is used as is (not copied: like torch.from_numpy); any other
 * array-like is copied into a new Float32Array. Throws NormError if the shape does not fit the data.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  if (data === null || typeof data !== "object" || typeof (data as ArrayLike<number>).length !== "number") {
    throw new NormError("BAD_DTYPE", "data", `expected a Float32Array or an array of numbers, got ${describe(data)}`);
  }
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  const t = { shape: Object.freeze([...checkShape(shape, "shape")]), data: f32 };
  checkTensor(t, "tensor");
  return t;
}

/** Product of dims (1 for a scalar shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function checkShape(shape: unknown, name: string): readonly number[] {
  if (!Array.isArray(shape)) {
    throw new NormError("BAD_SHAPE", name, `expected an array of non-negative integers, got ${describe(shape)}`);
  }
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new NormError(
        "BAD_SHAPE",
        name,
        `expected non-negative integer dims, got ${describe(d)} at position ${i} of ${describe(shape)}`,
      );
    }
  }
  return shape;
}

/** Validates a tensor-like argument at the public boundary; returns it typed. */
export function checkTensor(t: unknown, name: string): Tensor {
  if (t === null || typeof t !== "object") {
    throw new NormError("BAD_ARGUMENT", name, `expected a tensor {shape, data: Float32Array}, got ${describe(t)}`);
  }
  const { shape, data } = t as { shape: unknown; data: unknown };
  checkShape(shape, `${name}.shape`);
  if (!(data instanceof Float32Array)) {
    throw new NormError("BAD_DTYPE", `${name}.data`, `expected a Float32Array, got ${describe(data)}`);
  }
  const n = numel(shape as number[]);
  if (data.length !== n) {
    throw new NormError(
      "SHAPE_MISMATCH",
      name,
      `data has ${data.length} elements but shape ${shapeStr(shape as number[])} needs ${n}`,
    );
  }
  return t as Tensor;
}

/** An optional tensor argument whose shape must equal `expected` exactly. */
export function checkParam(t: unknown, name: string, expected: readonly number[]): Tensor | null {
  if (t === undefined || t === null) return null;
  const p = checkTensor(t, name);
  checkParamShape(p, name, expected);
  return p;
}

/** The shape part of checkParam, for tensor-likes whose data lives elsewhere (GPU buffers). */
export function checkParamShape(p: { readonly shape: readonly number[] }, name: string, expected: readonly number[]): void {
  if (p.shape.length !== expected.length || p.shape.some((d, i) => d !== expected[i])) {
    throw new NormError("BAD_PARAM_SHAPE", name, `expected shape ${shapeStr(expected)}, got ${shapeStr(p.shape)}`);
  }
}

/** dy must have exactly x's shape. */
export function checkSameShape(dy: unknown, x: Tensor, name = "dy"): Tensor {
  const g = checkTensor(dy, name);
  checkShapeEqual(g, x, name);
  return g;
}

/** The shape part of checkSameShape, for tensor-likes whose data lives elsewhere (GPU buffers). */
export function checkShapeEqual(g: { readonly shape: readonly number[] }, x: { readonly shape: readonly number[] }, name: string): void {
  if (g.shape.length !== x.shape.length || g.shape.some((d, i) => d !== x.shape[i])) {
    throw new NormError("SHAPE_MISMATCH", name, `expected x's shape ${shapeStr(x.shape)}, got ${shapeStr(g.shape)}`);
  }
}

export function checkEps(eps: unknown, fallback: number): number {
  if (eps === undefined || eps === null) return fallback;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new NormError("BAD_EPS", "eps", `expected a finite number ≥ 0, got ${describe(eps)}`);
  }
  return eps;
}

/** Options must be an object (or omitted). */
export function checkOptions<T extends object>(opts: unknown, name = "options"): Partial<T> {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new NormError("BAD_ARGUMENT", name, `expected an options object, got ${describe(opts)}`);
  }
  return opts as Partial<T>;
}
