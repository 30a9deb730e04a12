/**
 * The build of normkit's wasm kernels the lab computes on: the f32x4 baseline ("simd"), in every
 * front end (the command line, the web lab's worker and its page). normkit's default where the
 * engine has relaxed SIMD (Chromium; Node with --experimental-wasm-relaxed-simd) is the FMA build,
 * whose fused multiply-adds round differently from Node 20's default baseline: results.json from a
 * browser would then differ from `npm start`'s in the last bits of every loss. The baseline's plain
 * IEEE f32x4 arithmetic gives the same bits on every engine, so the lab selects it through normkit's
 * public switch, `setBackend("wasm", { build })`, and records it (results.json `wasmBuild`).
 * No Node-only imports: it also runs in browsers.
 */
import { getBackend, listBackends, setBackend, wasmBuild, type WasmBuild } from "../src/index.js";

export const LAB_WASM_BUILD: WasmBuild = "simd";

/**
 * Makes the wasm backend run LAB_WASM_BUILD, leaving the active backend as it was. Returns the
 * build now in use (null where the wasm backend is unavailable: the lab runs on js) and a function
 * that puts back the build that ran before.
 */
export function pinLabWasmBuild(): { build: WasmBuild | null; restore: () => void } {
  const before = wasmBuild();
  if (before === null || !listBackends().includes("wasm")) return { build: null, restore: () => {} };
  const select = (build: WasmBuild) => {
    const active = getBackend();
    setBackend("wasm", { build });
    setBackend(active);
  };
  select(LAB_WASM_BUILD);
  return { build: wasmBuild(), restore: () => select(before) };
}
