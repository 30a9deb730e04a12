/**
 * The kernel interface every backend implements (js, wasm, …). As in ATen's CPU kernels, kernels
 * see contiguous `rows × D` float32 matrices and trust their input: all validation happens once, in
 * src/ops. As in llm.c, outputs come first, the statistics (mean, rstd; one float32 per row) are
 * explicit outputs of forward and inputs of backward, forward/dx outputs are written (=) while
 * parameter gradients accumulate (+=). `weight`/`bias`/`dweight`/`dbias` are null when absent.
 *
 * Contract every implementation is tested against (test/core/golden.test.ts, test/backends/wasm.test.ts):
 * - results within the golden-case tolerances of the float64 reference (src/reference);
 * - never σ² = E[x²] − E[x]²; ε inside the square root;
 * - a row's outputs depend only on that row (bitwise), never on `rows` or on other rows;
 * - a NaN/Inf in a row poisons only that row's outputs.
 */
export interface Kernels {
  readonly name: string;
  /** y = (x − mean)·rstd·w + b per row; mean = Σx/D, rstd = 1/√(Σ(x−mean)²/D + eps). */
  layerNormForward(
    y: Float32Array, mean: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    rows: number, D: number, eps: number,
  ): void;
  /**
   * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, x̂ = (x − mean)·rstd;
   * dweight += Σ_rows dy·x̂; dbias += Σ_rows dy.
   */
  layerNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    rows: number, D: number,
  ): void;
  /** y = x·rstd·w + b per row; rstd = 1/√(Σx²/D + eps). */
  rmsNormForward(
    y: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    rows: number, D: number, eps: number,
  ): void;
  /** dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·rstd; dweight += Σ dy·x̂; dbias += Σ dy. */
  rmsNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    rows: number, D: number,
  ): void;
  /**
   * GroupNorm over x [N, C, S] in G groups: row (n, g) is the contiguous (C/G)·S values of sample n,
   * channels g·C/G …; mean/rstd per row (N·G), as LayerNorm's; y = x̂·w_c + b_c per channel.
   */
  groupNormForward(
    y: Float32Array, mean: Float32Array, rstd: Float32Array,
    x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    N: number, C: number, S: number, G: number, eps: number,
  ): void;
  /**
   * LayerNorm's dx on each group row with g = dy·w_c; dweight_c += Σ_{n,s} dy·x̂; dbias_c += Σ_{n,s} dy.
   */
  groupNormBackward(
    dx: Float32Array, dweight: Float32Array | null, dbias: Float32Array | null,
    dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array | null,
    N: number, C: number, S: number, G: number,
  ): void;
}
