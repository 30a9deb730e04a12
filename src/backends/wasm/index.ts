/**
 * The `wasm` backend: the AssemblyScript f32x4 kernels (./assembly/kernels.ts) behind the `Kernels`
 * interface. Importing this module registers it as the default synchronous backend when the
 * WebAssembly module (with SIMD) can be compiled and instantiated; otherwise nothing is registered
 * and the ops stay on `js`, silently.
 */
import { registerBackend } from "../registry.js";
import type { Kernels } from "../types.js";
import { channelApplyJob, channelBackwardJob, channelStatsJob } from "./jobs-channels.js";
import { groupsBackwardJob, groupsJob } from "./jobs-groups.js";
import { rowsBackwardJob, rowsJob } from "./jobs-rows.js";
import { kernelsModule, WasmRuntime } from "./runtime.js";

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
    normRows: (j) => rowsJob(rt, j),
    normRowsBackward: (j) => rowsBackwardJob(rt, j),
    normGroups: (j) => groupsJob(rt, j),
    normGroupsBackward: (j) => groupsBackwardJob(rt, j),
    channelStats: (x, N, C, S, mean, variance) => channelStatsJob(rt, x, N, C, S, mean, variance),
    channelApply: (j) => channelApplyJob(rt, j),
    channelBackward: (j) => channelBackwardJob(rt, j),
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

function instantiate(): WasmRuntime | null {
  const m = kernelsModule();
  if (m === null) return null;
  try {
    return new WasmRuntime(m);
  } catch {
    return null;
  }
}

/** This thread's wasm runtime, or null where WebAssembly SIMD is unavailable. */
export const wasmRuntime: WasmRuntime | null = instantiate();

/** The wasm backend's kernels, or null where unavailable. */
export const wasmKernels: Kernels | null = wasmRuntime !== null ? wasmKernelsOn(wasmRuntime) : null;

if (wasmKernels !== null) registerBackend(wasmKernels, true);
