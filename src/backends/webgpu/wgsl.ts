/**
 * WGSL for LayerNorm / RMSNorm forward and backward, generated per kernel plan. Every variant has
 * the same bindings ("one signature"), so the host code and the benchmark swap them freely:
 *
 *   forward:  x, [weight], [bias] → y, [mean] (LayerNorm only), rstd
 *   backward: dy, x, [mean], rstd, [weight] → dx, [partial dweight], [partial dbias]
 *   colsum:   partial [P, D] → out [D]   (out = Σ_p partial[p] in a fixed order, (+= out if accumulating))
 *
 * The plan (see plan.ts for the table of variants and which one is the default per shape class):
 * - `T` threads per row (a "team"), `256/T` rows per workgroup; T = 256 is one workgroup per row;
 * - `vec` 4 = rows read as vec4<f32> (needs D % 4 == 0), 1 = scalar loads (any D);
 * - `sg` subgroup size used for reductions (a subgroupShuffleXor butterfly), 0 = workgroup-memory tree;
 * - `store` "regs": the row's values stay in registers between the passes (one read of memory);
 *   "reread": backward keeps only its dweight/dbias accumulators in registers and reads x, dy
 *   twice (the second read is served from cache); "loop": any D, statistics loops re-read memory
 *   and backward accumulates its partial sums in the partial buffer itself.
 *
 * Statistics are two-pass (mean, then Σ(x − mean)²), never E[x²] − E[x]²; ε is inside the sqrt.
 * Every sum is compensated, so its error does not grow with the width or the number of rows (see
 * ACCURATE_SUMS in wgsl-sums.ts).
 * The number of rows is arrayLength(x)/D and the number of workgroups comes from num_workgroups,
 * so no uniform buffer is needed; D and ε are compile-time constants (ε bit-exact via bitcast).
 * A row's outputs depend only on that row: the plan depends on D and on the device, never on rows.
 */

import { ACCURATE_SUMS, f32bits, teamReduce, twoSumV } from "./wgsl-sums.js";

export const WORKGROUP = 256;

export interface KernelPlan {
  /** Threads per row: a power of two, 4 ≤ T ≤ 256. */
  T: number;
  /** Vector width of loads: 4 (D % 4 == 0) or 1. */
  vec: 1 | 4;
  /** Subgroup size the reductions use (T % sg == 0), or 0 for workgroup-memory reductions. */
  sg: number;
  /** Where the row lives between the passes (see above). */
  store: "regs" | "reread" | "loop";
  /**
   * Backward only: the teams of a workgroup add their dweight/dbias sums in workgroup memory and
   * write one partial row per workgroup (instead of one per team), so that narrow rows can use
   * many workgroups without a large partial buffer. Needs a register store and the memory.
   */
  wgsum?: boolean;
}

export interface RowKernelSpec {
  rms: boolean;
  D: number;
  hasW: boolean;
  hasB: boolean;
  plan: KernelPlan;
  /**
   * GroupNorm: row (n, g) holds channels g·Cg … of sample n, S positions each; weight and bias are
   * per channel (array<f32> of C = G·Cg), looked up per item. vec4 needs S % 4 == 0 (so the 4 lanes
   * of an item share a channel). The backward writes no parameter partials (see chanGradWGSL).
   */
  chan?: { G: number; Cg: number; S: number };
}

/** Declarations shared by forward and backward: team geometry, reduction and helpers. */
function prelude(s: RowKernelSpec): string {
  const { plan } = s;
  const V = plan.vec === 4 ? "vec4<f32>" : "f32";
  const N = s.D / plan.vec;
  const hsum = plan.vec === 4 ? "return (v.x + v.y) + (v.z + v.w);" : "return v;";
  // one sum of every element, kept in the two lanes of a pair (a vec4's x, z and y, w): sum1 adds them
  const add1 = plan.vec === 4
    ? "return merge(merge(a, vec4<f32>(v.x, v.y, 0.0, 0.0)), vec4<f32>(v.z, v.w, 0.0, 0.0));"
    : "return merge(a, vec4<f32>(v, 0.0, 0.0, 0.0));";
  const enable = plan.sg ? "enable subgroups;\n" : "";
  const reduce = teamReduce(plan, ", sgl: u32", "sgl == 0u");
  return `${enable}
alias V = ${V};
const D = ${s.D}u;
const N = ${N}u;           // items (vec4 or f32) per row
const T = ${plan.T}u;      // threads per row
const TEAMS = ${WORKGROUP / plan.T}u;  // rows per workgroup
const K = ${Math.ceil(N / plan.T)}u;   // items per thread
const invD = ${f32bits(1 / s.D)};
fn hsum(v: V) -> f32 { ${hsum} }
${ACCURATE_SUMS}
fn add1(a: vec4<f32>, v: V) -> vec4<f32> { ${add1} }
fn sum1(r: vec2<f32>) -> f32 { return r.x + r.y; }   // the total of add1's two lanes
${twoSumV}
${reduce}
`;
}

/** The weight (or bias) of item i of `row`: per column, or per channel in GroupNorm's mode. */
const param = (s: RowKernelSpec, arr: string, row: string, i: string) =>
  s.chan ? `V(${arr}[(${row} % ${s.chan.G}u) * ${s.chan.Cg}u + (${i} * ${s.plan.vec}u) / ${s.chan.S}u])` : `${arr}[${i}]`;

/** Parameter bindings: per column (V) or, for GroupNorm, per channel (f32). */
const paramDecl = (s: RowKernelSpec, binding: number, name: string) =>
  `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${s.chan ? "f32" : "V"}>;`;

/**
 * The entry point shared by the forward and backward row kernels: `team` (T threads) works on rows,
 * `lane` is the thread within it; `sgl` is 0 without subgroups.
 */
function rowKernelEntry(plan: { sg: number | boolean }): string {
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>${plan.sg ? ", @builtin(subgroup_invocation_id) sgl: u32" : ""}) {
  ${plan.sg ? "" : "let sgl = 0u;"}
  let rows = arrayLength(&x) / N;
  let team = lid / T;
  let lane = lid % T;`;
}

export function forwardWGSL(s: RowKernelSpec, eps: number): string {
  const { plan } = s;
  const regs = plan.store !== "loop";
  // the loops: over register slots k (i = lane + k·T) or over the row (i = lane, lane + T, …)
  const each = (body: string) =>
    regs
      ? `for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < n) { let v = xs[k]; ${body} } }`
      : `for (var i = lane; i < n; i += T) { let v = x[base + i]; ${body} }`;
  return `${prelude(s)}
@group(0) @binding(0) var<storage, read> x: array<V>;
${s.hasW ? paramDecl(s, 1, "w") : ""}
${s.hasB ? paramDecl(s, 2, "b") : ""}
@group(0) @binding(3) var<storage, read_write> y: array<V>;
${s.rms ? "" : "@group(0) @binding(4) var<storage, read_write> meanOut: array<f32>;"}
@group(0) @binding(5) var<storage, read_write> rstdOut: array<f32>;

${rowKernelEntry(plan)}
  let row = (wid.y * nwg.x + wid.x) * TEAMS + team;
  // rows past the end still run (masked) so that every invocation reaches every barrier
  let valid = row < rows;
  let base = select(0u, row * N, valid);
  let n = select(0u, N, valid);
  ${regs ? `var xs: array<V, K>;
  for (var k = 0u; k < K; k++) { let i = lane + k * T; xs[k] = select(V(0.0), x[base + min(i, N - 1u)], i < n); }` : ""}
  ${
    s.rms
      ? `var q = vec4<f32>(0.0);
  ${each("q = add1(q, v * v);")}
  let rs = 1.0 / sqrt(sum1(reduce(q, lid, lane, sgl)) * invD + ${f32bits(eps)});
  let m = 0.0;`
      : `var s = vec4<f32>(0.0);
  ${each("s = add1(s, v);")}
  let m = sum1(reduce(s, lid, lane, sgl)) * invD;
  var q = vec4<f32>(0.0);
  ${each("let d = v - V(m); q = add1(q, d * d);")}
  let rs = 1.0 / sqrt(sum1(reduce(q, lid, lane, sgl)) * invD + ${f32bits(eps)});`
  }
  ${each(`var h = (v - V(m)) * rs;${s.hasW ? ` h = h * ${param(s, "w", "row", "i")};` : ""}${s.hasB ? ` h = h + ${param(s, "b", "row", "i")};` : ""} y[base + i] = h;`)}
  if (valid && lane == 0u) {
    ${s.rms ? "" : "meanOut[row] = m;"}
    rstdOut[row] = rs;
  }
}
`;
}

/**
 * Backward: dx written, per-(workgroup, team) partial sums of dweight/dbias. Workgroup `blk` owns
 * rows [blk·chunk, (blk + 1)·chunk) with chunk = ceil(rows / workgroups); team j of it takes rows
 * blk·chunk + j, + TEAMS, …; each thread accumulates its columns over those rows in registers (or,
 * for "loop", in its slots of the partial buffer) and writes them to partial row blk·TEAMS + j.
 */
export function backwardWGSL(s: RowKernelSpec, hasDW: boolean, hasDB: boolean): string {
  const { plan } = s;
  const regs = plan.store === "regs";
  const accRegs = plan.store !== "loop";
  const g = (dyv: string) => (s.hasW ? `${dyv} * ${param(s, "w", "row", "i")}` : dyv);
  const xh = (xv: string) => (s.rms ? `${xv} * rs` : `(${xv} - V(m)) * rs`);
  // loop over this thread's items of the row: register slot k ↔ column item i = lane + k·T
  const eachItem = (body: string) => `for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < n) { ${body} } }`;
  const eachLoop = (body: string) => `for (var i = lane; i < n; i += T) { ${body} }`;
  const each = accRegs ? eachItem : eachLoop;
  const xv = regs ? "xs[k]" : "x[base + i]";
  const dyv = regs ? "gs[k]" : "dy[base + i]";
  // dweight/dbias over the team's rows: compensated in registers (arr, arr + "c"), or for "loop" a
  // float32 sum in the partial buffer of at most LOOP_ROWS rows (backwardBlocks, plan.ts)
  const acc = (name: string, arr: string, val: string) =>
    accRegs
      ? `{ let r = twoSum(${arr}[k], ${val}); ${arr}[k] = r.s; ${arr}c[k] = ${arr}c[k] + r.e; }`
      : `${name}[pbase + i] = select(V(0.0), ${name}[pbase + i], it > 0u) + ${val};`;
  return `${prelude(s)}
@group(0) @binding(0) var<storage, read> dy: array<V>;
@group(0) @binding(1) var<storage, read> x: array<V>;
${s.rms ? "" : "@group(0) @binding(2) var<storage, read> meanIn: array<f32>;"}
@group(0) @binding(3) var<storage, read> rstdIn: array<f32>;
${s.hasW ? paramDecl(s, 4, "w") : ""}
@group(0) @binding(5) var<storage, read_write> dx: array<V>;
${hasDW ? "@group(0) @binding(6) var<storage, read_write> pw: array<V>;" : ""}
${hasDB ? "@group(0) @binding(7) var<storage, read_write> pb: array<V>;" : ""}

${plan.wgsum ? `var<workgroup> pacc: array<V, ${(WORKGROUP / plan.T) * (s.D / plan.vec)}>;` : ""}

${rowKernelEntry(plan)}
  let chunk = (rows + nwg.x - 1u) / nwg.x;
  let first = wid.x * chunk;
  let last = min(first + chunk, rows);
  let iters = (chunk + TEAMS - 1u) / TEAMS;
  let pbase = (wid.x * TEAMS + team) * N;
  ${accRegs && hasDW ? "var aw: array<V, K>;\n  var awc: array<V, K>;" : ""}
  ${accRegs && hasDB ? "var ab: array<V, K>;\n  var abc: array<V, K>;" : ""}
  ${regs ? "var xs: array<V, K>;\n  var gs: array<V, K>;" : ""}
  for (var it = 0u; it < iters; it++) {
    let row = first + it * TEAMS + team;
    let valid = row < last;
    let base = select(0u, row * N, valid);
    let n = select(0u, N, valid);
    let rs = select(0.0, rstdIn[min(row, rows - 1u)], valid);
    ${s.rms ? "" : "let m = select(0.0, meanIn[min(row, rows - 1u)], valid);"}
    ${regs ? `for (var k = 0u; k < K; k++) {
      let i = lane + k * T;
      xs[k] = select(V(0.0), x[base + min(i, N - 1u)], i < n);
      gs[k] = select(V(0.0), dy[base + min(i, N - 1u)], i < n);
    }` : ""}
    // the two row means dx needs: mean(g) and mean(g·x̂), g = dy·w
    var part = vec4<f32>(0.0);
    ${(regs ? eachItem : eachLoop)(`let gv = ${g(dyv)}; let h = ${xh(xv)}; part = merge(part, vec4<f32>(hsum(gv), hsum(gv * h), 0.0, 0.0));`)}
    let mu = reduce(part, lid, lane, sgl) * invD;
    ${each(`let dyi = ${dyv}; let gv = ${g("dyi")}; let h = ${xh(xv)};
      dx[base + i] = (gv${s.rms ? "" : " - V(mu.x)"} - h * mu.y) * rs;
      ${hasDW ? acc("pw", "aw", "dyi * h") : ""}
      ${hasDB ? acc("pb", "ab", "dyi") : ""}`)}
    ${!accRegs ? `// a team with no row this iteration still owns its partial slots: zero them once
    if (!valid && it == 0u) {
      for (var i = lane; i < N; i += T) { ${hasDW ? "pw[pbase + i] = V(0.0);" : ""} ${hasDB ? "pb[pbase + i] = V(0.0);" : ""} }
    }` : ""}
  }
  ${accRegs && !plan.wgsum ? `for (var k = 0u; k < K; k++) {
    let i = lane + k * T;
    if (i < N) { ${hasDW ? "pw[pbase + i] = aw[k] + awc[k];" : ""} ${hasDB ? "pb[pbase + i] = ab[k] + abc[k];" : ""} }
  }` : ""}
  ${accRegs && plan.wgsum ? [[hasDW, "aw", "pw"], [hasDB, "ab", "pb"]].filter(([h]) => h).map(([, a, o]) => `
  // the teams' sums added in team order (compensated) in workgroup memory: one partial row per workgroup
  for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < N) { pacc[team * N + i] = ${a}[k] + ${a}c[k]; } }
  workgroupBarrier();
  for (var i = lid; i < N; i += ${WORKGROUP}u) {
    var t = pacc[i];
    var tc = V(0.0);
    for (var j = 1u; j < TEAMS; j++) { let r = twoSum(t, pacc[j * N + i]); t = r.s; tc = tc + r.e; }
    ${o}[wid.x * N + i] = t + tc;
  }
  workgroupBarrier();`).join("") : ""}
}
`;
}

/**
 * out[c] (+)= Σ_p part[p·D + c]: 64 columns per workgroup (the dispatch), one thread per column
 * with four compensated sums (rows p ≡ 0, 1, 2, 3 mod 4, in order) added as (s0 + s1) + (s2 + s3).
 * It needs no workgroup barrier: SwiftShader ran the earlier version (four threads per column,
 * added through workgroup memory) 14× slower on 2^18/64 workgroups (5.0 s against 0.36 s of CPU
 * for a [4, 262144] backward). The four independent chains are meant to keep as many loads in
 * flight per column as those four threads did; not timed on a GPU (none was available).
 */
export function colsumWGSL(D: number, accumulate: boolean): string {
  return `${ACCURATE_SUMS}
const D = ${D}u;
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> outp: array<f32>;
fn at(p: u32, c: u32) -> vec4<f32> { return vec4<f32>(part[p * D + c], 0.0, 0.0, 0.0); }
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x * 64u + lid;
  let P = arrayLength(&part) / D;
  if (lid < 64u && c < D) {
    var s0 = vec4<f32>(0.0);
    var s1 = s0;
    var s2 = s0;
    var s3 = s0;
    var p = 0u;
    for (; p + 4u <= P; p += 4u) {
      s0 = merge(s0, at(p, c));
      s1 = merge(s1, at(p + 1u, c));
      s2 = merge(s2, at(p + 2u, c));
      s3 = merge(s3, at(p + 3u, c));
    }
    if (p < P) { s0 = merge(s0, at(p, c)); }
    if (p + 1u < P) { s1 = merge(s1, at(p + 1u, c)); }
    if (p + 2u < P) { s2 = merge(s2, at(p + 2u, c)); }
    let t = (total(s0).x + total(s1).x) + (total(s2).x + total(s3).x);
    outp[c] = ${accumulate ? "outp[c] + t" : "t"};
  }
}
`;
}

/**
 * GroupNorm's parameter gradients, one workgroup per channel c (of group g = c / Cg):
 *   dweight[c] (+)= Σ_{n,s} dy·x̂,  dbias[c] (+)= Σ_{n,s} dy,  x̂ = (x − mean[n·G + g])·rstd[n·G + g]
 * Each thread sums a fixed stride of the channel's N·S values; a workgroup-memory tree adds the
 * 256 partial sums in a fixed order (deterministic, no atomics); both compensated. x is [N, C, S].
 */
export function chanGradWGSL(C: number, S: number, G: number, hasDW: boolean, hasDB: boolean, accumulate: boolean): string {
  const put = (name: string, v: string) => `${name}[c] = ${accumulate ? `${name}[c] + ${v}` : v};`;
  return `${ACCURATE_SUMS}
const C = ${C}u;
const S = ${S}u;
const G = ${G}u;
const Cg = ${C / G}u;
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> meanIn: array<f32>;
@group(0) @binding(3) var<storage, read> rstdIn: array<f32>;
${hasDW ? "@group(0) @binding(4) var<storage, read_write> dw: array<f32>;" : ""}
${hasDB ? "@group(0) @binding(5) var<storage, read_write> db: array<f32>;" : ""}
var<workgroup> red: array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.y * nwg.x + wid.x;
  let n = arrayLength(&x) / (C * S);
  var acc = vec4<f32>(0.0);
  if (c < C) {
    for (var t = lid; t < n * S; t += 256u) {
      let b = t / S;
      let row = b * G + c / Cg;
      let o = (b * C + c) * S + t % S;
      let d = dy[o];
      acc = merge(acc, vec4<f32>(d * (x[o] - meanIn[row]) * rstdIn[row], d, 0.0, 0.0));
    }
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = merge(red[lid], red[lid + k]); }
    workgroupBarrier();
  }
  if (lid == 0u && c < C) {
    let t = total(red[0]);
    ${hasDW ? put("dw", "t.x") : ""}
    ${hasDB ? put("db", "t.y") : ""}
  }
}
`;
}

/** Probe of the subgroup layout: each invocation writes its subgroup's first index and size. */
export const SUBGROUP_PROBE = `
enable subgroups;
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sz: u32) {
  o[2u * lid] = subgroupBroadcastFirst(lid);
  o[2u * lid + 1u] = sz;
}
`;
