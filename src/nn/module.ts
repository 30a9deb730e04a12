/**
 * Base of the trainable modules: parameters with gradient buffers, train/eval mode, and a
 * plain-JSON state dict. Gradients accumulate (+=) across backward calls until `zeroGrad()`.
 */
import { NormError, describe } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { shapeStr } from "../tensor.js";

/** A learnable tensor and its accumulated gradient (same shape). */
export interface Parameter {
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;
}

/** `{ name: { shape, data: number[] } }`, JSON-serializable. */
export type StateDict = Record<string, { shape: number[]; data: number[] }>;

export function param(name: string, shape: readonly number[], fill: number): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    value: { shape: Object.freeze([...shape]), data: new Float32Array(n).fill(fill) },
    grad: { shape: Object.freeze([...shape]), data: new Float32Array(n) },
  };
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

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad.data.fill(0);
  }

  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const { name, value } of [...this.parameters(), ...this.buffers()]) {
      sd[name] = { shape: [...value.shape], data: Array.from(value.data) };
    }
    return sd;
  }

  /** Copies values from a state dict produced by `stateDict()` (shapes must match; every entry must be present). */
  loadStateDict(sd: StateDict): void {
    for (const { name, value } of [...this.parameters(), ...this.buffers()]) {
      const e = sd?.[name];
      if (e === undefined) throw new NormError("BAD_ARGUMENT", `stateDict.${name}`, "expected an entry, got none");
      if (!Array.isArray(e.shape) || e.shape.length !== value.shape.length || e.shape.some((d, i) => d !== value.shape[i])) {
        throw new NormError("BAD_PARAM_SHAPE", `stateDict.${name}`, `expected shape ${shapeStr(value.shape)}, got ${describe(e.shape)}`);
      }
      if (!Array.isArray(e.data) || e.data.length !== value.data.length) {
        throw new NormError("SHAPE_MISMATCH", `stateDict.${name}`, `expected ${value.data.length} values, got ${describe(e.data)}`);
      }
      value.data.set(e.data);
    }
  }
}

export function noForward(name: string): never {
  throw new NormError("BAD_ARGUMENT", "dy", `${name}.backward() needs a forward() call first`);
}
