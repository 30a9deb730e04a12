/** Shape rules between arguments: normalizedShape against x, parameters, dy, the statistics. */
import { NormError, describe } from "../errors.js";
import { checkShape, checkTensor, shapeStr, type Tensor } from "./tensor.js";

type Shaped = { readonly shape: readonly number[] };

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The shape part of a parameter check, for tensor-likes whose data lives elsewhere (GPU buffers). */
export function checkParamShape(p: Shaped, name: string, expected: readonly number[]): void {
  if (!sameShape(p.shape, expected)) {
    throw new NormError("BAD_PARAM_SHAPE", name, `expected shape ${shapeStr(expected)}, got ${shapeStr(p.shape)}`);
  }
}

/** An optional tensor argument whose shape must equal `expected` exactly (undefined/null: none). */
export function checkParam(t: unknown, name: string, expected: readonly number[]): Tensor | null {
  if (t === undefined || t === null) return null;
  const p = checkTensor(t, name);
  checkParamShape(p, name, expected);
  return p;
}

/** The shape part of checkSameShape, for tensor-likes whose data lives elsewhere (GPU buffers). */
export function checkShapeEqual(g: Shaped, x: Shaped, name: string): void {
  if (!sameShape(g.shape, x.shape)) {
    throw new NormError("SHAPE_MISMATCH", name, `expected x's shape ${shapeStr(x.shape)}, got ${shapeStr(g.shape)}`);
  }
}

/** dy (or out) must have exactly x's shape. */
export function checkSameShape(dy: unknown, x: Shaped, name = "dy"): Tensor {
  const g = checkTensor(dy, name);
  checkShapeEqual(g, x, name);
  return g;
}

/**
 * normalizedShape: a number (one trailing dim) or an array equal to x's trailing dims; integer
 * dims ≥ 0, no holes (as torch.Size). Returns a frozen copy.
 */
export function checkNormalizedShape(normalizedShape: unknown, xShape: readonly number[]): readonly number[] {
  const arg = "normalizedShape";
  const ns = typeof normalizedShape === "number" ? checkShape([normalizedShape], arg, "BAD_NORMALIZED_SHAPE") : checkShape(normalizedShape, arg, "BAD_NORMALIZED_SHAPE");
  if (ns.length === 0) {
    throw new NormError("BAD_NORMALIZED_SHAPE", arg, `expected a non-empty array of x's trailing dims (x has shape ${shapeStr(xShape)}), got ${describe(normalizedShape)}`);
  }
  if (ns.length > xShape.length) {
    throw new NormError("BAD_NORMALIZED_SHAPE", arg, `expected at most ${xShape.length} dims (x has shape ${shapeStr(xShape)}), got ${describe(ns)}`);
  }
  const tail = xShape.slice(xShape.length - ns.length);
  if (!sameShape(ns, tail)) {
    throw new NormError("BAD_NORMALIZED_SHAPE", arg, `expected x's trailing dims ${shapeStr(tail)} (x has shape ${shapeStr(xShape)}), got ${describe(ns)}`);
  }
  return ns;
}

/** Shape of the row statistics: x's leading dims (one value per row). */
export function statShape(xShape: readonly number[], normalizedShape: readonly number[]): readonly number[] {
  return Object.freeze(xShape.slice(0, xShape.length - normalizedShape.length));
}
