/**
 * The elementwise part of castingMode "llama" and "none" for half x (docs/ops-semantics.md;
 * Liger-Kernel's _CASTING_MODE_LLAMA / _CASTING_MODE_NONE), shared by the CPU backends: the
 * statistics come from a backend's own row kernel, then this rounds x̂ (and, for "none", every
 * elementwise op) to x's dtype as those modes do. "gemma" never comes here: it is the kernels'
 * all-float32 path.
 */
import type { DType } from "../dtype.js";
import type { CastingMode } from "./types.js";
import { roundVia32 } from "./storage.js";

export interface ModeRow {
  mode: Exclude<CastingMode, "gemma">;
  rms: boolean;
  /** x's dtype (half) and the weight's */
  xdt: DType;
  wdt: DType;
  /** D values: offset + w is formed per element (null: no weight, the offset ignored) */
  weight: Float32Array | null;
  bias: Float32Array | null;
  offset: number;
}

/**
 * ys[i] (float32, rounded to x's dtype by the caller's store) for the row v (x's values, or h)
 * with statistics m (0 for RMSNorm) and rs:
 * - llama: round_x(x̂)·(offset + w) + b, the product and sum in float32 or wider;
 * - none:  r = round_x(rs), [LN: c = round_x(x − round_x(m))], x̂ = round_x(c·r),
 *          y = round_p(x̂·round_w(w + offset)) + b, p = w's dtype if it is x's, else float32.
 */
export function modeRow(p: ModeRow, ys: Float32Array, v: Float32Array, D: number, m: number, rs: number): void {
  const { xdt, weight: w, bias: b, offset } = p;
  if (p.mode === "llama") {
    for (let i = 0; i < D; i++) {
      const xh = roundVia32((v[i]! - m) * rs, xdt);
      ys[i] = xh * (w !== null ? offset + w[i]! : 1) + (b !== null ? b[i]! : 0);
    }
    return;
  }
  const pdt: DType = w === null || p.wdt === xdt ? xdt : "float32";
  const rh = roundVia32(rs, xdt);
  const mh = p.rms ? 0 : roundVia32(m, xdt);
  for (let i = 0; i < D; i++) {
    const c = p.rms ? v[i]! : roundVia32(v[i]! - mh, xdt);
    let t = roundVia32(c * rh, xdt);
    if (w !== null) t *= roundVia32(w[i]! + offset, p.wdt);
    ys[i] = b !== null ? roundVia32(t, pdt) + b[i]! : t;
  }
}
