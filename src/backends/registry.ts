/**
 * Which kernels the synchronous public ops use. Backends register themselves; the default is the
 * fastest registered synchronous backend (see `setBackend`).
 */
import { NormError, describe } from "../errors.js";
import { didYouMean } from "../core/suggest.js";
import { jsKernels } from "./js/kernels.js";
import type { Kernels } from "./types.js";

export type BackendName = "js" | "wasm";

const registered = new Map<string, Kernels>([["js", jsKernels]]);
let active: Kernels = jsKernels;
let chosenByUser = false;

/** Makes a backend available; `preferred` makes it the default unless the user chose one. */
export function registerBackend(kernels: Kernels, preferred = false): void {
  registered.set(kernels.name, kernels);
  if (preferred && !chosenByUser) active = kernels;
}

/** Selects the kernels the public ops run on. */
export function setBackend(name: BackendName | string): void {
  if (typeof name !== "string") throw new NormError("BAD_ARGUMENT", "name", `expected a backend name (one of ${describe([...registered.keys()])}), got ${describe(name)}`);
  const k = registered.has(name) ? registered.get(name) : undefined;
  if (k === undefined) {
    throw new NormError(
      "BACKEND_UNAVAILABLE",
      "name",
      `expected one of ${describe([...registered.keys()])}, got ${describe(name)}${didYouMean(name, [...registered.keys()])}`,
    );
  }
  active = k;
  chosenByUser = true;
}

/** Name of the backend the public ops currently use. */
export function getBackend(): string {
  return active.name;
}

/** Names of the backends available in this runtime. */
export function listBackends(): string[] {
  return [...registered.keys()];
}

/** The kernels the public ops currently use (internal). */
export function kernels(): Kernels {
  return active;
}

/** The kernels of a named backend (internal; used by tests and benchmarks). */
export function backendKernels(name: string): Kernels {
  const k = registered.get(name);
  if (k === undefined) throw new NormError("BACKEND_UNAVAILABLE", "name", `no backend ${describe(name)}`);
  return k;
}
