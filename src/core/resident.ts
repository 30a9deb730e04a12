/**
 * Typed arrays that are views of normkit's WebAssembly memory (resident tensors, `wasmTensor`).
 * The memory belongs to the wasm backend (src/backends/wasm/memory.ts), which registers itself
 * here; the core only asks two things at the boundary, so every entry point treats resident
 * tensors alike:
 * - which buffers are that memory: a shared memory gives a new SharedArrayBuffer object after each
 *   growth, all views of the same bytes, so overlap checks compare byte ranges across them;
 * - whether a view of it is one the caller may pass: it must lie inside one live resident tensor
 *   (not in freed memory, nor in normkit's scratch), else a NormError naming the argument.
 */
export interface ResidentMemory {
  /** whether `b` is (one of the buffers of) the resident memory */
  owns(b: ArrayBufferLike): boolean;
  /** throws a NormError naming `name` unless bytes [byteOffset, byteOffset + byteLength) lie in one live tensor */
  check(byteOffset: number, byteLength: number, name: string): void;
}

let memory: ResidentMemory | null = null;

/** Called once by the wasm backend when it creates its memory. */
export function registerResidentMemory(m: ResidentMemory): void {
  memory = m;
}

/** Whether two buffers hold the same bytes: the same object, or both the resident memory. */
export function sameBuffer(a: ArrayBufferLike, b: ArrayBufferLike): boolean {
  return a === b || (memory !== null && memory.owns(a) && memory.owns(b));
}

/** For a view of the resident memory, checks it lies in a live tensor (see ResidentMemory.check). */
export function checkResidentView(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, name: string): void {
  if (memory !== null && memory.owns(buffer)) memory.check(byteOffset, byteLength, name);
}
