/**
 * normkit's WebAssembly linear memory and the allocator over it. One memory per JS realm (the
 * kernels of the calling thread and of every pool worker run on it), holding resident tensors
 * (`wasmTensor`), the modules' buffers and the row loops' scratch.
 *
 * Shared where the engine allows it (`new WebAssembly.Memory({ shared: true })`: Node, Chromium —
 * even on pages that are not cross-origin isolated, measured in Chromium 156 — and isolated pages
 * elsewhere): growing a shared memory never moves or detaches it, so a Float32Array view stays
 * valid for the memory's life, and the pool's workers can share it. Elsewhere (Firefox and Safari
 * on pages without COOP/COEP) the memory is a plain one, and growing it detaches every view of the
 * old buffer: resident tensors then re-view on each read of `data` (a getter), normkit's own code
 * holds offsets, not views, across anything that can grow it, and a view kept from before a growth
 * is empty (length 0), never another tensor's bytes; the ops reject it with DETACHED_BUFFER.
 *
 * The allocator: first fit over a sorted free list with coalescing, blocks aligned to 64 bytes
 * (a cache line; the kernels need 16), the top of the heap given back to the free list when its
 * last block is freed. Memory itself never shrinks (WebAssembly cannot): `reserved` is the
 * high-water mark of what was in use. Only the thread that created the heap allocates; workers
 * get offsets.
 */
import { NormError } from "../../errors.js";
import { registerResidentMemory } from "../../core/resident.js";
import type { WasmMemoryStats } from "./api-types.js";

export type { WasmMemoryStats };

export const PAGE = 65536;
/** wasm32 linear memory tops out at 65536 pages of 64 KiB. */
export const WASM_MAX_BYTES = 65536 * PAGE;
/** Block alignment and granularity: a cache line. */
const ALIGN = 64;
/**
 * Offsets below this are never handed out: the kernels read offset 0 as "absent" (no weight, no
 * bias, no mean), and their static data (1280 bytes since issue #12's conversion tables) sit below.
 */
export const FIRST = 4096;

export type BlockKind = "tensor" | "scratch";

interface Block {
  start: number;
  bytes: number;
  kind: BlockKind;
  /** calls in flight on other threads that use this block (the pool): free() waits for them */
  pins: number;
  /** free() was called while pinned: released at the last unpin */
  freed: boolean;
}

/** A shared memory with the largest maximum the engine will reserve, else a plain one. */
function createMemory(initialPages: number): { memory: WebAssembly.Memory; shared: boolean; maxBytes: number } {
  // a shared memory reserves its maximum's address space up front; 32-bit engines refuse 4 GiB
  for (const maxPages of [65536, 16384, 4096]) {
    try {
      return { memory: new WebAssembly.Memory({ initial: initialPages, maximum: maxPages, shared: true }), shared: true, maxBytes: maxPages * PAGE };
    } catch {
      // no shared memory here (not cross-origin isolated in Firefox/Safari, or no threads), or too large
    }
  }
  return { memory: new WebAssembly.Memory({ initial: initialPages, maximum: 65536 }), shared: false, maxBytes: WASM_MAX_BYTES };
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly maxBytes: number;
  /** every buffer object the memory has had (one per growth when shared; old ones are detached when not) */
  readonly #buffers = new WeakSet<ArrayBufferLike>();
  #buffer: ArrayBufferLike;
  #f32: Float32Array;
  /** end of the highest block */
  #top = FIRST;
  /** the highest #top ever: memory above it was never handed out, so it is still zero */
  #highWater = FIRST;
  /** whether the last alloc() returned never-used (zero) memory */
  lastAllocZeroed = false;
  /** free ranges [start, end) below #top, sorted, never adjacent */
  readonly #free: Array<[number, number]> = [];
  readonly #blocks = new Map<number, Block>();
  /** starts of the tensor blocks, sorted (to find the block a view lies in) */
  readonly #tensorStarts: number[] = [];
  #inUse = 0;
  #tensorBytes = 0;

  /**
   * A heap over a new memory (shared where possible), or over `memory` (e.g. one a module exports)
   * with its `maxBytes`. `initialPages`: reserved up front, so the row loops' scratch for rows up
   * to 16384 wide never grows a plain memory in the middle of a call.
   */
  constructor(memory?: { memory: WebAssembly.Memory; shared: boolean; maxBytes: number }, initialPages = 32) {
    const m = memory ?? createMemory(initialPages);
    this.memory = m.memory;
    this.shared = m.shared;
    this.maxBytes = m.maxBytes;
    this.#buffer = this.memory.buffer;
    this.#buffers.add(this.#buffer);
    this.#f32 = new Float32Array(this.#buffer);
  }

  /** Registers this heap's memory with the validation core (the realm's one resident memory). */
  registerAsResident(): void {
    registerResidentMemory({
      owns: (b) => this.owns(b),
      check: (off, len, name) => this.checkView(off, len, name),
    });
  }

  /** Whether `b` is this memory's buffer, now or before a growth. */
  owns(b: ArrayBufferLike): boolean {
    return this.#buffers.has(b);
  }

  /** A Float32Array over the whole memory as it is now (re-made after a growth). */
  get f32(): Float32Array {
    if (this.memory.buffer !== this.#buffer) this.#refresh();
    return this.#f32;
  }

  #refresh(): void {
    this.#buffer = this.memory.buffer;
    this.#buffers.add(this.#buffer);
    this.#f32 = new Float32Array(this.#buffer);
  }

  /**
   * A block of at least `bytes` bytes (64-byte aligned, never at offset 0); grows the memory when
   * no free range fits. A request past the memory's maximum, or one the engine refuses, is a
   * LIMIT_EXCEEDED NormError naming `what`.
   */
  alloc(bytes: number, kind: BlockKind, what: string): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let start = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const [s, e] = this.#free[i]!;
      if (e - s < size) continue;
      start = s;
      if (e - s === size) this.#free.splice(i, 1);
      else this.#free[i] = [s + size, e];
      break;
    }
    if (start < 0) {
      start = this.#top;
      this.#ensure(start + size, what);
      this.#top = start + size;
    }
    this.lastAllocZeroed = start >= this.#highWater;
    this.#highWater = Math.max(this.#highWater, start + size);
    this.#blocks.set(start, { start, bytes: size, kind, pins: 0, freed: false });
    this.#inUse += size;
    if (kind === "tensor") {
      this.#tensorBytes += size;
      this.#tensorStarts.splice(upperBound(this.#tensorStarts, start), 0, start);
    }
    return start;
  }

  /** Grows the memory to hold `end` bytes. */
  #ensure(end: number, what: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const mib = bytesText;
    if (end > this.maxBytes) {
      throw new NormError("LIMIT_EXCEEDED", what, `expected at most ${mib(this.maxBytes)} of WebAssembly memory in all (the engine's limit for normkit's memory; ${mib(this.#inUse)} in use), got a request that needs ${mib(end)}; free resident tensors or use the js backend`);
    }
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch (e) {
      throw new NormError("LIMIT_EXCEEDED", what, `expected the engine to grow normkit's WebAssembly memory to ${mib(end)}, but it refused (${e instanceof Error ? e.message : String(e)}); free resident tensors or use the js backend`);
    }
    this.#refresh();
  }

  /** Releases a block (deferred to the last unpin while a call in flight uses it). Unknown offsets are ignored. */
  free(start: number): void {
    const b = this.#blocks.get(start);
    if (b === undefined || b.freed) return;
    b.freed = true;
    if (b.pins === 0) this.#release(b);
  }

  /** Keeps a block from being reused until `unpin`, even if freed meanwhile (a pool call in flight). */
  pin(start: number): void {
    const b = this.#blocks.get(start);
    if (b !== undefined) b.pins++;
  }

  unpin(start: number): void {
    const b = this.#blocks.get(start);
    if (b === undefined) return;
    b.pins--;
    if (b.pins === 0 && b.freed) this.#release(b);
  }

  #release(b: Block): void {
    this.#blocks.delete(b.start);
    this.#inUse -= b.bytes;
    if (b.kind === "tensor") {
      this.#tensorBytes -= b.bytes;
      this.#tensorStarts.splice(upperBound(this.#tensorStarts, b.start) - 1, 1);
    }
    let s = b.start, e = b.start + b.bytes;
    // merge with the free ranges on either side
    const i = firstFreeAfter(this.#free, s);
    const prev = this.#free[i - 1], next = this.#free[i];
    let at = i, remove = 0;
    if (prev !== undefined && prev[1] === s) {
      s = prev[0];
      at = i - 1;
      remove++;
    }
    if (next !== undefined && next[0] === e) {
      e = next[1];
      remove++;
    }
    if (e === this.#top) {
      this.#free.splice(at, remove);
      this.#top = s;
    } else {
      this.#free.splice(at, remove, [s, e]);
    }
  }

  /** Whether the block at `start` is allocated and not freed. */
  live(start: number): boolean {
    const b = this.#blocks.get(start);
    return b !== undefined && !b.freed;
  }

  /** The live tensor block holding bytes [off, off + len), or undefined. */
  tensorBlockAt(off: number, len: number): Block | undefined {
    const i = upperBound(this.#tensorStarts, off) - 1;
    if (i < 0) return undefined;
    const b = this.#blocks.get(this.#tensorStarts[i]!)!;
    return !b.freed && off + len <= b.start + b.bytes ? b : undefined;
  }

  /** See ResidentMemory.check (src/core/resident.ts). */
  checkView(off: number, len: number, name: string): void {
    if (this.tensorBlockAt(off, len) !== undefined) return;
    throw new NormError("FREED_TENSOR", name, `expected a view inside one live resident tensor (wasmTensor), got a view of bytes ${off}…${off + len} of normkit's WebAssembly memory that no live tensor holds (freed, or normkit's scratch)`);
  }

  stats(tensors: number): WasmMemoryStats {
    return {
      bytesInUse: this.#inUse, tensorBytes: this.#tensorBytes, tensors,
      reserved: this.memory.buffer.byteLength, maximum: this.maxBytes, shared: this.shared,
    };
  }
}

/** Index of the first element > v in sorted `a`. */
function upperBound(a: readonly number[], v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first free range starting after v. */
function firstFreeAfter(a: ReadonlyArray<readonly [number, number]>, v: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]![0] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** "4 GiB", "256 MiB", "1.5 GiB": a byte count for messages. */
export function bytesText(b: number): string {
  if (b >= 2 ** 30) return `${+(b / 2 ** 30).toFixed(2)} GiB`;
  return b >= 2 ** 20 ? `${+(b / 2 ** 20).toFixed(1)} MiB` : `${+(b / 2 ** 10).toFixed(1)} KiB`;
}
