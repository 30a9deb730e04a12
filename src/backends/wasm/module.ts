/**
 * The compiled kernels: which build runs (relaxed SIMD, with fused multiply-add, where the engine
 * validates it; the baseline f32x4 build otherwise), and the variant of it that imports a plain
 * (non-shared) memory where the engine has no shared memory (src/backends/wasm/memory.ts).
 */
import type { WasmBuild } from "./api-types.js";
import { KERNELS_FMA_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels.generated.js";

export type { WasmBuild };

const SOURCES: Record<WasmBuild, string> = { simd: KERNELS_WASM_BASE64, "relaxed-simd": KERNELS_FMA_WASM_BASE64 };

function decode(b64: string): Uint8Array<ArrayBuffer> {
  // atob: in every browser and in Node ≥ 16; no Buffer, so browser bundles need no polyfill
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/** The builds, best first: the one the engine validates first is the default. */
export const WASM_BUILDS: readonly WasmBuild[] = ["relaxed-simd", "simd"];

const validates = new Map<WasmBuild, boolean>();

/** Whether this engine validates `build` (relaxed SIMD: Chromium ≥ 114, Node with --experimental-wasm-relaxed-simd). */
export function buildAvailable(build: WasmBuild): boolean {
  let ok = validates.get(build);
  if (ok === undefined) {
    try {
      ok = WebAssembly.validate(decode(SOURCES[build]));
    } catch {
      ok = false; // no WebAssembly at all
    }
    validates.set(build, ok);
  }
  return ok;
}

let chosen: WasmBuild | null | undefined;

/**
 * The default build on this engine: "relaxed-simd" where it validates that module, else "simd"
 * where it validates the baseline, else null. `NORMKIT_WASM_BUILD=simd` (or `relaxed-simd`) in
 * Node's environment, read once at load, makes that build the default (for measurements); code
 * selects a build with `setBackend("wasm", { build })`.
 */
export function wasmBuildOf(): WasmBuild | null {
  if (chosen !== undefined) return chosen;
  const forced = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.["NORMKIT_WASM_BUILD"];
  chosen = WASM_BUILDS.find((b) => (forced === undefined || forced === b) && buildAvailable(b)) ?? null;
  return chosen;
}

const compiled = new Map<string, WebAssembly.Module | null>();

/**
 * The compiled kernels of `build` (default: wasmBuildOf()) importing a shared memory, or a plain
 * one (`shared` false); null where WebAssembly, its SIMD or that build is unavailable.
 */
export function kernelsModule(shared = true, build: WasmBuild | null = wasmBuildOf()): WebAssembly.Module | null {
  if (build === null) return null;
  const key = `${build}/${shared}`;
  if (compiled.has(key)) return compiled.get(key)!;
  let m: WebAssembly.Module | null = null;
  try {
    const bytes = decode(SOURCES[build]);
    if (!shared) unshareMemoryImport(bytes);
    // synchronous compile, also on a browser's main thread: the module is < 4 KB, the limit of
    // older Chromium (8 MB in Chromium 156); test/backends/browser-pool.test.ts checks a page gets wasm
    m = new WebAssembly.Module(bytes);
  } catch {
    m = null;
  }
  compiled.set(key, m);
  return m;
}

/**
 * Rewrites, in place, the limits of the module's memory import from shared to plain (flag 0x03 →
 * 0x01, same length): the kernels use no atomics, so the same code runs on a plain memory.
 */
export function unshareMemoryImport(bytes: Uint8Array): void {
  let p = 8;
  const leb = () => {
    let v = 0, shift = 0, b: number;
    do {
      b = bytes[p++]!;
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return v >>> 0;
  };
  while (p < bytes.length) {
    const id = bytes[p++]!;
    const size = leb();
    const end = p + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        // (`p += leb()` would add to p as read before leb() moved it)
        for (let name = 0; name < 2; name++) {
          const len = leb(); // module name, then field name
          p += len;
        }
        const kind = bytes[p++]!;
        if (kind === 0) leb(); // function: type index
        else if (kind === 1) { p++; skipLimits(); } // table: reftype, limits
        else if (kind === 3) p += 2; // global: valtype, mutability
        else if (kind === 2) {
          if (bytes[p] === 0x03) bytes[p] = 0x01;
          return;
        }
      }
      return;
    }
    p = end;
  }
  function skipLimits() {
    const flags = bytes[p++]!;
    leb();
    if (flags & 1) leb();
  }
}
