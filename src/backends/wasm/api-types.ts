/**
 * The wasm backend's public types, kept apart from the code that uses WebAssembly's own types:
 * the published .d.ts files that src/index.d.ts reaches must type-check without lib "DOM" (which
 * declares the `WebAssembly` namespace), as `tsc --strict` consumers without skipLibCheck compile
 * them (test/package/package.test.ts).
 */

/** "relaxed-simd": the kernels with fused multiply-add (relaxed SIMD); "simd": the f32x4 baseline. */
export type WasmBuild = "simd" | "relaxed-simd";

/** What `wasmMemory()` reports. */
export interface WasmMemoryStats {
  /** bytes in blocks now: resident tensors (yours and the modules') and normkit's scratch */
  bytesInUse: number;
  /** bytes of those in resident tensors */
  tensorBytes: number;
  /** live resident tensors (not freed, not yet collected) */
  tensors: number;
  /** bytes of linear memory the engine holds for normkit: the high-water mark, never shrinks */
  reserved: number;
  /** the most the memory can grow to (the engine's limit for this memory) */
  maximum: number;
  /** whether the memory is shared (views never detach; the pool can use it) */
  shared: boolean;
}
