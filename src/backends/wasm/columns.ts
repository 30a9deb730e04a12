/**
 * Column passes over stored data for the wasm jobs (BatchNorm, channels-last GroupNorm): a set of
 * `rows` rows of width W (each a segment of a caller's array: row r at `at(r)`) streamed through
 * linear memory a chunk of rows at a time, each chunk handed to the column kernels
 * (assembly/columns.ts). Every pass visits the rows in order, so the float64 column sums do not
 * depend on the chunking (nor on which columns share a call: the pool splits columns).
 */
import type { Stored } from "../../dtype.js";
import type { Io } from "./io.js";

export interface Segments {
  /** number of rows */
  rows: number;
  /** width of a row (values) */
  W: number;
  /** rows per chunk */
  cr: number;
  /** offset in the caller's array of row r */
  at(r: number): number;
  /** whether row r + 1 follows row r in the caller's array (one copy per chunk) */
  contiguous: boolean;
}

/** Loads rows [r, r + k) of s into X (float32, contiguous k × W). */
export function loadRows(io: Io, s: Stored, g: Segments, r: number, k: number, X: number): void {
  if (g.contiguous) io.load(s, g.at(r), k * g.W, X);
  else for (let i = 0; i < k; i++) io.load(s, g.at(r + i), g.W, X + 4 * i * g.W);
}

/** Stores k × W float32 values at Y into rows [r, r + k) of s (rounded to its dtype). */
export function storeRows(io: Io, s: Stored, g: Segments, r: number, k: number, Y: number): void {
  if (g.contiguous) io.store(s, g.at(r), k * g.W, Y);
  else for (let i = 0; i < k; i++) io.store(s, g.at(r + i), g.W, Y + 4 * i * g.W);
}

/** Runs `fn(r, k)` over the rows in chunks of at most cr, in order. */
export function eachChunk(g: Segments, fn: (r: number, k: number) => void): void {
  for (let r = 0; r < g.rows; r += g.cr) fn(r, Math.min(g.cr, g.rows - r));
}

/** Rows per chunk of width W: ~16 Ki floats per array, at least one row. */
export const chunkOf = (W: number) => Math.max(1, Math.floor(16384 / Math.max(1, W)));
