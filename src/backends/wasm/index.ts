/**
 * The `wasm` backend: the AssemblyScript f32x4 kernels (./assembly/kernels.ts) behind the `Kernels`
 * interface. Importing this module registers it as the default synchronous backend when the
 * WebAssembly module (with SIMD) can be compiled and instantiated; otherwise nothing is registered
 * and the ops stay on `js`, silently.
 */
import { NormError, describe } from "../../errors.js";
import { didYouMean } from "../../core/suggest.js";
import { registerBackend } from "../registry.js";
import type { Kernels } from "../types.js";
import { channelApplyJob, channelBackwardJob, channelStatsJob } from "./jobs-channels.js";
import { groupsBackwardJob, groupsJob } from "./jobs-groups.js";
import { rowsBackwardJob, rowsJob } from "./jobs-rows.js";
import { WasmHeap } from "./memory.js";
import { buildAvailable, kernelsModule, WASM_BUILDS, wasmBuildOf, type WasmBuild } from "./module.js";
import { WasmRuntime } from "./runtime.js";
import { steady } from "./steady.js";

function addInto(into: Float32Array | null, sums: Float64Array): void {
  // float64 sums added to the float32 gradient once, as the js backend does
  if (into !== null) for (let i = 0; i < into.length; i++) into[i] += sums[i];
}

/** The wasm kernels on a runtime of their own (one per thread that uses them). */
export function wasmKernelsOn(rt: WasmRuntime): Kernels {
  return trimAfterEachCall(rt, {
    name: "wasm",
    layerNormForward(y, mean, rstd, x, weight, bias, rows, D, eps) {
      rt.forward(y, mean, rstd, x, weight, bias, 0, rows, D, eps);
    },
    rmsNormForward(y, rstd, x, weight, bias, rows, D, eps) {
      rt.forward(y, null, rstd, x, weight, bias, 0, rows, D, eps);
    },
    layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, D) {
      const { dw, db } = rt.backward(dx, dy, x, mean, rstd, weight, 0, rows, D);
      addInto(dweight, dw);
      addInto(dbias, db);
    },
    rmsNormBackward(dx, dweight, dbias, dy, x, rstd, weight, rows, D) {
      const { dw, db } = rt.backward(dx, dy, x, null, rstd, weight, 0, rows, D);
      addInto(dweight, dw);
      addInto(dbias, db);
    },
    // GroupNorm: group g's rows (n, g), n < N, are G rows apart; each runs LayerNorm's kernel with
    // the per-channel weight/bias spread over the row, so the affine needs no pass of its own
    groupNormForward(y, mean, rstd, x, weight, bias, N, C, S, G, eps) {
      const Cg = C / G;
      for (let g = 0; g < G; g++) {
        rt.forward(y, mean, rstd, x, spread(weight, g * Cg, Cg, S), spread(bias, g * Cg, Cg, S), 0, N, Cg * S, eps, G, g);
      }
    },
    groupNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, N, C, S, G) {
      const Cg = C / G;
      for (let g = 0; g < G; g++) {
        const { dw, db } = rt.backward(dx, dy, x, mean, rstd, spread(weight, g * Cg, Cg, S), 0, N, Cg * S, G, g);
        // per-position sums of the row → per channel (float64, rounded once as addInto does)
        for (const [into, sums] of [[dweight, dw], [dbias, db]] as const) {
          if (into === null) continue;
          for (let c = 0; c < Cg; c++) {
            let t = 0;
            for (let s = c * S; s < (c + 1) * S; s++) t += sums[s]!;
            into[g * Cg + c] += t;
          }
        }
      }
    },
    // issue #12's jobs: any dtype, fused add, casting modes, channels-last, SiLU, BatchNorm
    // (resident arrays are read and written through the same chunks as any other: see steady.ts)
    normRows: (j) => steady(rt.heap, j, (s) => rowsJob(rt, s)),
    normRowsBackward: (j) => steady(rt.heap, j, (s) => rowsBackwardJob(rt, s)),
    normGroups: (j) => steady(rt.heap, j, (s) => groupsJob(rt, s)),
    normGroupsBackward: (j) => steady(rt.heap, j, (s) => groupsBackwardJob(rt, s)),
    channelStats: (x, N, C, S, mean, variance) => steady(rt.heap, { x }, (s) => channelStatsJob(rt, s.x, N, C, S, mean, variance)),
    channelApply: (j) => steady(rt.heap, j, (s) => channelApplyJob(rt, s)),
    channelBackward: (j) => steady(rt.heap, j, (s) => channelBackwardJob(rt, s)),
  });
}

/** Each entry gives back the memory a one-off very wide row grew (WasmRuntime.trim) once it returns. */
function trimAfterEachCall(rt: WasmRuntime, k: Kernels): Kernels {
  const wrapped: Record<string, unknown> = { name: k.name };
  for (const [key, f] of Object.entries(k)) {
    if (typeof f !== "function") continue;
    wrapped[key] = (...args: unknown[]) => {
      try {
        return (f as (...a: unknown[]) => unknown)(...args);
      } finally {
        rt.trim();
      }
    };
  }
  return wrapped as unknown as Kernels;
}

/** p[c0 … c0 + Cg) each repeated S times: a per-channel parameter as a per-position row (null stays null). */
function spread(p: Float32Array | null, c0: number, Cg: number, S: number): Float32Array | null {
  if (p === null) return null;
  const out = new Float32Array(Cg * S);
  for (let c = 0; c < Cg; c++) out.fill(p[c0 + c]!, c * S, (c + 1) * S);
  return out;
}

/** This realm's WebAssembly memory (resident tensors, the kernels' scratch), or null without WebAssembly. */
export const wasmHeap: WasmHeap | null = (() => {
  try {
    const h = new WasmHeap();
    h.registerAsResident();
    return h;
  } catch {
    return null;
  }
})();

/** One build of the kernels on wasmHeap: its runtime (row loops, scratch) and the Kernels over it. */
export interface WasmBackendBuild {
  readonly build: WasmBuild;
  readonly runtime: WasmRuntime;
  readonly kernels: Kernels;
}

const instances = new Map<WasmBuild, WasmBackendBuild>();

/** The kernels of `build` on wasmHeap (instantiated once, on first use), or null where this engine cannot run them. */
function instantiate(build: WasmBuild | null): WasmBackendBuild | null {
  if (wasmHeap === null || build === null) return null;
  const known = instances.get(build);
  if (known !== undefined) return known;
  const m = buildAvailable(build) ? kernelsModule(wasmHeap.shared, build) : null;
  if (m === null) return null;
  let runtime: WasmRuntime;
  try {
    runtime = new WasmRuntime(m, wasmHeap);
  } catch {
    return null;
  }
  const b: WasmBackendBuild = { build, runtime, kernels: wasmKernelsOn(runtime) };
  instances.set(build, b);
  return b;
}

/** The default build (the best this engine validates; NORMKIT_WASM_BUILD in Node's environment), or null. */
const defaultBuild = instantiate(wasmBuildOf());
/** The build the wasm backend runs now: the default until `setBackend("wasm", { build })`. */
let current = defaultBuild;

/** The default build's runtime, on wasmHeap, or null where WebAssembly SIMD is unavailable. */
export const wasmRuntime: WasmRuntime | null = defaultBuild?.runtime ?? null;

/** The default build's kernels, or null where unavailable (the wasm backend runs currentWasm()'s). */
export const wasmKernels: Kernels | null = defaultBuild?.kernels ?? null;

/** The build the wasm backend runs now (the sync ops, and pools created from now on), or null where unavailable. */
export function currentWasm(): WasmBackendBuild | null {
  return current;
}

/**
 * Makes `build` the one the wasm backend runs (setBackend("wasm", { build })) and returns its
 * kernels: a NormError naming "build" for a name that is no build, or one this engine cannot run.
 */
function selectBuild(build: unknown): Kernels {
  if (typeof build !== "string" || !(WASM_BUILDS as readonly string[]).includes(build)) {
    throw new NormError("BAD_ARGUMENT", "build", `expected one of ${describe(WASM_BUILDS)}, got ${describe(build)}${typeof build === "string" ? didYouMean(build, WASM_BUILDS) : ""}`);
  }
  const b = instantiate(build as WasmBuild);
  if (b === null) {
    const here = WASM_BUILDS.filter((x) => buildAvailable(x));
    const hint = build === "relaxed-simd" ? " (relaxed SIMD: Chromium ≥ 114, Node only with --experimental-wasm-relaxed-simd)" : "";
    throw new NormError("BACKEND_UNAVAILABLE", "build", `expected a build this engine runs (${here.length > 0 ? describe(here) : "none"}), got ${describe(build)}${hint}`);
  }
  current = b;
  return b.kernels;
}

if (defaultBuild !== null) registerBackend(defaultBuild.kernels, true, { names: WASM_BUILDS, select: selectBuild });
