/**
 * Base of the trainable modules: parameters with gradient buffers, train/eval mode, a plain-JSON
 * state dict that loads all or nothing, and the copy of x each forward keeps for backward.
 * Gradients accumulate (+=) across backward calls until `zeroGrad()`.
 */
import { NormError, describe } from "../errors.js";
import { alloc, allocStored, encodeValue, readStateDict, type CheckedTensor, type StateDict, type Stored, type Tensor } from "../core/index.js";

export type { StateDict, StateValue } from "../core/index.js";

/** A learnable tensor and its accumulated gradient (same shape). */
export interface Parameter {
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;
}

export function param(name: string, shape: readonly number[], fill: number): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    value: { shape: Object.freeze([...shape]), data: alloc(n, name).fill(fill) },
    grad: { shape: Object.freeze([...shape]), data: alloc(n, `${name}.grad`) },
  };
}

/** One entry of a state dict: its shape, how to read it, and how to check and write loaded values. */
export interface StateEntry {
  name: string;
  shape: readonly number[];
  read(): ArrayLike<number>;
  /** throws a NormError for values this entry cannot take (called before anything is written) */
  check?(v: Float64Array): void;
  write(v: Float64Array): void;
}

export abstract class NormModule {
  /** true after `train()` (the default), false after `eval()`; only BatchNorm behaves differently. */
  training = true;

  /** The learnable parameters (with their gradients), in a fixed order. */
  abstract parameters(): Parameter[];
  /** Tensors that are state but not learnable (BatchNorm's running statistics). */
  buffers(): { name: string; value: Tensor }[] {
    return [];
  }

  /** Everything a state dict holds, in order (parameters, then buffers; BatchNorm adds its batch count). */
  protected stateEntries(): StateEntry[] {
    return [...this.parameters(), ...this.buffers()].map(({ name, value }) => ({
      name, shape: value.shape, read: () => value.data, write: (v: Float64Array) => value.data.set(v),
    }));
  }

  train(mode = true): this {
    if (typeof mode !== "boolean") throw new NormError("BAD_ARGUMENT", "mode", `expected true or false, got ${describe(mode)}`);
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad.data.fill(0);
  }

  /** `{ name: { shape, data } }`; NaN and ±Inf as the strings "NaN", "Infinity", "-Infinity", so JSON keeps them. */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const e of this.stateEntries()) sd[e.name] = { shape: [...e.shape], data: Array.from(e.read(), encodeValue) };
    return sd;
  }

  /**
   * Copies values from a state dict produced by `stateDict()` (or its JSON): every entry present,
   * no unknown keys, shapes equal, values numbers. Checked in full first: a failed load changes nothing.
   */
  loadStateDict(sd: StateDict): void {
    const entries = this.stateEntries();
    const values = readStateDict(sd, entries);
    for (const e of entries) e.check?.(values.get(e.name)!);
    for (const e of entries) e.write(values.get(e.name)!);
  }
}

export function noForward(name: string): never {
  throw new NormError("BAD_ARGUMENT", "dy", `${name}.backward() needs a forward() call first`);
}

/**
 * The forward's x, kept for backward as a copy (in a buffer reused across calls of one size), so
 * changing x between forward and backward cannot change the gradient: backward differentiates
 * what forward computed. PyTorch raises "modified by an inplace operation" instead, from a version
 * counter JavaScript arrays do not have; the copy costs one memcpy of x per forward.
 */
export class SavedInput {
  #buf: Stored | null = null;

  keep(x: CheckedTensor): CheckedTensor {
    const n = x.data.length;
    if (this.#buf === null || this.#buf.data.length !== n || this.#buf.dtype !== x.dtype) this.#buf = allocStored(x.dtype, n, "x");
    (this.#buf.data as Float32Array).set(x.data as Float32Array);
    return { shape: x.shape, ...this.#buf } as CheckedTensor;
  }
}
