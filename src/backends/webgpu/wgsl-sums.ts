/**
 * The compensated sums every WGSL kernel shares (split from wgsl.ts): the merge-format pairs, the
 * per-column TwoSum and the team reduction across threads, subgroups and workgroup memory.
 */
import { WORKGROUP } from "./wgsl.js";

/** A float32 constant bit-exact in WGSL. */
export const f32bits = (v: number): string => {
  const b = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  return `bitcast<f32>(${b}u)`;
};

/**
 * Accurate sums without float64 (WGSL has none). A float32 running sum's error grows with its
 * number of terms: the "loop" kernels summed up to 4096 items per thread, and LayerNorm's y erred
 * by 8.7e-4 on a constant row of 2^20 (PyTorch float32: 2.3e-6) and by 1.2e-4 on relu(N(0, 1))
 * rows with scalar loads (PyTorch: 1.2e-6; Dawn on SwiftShader, docs/accuracy.md). Now every
 * sum carries its rounding error along: a (sum, compensation) pair, and adding v uses TwoSum
 * (Knuth): s' = s + v, b = s' − s, e = (s − (s' − b)) + (v − b) is exactly s + v − s' for any
 * magnitudes, and joins the compensation. Threads accumulate their items so, the reductions across
 * threads (workgroup-memory tree, subgroup butterfly, the fixed-order sum of subgroup partials)
 * merge pairs so, and the result is sum + compensation: within a few ulps of the exact sum at any
 * width. The operations' order is the algorithm: a compiler that reassociated floating point
 * would cancel e to 0 (the wide-row tests then fail: test/webgpu/wide.ts). An infinite or NaN sum
 * carries no error term (TwoSum would turn ±Inf into NaN): a row with an Inf keeps float32's
 * answer (RMSNorm: rstd 0, y = β). Two sums travel together as vec4<f32>(sums.xy, compensations.xy).
 */
export const ACCURATE_SUMS = `
const MAXF = bitcast<f32>(0x7f7fffffu);   // float32's largest finite value
fn merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let s = a.xy + b.xy;
  let bb = s - a.xy;
  let e = (a.xy - (s - bb)) + (b.xy - bb);
  return vec4<f32>(s, (a.zw + b.zw) + select(vec2<f32>(0.0), e, abs(s) <= vec2<f32>(MAXF)));
}
fn total(a: vec4<f32>) -> vec2<f32> { return a.xy + a.zw; }`;

/** TwoSum on V (vec4 or f32), for the per-column dweight/dbias accumulators: s + v = r.s + r.e. */
export const twoSumV = `
struct SumErr { s: V, e: V }
fn twoSum(a: V, b: V) -> SumErr {
  let s = a + b;
  let bb = s - a;
  return SumErr(s, select(V(0.0), (a - (s - bb)) + (b - bb), abs(s) <= V(MAXF)));
}`;

/**
 * The team reduction `fn reduce(v, lid, lane[, extra]) -> vec2<f32>` of merge-format pairs (T
 * threads a team): a workgroup-memory tree without subgroups; with them, the subgroup's butterfly,
 * then (T > sg) the team's T/sg subgroup partials merged in a fixed order. `leader` is the WGSL
 * test of a subgroup's first invocation (row kernels: `sgl == 0u` from subgroup_invocation_id).
 */
export function teamReduce(plan: { sg: number; T: number }, extra: string, leader: string): string {
  // the subgroup's pairs merged by a butterfly (lanes i and i ^ o): every lane ends with the same
  // bits, as TwoSum's error term is exact whichever operand comes first
  const butterfly = `var r = v;
  for (var o = 1u; o < ${plan.sg}u; o = o << 1u) { r = merge(r, subgroupShuffleXor(r, o)); }`;
  let reduce: string;
  if (plan.sg === 0) {
    // tree over the team's T slots of workgroup memory; barriers are hit by every invocation
    reduce = `
var<workgroup> red: array<vec4<f32>, ${WORKGROUP}>;
fn reduce(v: vec4<f32>, lid: u32, lane: u32${extra}) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${plan.T / 2}u; s > 0u; s = s >> 1u) {
    if (lane < s) { red[lid] = merge(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[lid - lane];
  workgroupBarrier();
  return total(r);
}`;
  } else if (plan.sg === plan.T) {
    reduce = `
fn reduce(v: vec4<f32>, lid: u32, lane: u32${extra}) -> vec2<f32> {
  ${butterfly}
  return total(r);
}`;
  } else {
    // the butterfly, then the team's T/sg subgroup partials merged in a fixed order by every invocation
    reduce = `
var<workgroup> red: array<vec4<f32>, ${WORKGROUP / plan.sg}>;
fn reduce(v: vec4<f32>, lid: u32, lane: u32${extra}) -> vec2<f32> {
  ${butterfly}
  if (${leader}) { red[lid / ${plan.sg}u] = r; }
  workgroupBarrier();
  let base = (lid - lane) / ${plan.sg}u;
  var t = red[base];
  for (var j = 1u; j < ${plan.T / plan.sg}u; j++) { t = merge(t, red[base + j]); }
  workgroupBarrier();
  return total(t);
}`;
  }
  return reduce;
}

