/**
 * The issue #12 row kernels, shared part: what a kernel is asked to do (ExtSpec), how a "row" maps
 * onto memory, the team geometry and the compensated reductions. The forward and backward bodies
 * are in wgsl-ext-forward.ts and wgsl-ext-backward.ts; the parameter-gradient, running-statistics
 * and cast kernels in wgsl-ext-aux.ts.
 *
 * A row is D values normalized together (two-pass statistics in f32, ε inside the sqrt); the maps:
 * - "rows": LayerNorm/RMSNorm, row r is D contiguous elements; parameters per column.
 * - "cf": GroupNorm channels-first [N, C, S] (InstanceNorm: G = C); row (n, g) is contiguous,
 *   parameters per channel, looked up per item (an item never straddles channels: vec | S).
 * - "cl": GroupNorm channels-last [N, S, C]; row (n, g) is S runs of C/G channels, C apart;
 *   an item is `vec` adjacent channels (vec | C/G), parameters loaded as items too.
 * - "bn": BatchNorm [N, C, S]; row c is channel c: N runs of S, C·S apart (vec | S); parameters
 *   and running statistics per row.
 *
 * Sums are compensated (TwoSum, Knuth): a running (sum, compensation) pair, merged across threads
 * in a fixed order, so their error does not grow with the row's width and the bits do not depend
 * on anything but the row (and the plan, which depends on D and the device only).
 * `merge`/`total` here (SUMS) differ from the float32 kernels' ACCURATE_SUMS (wgsl-sums.ts) only in
 * where a ±Inf/NaN sum drops its compensation: in `total` here, in each `merge` there.
 */
import type { DType } from "../../dtype.js";
import type { CastingMode } from "../../core/index.js";
import type { ExtPlan } from "./ext-plan.js";
import { HALF_WGSL, roundFn, vecF, type Store } from "./wgsl-half.js";
import { WORKGROUP } from "./wgsl.js";
import { f32bits, teamReduce } from "./wgsl-sums.js";

export { f32bits };

export type RowMap =
  | { k: "rows" }
  | { k: "cf"; G: number; Cg: number; S: number }
  | { k: "cl"; G: number; Cg: number; S: number }
  | { k: "bn"; C: number; S: number };

/** What one forward or backward row kernel computes (the pipeline cache key is its JSON). */
export interface ExtSpec {
  rms: boolean;
  /** values per row */
  D: number;
  map: RowMap;
  plan: ExtPlan;
  /** storage dtype of x (and of y, h, residual, dy, dx, dh) */
  x: DType;
  /** weight / bias dtypes, null when absent */
  w: DType | null;
  b: DType | null;
  /** y = x̂·(offset + w) + b */
  offset: number;
  /** "gemma" for float32 x (the modes only round half values) */
  mode: CastingMode;
  act: "silu" | null;
}

/** Whether x-typed outputs go through a float32 scratch (half on u32 words, one element per item). */
export const scratched = (s: ExtSpec): boolean => s.x !== "float32" && s.plan.vec === 1 && !(s.plan.f16 && s.x === "float16");

/** x-typed bindings (x, y, h, residual, dy, dx, dh): items of `vec` elements. */
export const xStore = (s: ExtSpec, scratch = false): Store =>
  scratch ? { dt: "float32", w: s.plan.vec, f16: false } : { dt: s.x, w: s.plan.vec, f16: s.plan.f16 };

/** Parameter bindings: items (rows, cl) or one element per channel (cf, bn). */
export const paramStore = (s: ExtSpec, dt: DType): Store =>
  ({ dt, w: s.map.k === "rows" || s.map.k === "cl" ? s.plan.vec : 1, f16: s.plan.f16 });

/** Team geometry, half helpers, rounding to x's dtype, compensated sums and the team reduction. */
export function extPrelude(s: ExtSpec, more: (DType | null)[] = []): string {
  const { plan } = s;
  const w = plan.vec;
  const N = s.D / w;
  const lanes = ["x", "y", "z", "w"].slice(0, w);
  // a thread's lane sums (V-wide TwoSum per item) folded into one merge-format pair, lane by lane
  const fold = lanes.reduce((acc, c) => {
    const l = w === 1 ? "" : `.${c}`;
    return `merge(${acc}, vec4<f32>(a.s${l}, b.s${l}, a.e${l}, b.e${l}))`;
  }, "vec4<f32>(0.0)");
  const reduce = teamReduce(plan, "", `lid % ${plan.sg}u == 0u`);
  return `${plan.sg ? "enable subgroups;\n" : ""}
alias V = ${vecF(w)};
const D = ${s.D}u;
const N = ${N}u;           // items per row
const T = ${plan.T}u;      // threads per row
const TEAMS = ${WORKGROUP / plan.T}u;
const K = ${Math.ceil(N / plan.T)}u;   // items per thread
const invD = ${f32bits(1 / s.D)};
${[s.x, s.w, s.b, ...more].some((d) => d !== null && d !== "float32") ? HALF_WGSL : ""}
${roundFn("rx", s.x, w)}
${roundFn("rx1", s.x, 1)}
${SUMS}
struct SumErr { s: V, e: V }
fn twoSum(a: V, b: V) -> SumErr {
  let s = a + b;
  let bb = s - a;
  return SumErr(s, (a - (s - bb)) + (b - bb));
}
// a running compensated sum of items, lane by lane (one V-wide TwoSum per item: cheap to compile and run)
fn acc(a: SumErr, v: V) -> SumErr {
  let r = twoSum(a.s, v);
  return SumErr(r.s, a.e + r.e);
}
const ZERO = SumErr(V(0.0), V(0.0));
// two lane-wise sums as one merge-format pair (sums .xy, compensations .zw), for reduce
fn fold(a: SumErr, b: SumErr) -> vec4<f32> { return ${fold}; }
// sum + compensation, or the sum alone once it is ±Inf/NaN (as total)
fn fin(s: V, e: V) -> V { return select(s + e, s, (bitcast<${w === 1 ? "u32" : `vec${w}<u32>`}>(s) & ${w === 1 ? "0x7f800000u" : `vec${w}<u32>(0x7f800000u)`}) == ${w === 1 ? "0x7f800000u" : `vec${w}<u32>(0x7f800000u)`}); }
${reduce}
${mapFns(s)}
`;
}

/**
 * Two sums with their compensations travel as vec4(sums.xy, compensations.xy); merge adds two such
 * with TwoSum (s' = a + b, e = (a − (s' − bb)) + (b − bb), bb = s' − a: exactly a + b − s').
 */
export const SUMS = `
fn merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let s = a.xy + b.xy;
  let bb = s - a.xy;
  let e = (a.xy - (s - bb)) + (b.xy - bb);
  return vec4<f32>(s, (a.zw + b.zw) + e);
}
// a sum that overflowed or met ±Inf/NaN keeps its value: its compensation is then NaN (Inf − Inf), and
// PyTorch's plain sums give Inf (RMSNorm of a row holding Inf: rstd 0, finite values 0, not NaN)
fn total(a: vec4<f32>) -> vec2<f32> {
  let special = (bitcast<vec2<u32>>(a.xy) & vec2<u32>(0x7f800000u)) == vec2<u32>(0x7f800000u);
  return select(a.xy + a.zw, a.xy, special);
}`;

/** `at(row, i)`: item index of item i of a row in x-typed arrays; `pidx(row, i)`: its parameter index. */
function mapFns(s: ExtSpec): string {
  const w = s.plan.vec;
  const m = s.map;
  switch (m.k) {
    case "rows":
      return "fn at(row: u32, i: u32) -> u32 { return row * N + i; }\nfn pidx(row: u32, i: u32) -> u32 { return i; }";
    case "cf":
      return `fn at(row: u32, i: u32) -> u32 { return row * N + i; }
fn pidx(row: u32, i: u32) -> u32 { return (row % ${m.G}u) * ${m.Cg}u + (i * ${w}u) / ${m.S}u; }`;
    case "cl":
      return `const CGV = ${m.Cg / w}u;
fn at(row: u32, i: u32) -> u32 { return ((row / ${m.G}u) * ${m.S}u + i / CGV) * ${(m.G * m.Cg) / w}u + (row % ${m.G}u) * CGV + i % CGV; }
fn pidx(row: u32, i: u32) -> u32 { return (row % ${m.G}u) * CGV + i % CGV; }`;
    case "bn":
      return `const SV = ${m.S / w}u;
fn at(row: u32, i: u32) -> u32 { return ((i / SV) * ${m.C}u + row) * SV + i % SV; }
fn pidx(row: u32, i: u32) -> u32 { return row; }`;
  }
}

/** The parameter `name` (bound as `p_<name>`) of item i of `row`, as a V. */
export const paramOf = (s: ExtSpec, name: string, row = "row", i = "i"): string =>
  s.map.k === "rows" || s.map.k === "cl" ? `ld_${name}(pidx(${row}, ${i}))` : `V(ld_${name}(pidx(${row}, ${i})))`;

/** offset + w for item i, or null without a weight (the offset is then ignored, as Liger). */
export function weightOf(s: ExtSpec): string | null {
  if (s.w === null) return null;
  const w = paramOf(s, "w");
  return s.offset === 0 ? w : `(V(${f32bits(s.offset)}) + ${w})`;
}

/** The entry point: `team` (T threads) works on rows, `lane` is the thread within it. */
export function extEntry(s: ExtSpec): string {
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let team = lid / T;
  let lane = lid % T;`;
}

/** Floats of one slot of a partial buffer: P·D rounded up to 64 (bind offsets must be 256-byte aligned). */
export const slotFloats = (P: number, D: number): number => Math.ceil((P * D) / 64) * 64;

/** Number of rows: bn's C is fixed; the other maps read it from a per-row statistics array. */
export const rowsExpr = (s: ExtSpec, statArray: string): string => (s.map.k === "bn" ? `${s.map.C}u` : `arrayLength(&${statArray})`);
