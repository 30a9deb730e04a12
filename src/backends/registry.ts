/**
 * Which kernels the synchronous public ops use. Backends register themselves; the default is the
 * fastest registered synchronous backend (see `setBackend`).
 */
import { NormError, describe } from "../errors.js";
import { readOptions } from "../core/options.js";
import { didYouMean } from "../core/suggest.js";
import { jsKernels } from "./js/kernels.js";
import type { Kernels } from "./types.js";
import type { WasmBuild } from "./wasm/api-types.js";

export type BackendName = "js" | "wasm";

/** Options of `setBackend`. */
export interface BackendOptions {
  /**
   * The wasm backend only: which build of its kernels runs. "relaxed-simd": fused multiply-adds
   * (one rounding, where the CPU has FMA), the default where the engine has relaxed SIMD (Chromium;
   * Node with --experimental-wasm-relaxed-simd); "simd": the f32x4 baseline, whose IEEE arithmetic
   * gives the same bits on every engine and CPU. Omitted: the wasm backend keeps the build it runs
   * now. The choice holds for the synchronous ops and modules, and for pools created afterwards,
   * until the next `build`; `wasmBuild()` says which runs (docs/backends.md).
   */
  build?: WasmBuild;
}

/** A backend with more than one build of its kernels (wasm: WASM_BUILDS). */
export interface BackendBuilds {
  readonly names: readonly string[];
  /** makes `build` the one the backend runs and returns its kernels; a NormError naming "build" if it cannot */
  select(build: unknown): Kernels;
}

const OPTION_KEYS = ["build"] as const;
const registered = new Map<string, Kernels>([["js", jsKernels]]);
const buildsOf = new Map<string, BackendBuilds>();
let active: Kernels = jsKernels;
let chosenByUser = false;

/**
 * Makes a backend available; `preferred` makes it the default unless the user chose one; `builds`:
 * the builds `setBackend(name, { build })` selects among.
 */
export function registerBackend(kernels: Kernels, preferred = false, builds?: BackendBuilds): void {
  registered.set(kernels.name, kernels);
  if (builds !== undefined) buildsOf.set(kernels.name, builds);
  if (preferred && !chosenByUser) active = kernels;
}

/**
 * Selects the kernels the public ops run on, and for the wasm backend, with `{ build }`, which
 * build of them (see BackendOptions).
 */
export function setBackend(name: BackendName | string, options?: BackendOptions): void {
  if (typeof name !== "string") throw new NormError("BAD_ARGUMENT", "name", `expected a backend name (one of ${describe([...registered.keys()])}), got ${describe(name)}`);
  let k = registered.has(name) ? registered.get(name) : undefined;
  if (k === undefined) {
    throw new NormError(
      "BACKEND_UNAVAILABLE",
      "name",
      `expected one of ${describe([...registered.keys()])}, got ${describe(name)}${didYouMean(name, [...registered.keys()])}`,
    );
  }
  const build = readOptions(options, "options", OPTION_KEYS).build;
  if (build !== undefined) {
    const builds = buildsOf.get(name);
    if (builds === undefined) {
      const some = [...buildsOf.keys()];
      throw new NormError("BAD_ARGUMENT", "build", `expected no build for the ${name} backend, which has one (${some.length > 0 ? `builds are the ${some.join(", ")} backend's: setBackend(${JSON.stringify(some[0])}, { build })` : "no backend here has builds"}), got ${describe(build)}`);
    }
    k = builds.select(build);
    registered.set(name, k);
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
