/**
 * The small kernels around the issue #12 row kernels:
 * - chanGradExtWGSL: GroupNorm/InstanceNorm parameter gradients per channel (channels-first or
 *   channels-last, half x, through SiLU), as partial sums per chunk of positions, which
 *   colsumExtWGSL then adds in a fixed order;
 * - instanceRunningWGSL: InstanceNorm's running-statistics update from the per-instance ones;
 * - castWGSL: a tensor converted to another dtype (or added into one), one thread per output word
 *   (packs the float32 scratch of width-1 half outputs; writes half parameter gradients);
 * - addWGSL: the fused add alone, where the device cannot bind the fused kernel's buffers;
 * - colsumExtWGSL: the column sums of partial rows, compensated.
 */
import type { DType } from "../../dtype.js";
import { HALF_WGSL, declare, enableF16, loadFn, type Store } from "./wgsl-half.js";
import { SUMS } from "./wgsl-ext.js";

export interface ChanGradSpec {
  layout: "cf" | "cl";
  C: number;
  S: number;
  G: number;
  x: DType;
  /** weight / bias dtypes: SiLU recomputes y = x̂·w + b */
  w: DType | null;
  b: DType | null;
  act: "silu" | null;
  f16: boolean;
}

/**
 * part[k·C + c] = Σ dyv·x̂ and part[P + k·C + c] = Σ dyv over chunk k (of nwg.y) of the N·S positions
 * of channel c, x̂ = (x − mean[n·G + g])·rstd[n·G + g], dyv = dy (or through SiLU). Channels-last:
 * a workgroup is 64 adjacent channels × 4 lanes (coalesced rows of C); channels-first: one channel,
 * 256 lanes along its contiguous S values. Compensated, summed in a fixed order.
 * Bindings: 0 dy, 1 x, 2 mean, 3 rstd, 4 w, 5 b, 6 part.
 */
export function chanGradExtWGSL(s: ChanGradSpec): string {
  const xs: Store = { dt: s.x, w: 1, f16: s.f16 };
  const ps = (dt: DType): Store => ({ dt, w: 1, f16: s.f16 });
  const silu = s.act === "silu";
  const decl = [declare(0, "dy", xs, false), loadFn("dy", xs), declare(1, "x", xs, false), loadFn("x", xs)];
  if (silu && s.w) decl.push(declare(4, "w", ps(s.w), false), loadFn("w", ps(s.w)));
  if (silu && s.b) decl.push(declare(5, "b", ps(s.b), false), loadFn("b", ps(s.b)));
  const cl = s.layout === "cl";
  const LANES = cl ? 4 : 256;
  return `${enableF16([xs, silu && s.w ? ps(s.w) : null, silu && s.b ? ps(s.b) : null])}
const C = ${s.C}u;
const S = ${s.S}u;
const G = ${s.G}u;
const Cg = ${s.C / s.G}u;
${HALF_WGSL}
${SUMS}
${decl.join("\n")}
@group(0) @binding(2) var<storage, read> meanIn: array<f32>;
@group(0) @binding(3) var<storage, read> rstdIn: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
var<workgroup> red: array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = ${cl ? "wid.x * 64u + lid % 64u" : "wid.x"};
  let lane = ${cl ? "lid / 64u" : "lid"};
  let NS = (arrayLength(&rstdIn) / G) * S;
  let len = (NS + nwg.y - 1u) / nwg.y;
  let p0 = wid.y * len;
  let p1 = min(p0 + len, NS);
  var acc = vec4<f32>(0.0);
  if (c < C) {
    ${silu ? `let wc = ${s.w ? "ld_w(c)" : "1.0"};
    let bc = ${s.b ? "ld_b(c)" : "0.0"};` : ""}
    for (var p = p0 + lane; p < p1; p += ${LANES}u) {
      let n = p / S;
      let o = ${cl ? "p * C + c" : "(n * C + c) * S + p % S"};
      let row = n * G + c / Cg;
      let xh = (ld_x(o) - meanIn[row]) * rstdIn[row];
      var d = ld_dy(o);
      ${silu ? `let yv = xh * wc + bc;
      let sg = 1.0 / (1.0 + exp(-yv));
      d = d * sg * (1.0 + yv * (1.0 - sg));` : ""}
      acc = merge(acc, vec4<f32>(d * xh, d, 0.0, 0.0));
    }
  }
  red[lid] = acc;
  workgroupBarrier();
  ${cl
    ? `if (lane == 0u && c < C) {
    let t = total(merge(merge(red[lid], red[lid + 64u]), merge(red[lid + 128u], red[lid + 192u])));`
    : `for (var k = 128u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = merge(red[lid], red[lid + k]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let t = total(red[0]);`}
    let P = arrayLength(&part) / 2u;
    part[wid.y * C + c] = t.x;
    part[P + wid.y * C + c] = t.y;
  }
}
`;
}

/**
 * InstanceNorm's running statistics (one thread per channel c), from the N instances' mean and
 * biased variance of S values: running ← (1 − m)·running + m·mean_n(stat), the variance made
 * unbiased (·S/(S − 1)) per instance, as PyTorch averages its N updated copies. m = params[0] bits.
 * Bindings: 0 mean [N·C], 1 var [N·C], 2 runMean, 3 runVar, 4 meta.
 */
export function instanceRunningWGSL(C: number, S: number): string {
  return `
const C = ${C}u;
@group(0) @binding(0) var<storage, read> meanIn: array<f32>;
@group(0) @binding(1) var<storage, read> varIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> runMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> runVar: array<f32>;
@group(0) @binding(4) var<storage, read> params: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= C) { return; }
  let N = arrayLength(&meanIn) / C;
  var sm = 0.0;
  var sv = 0.0;
  for (var n = 0u; n < N; n++) { sm += meanIn[n * C + c]; sv += varIn[n * C + c]; }
  let mom = bitcast<f32>(params[0]);
  let fn_ = f32(N);
  runMean[c] = (1.0 - mom) * runMean[c] + mom * (sm / fn_);
  runVar[c] = (1.0 - mom) * runVar[c] + mom * ((sv / fn_) * (${S}.0 / ${S - 1}.0));
}
`;
}

/**
 * An elementwise kernel writing `dst` (n = params[0] elements) with value(e) of element e: one
 * thread per 32-bit word of a half dst on u32 words (a word's two elements together, so no two
 * threads share a word; the half of a last word beyond n is kept), else one per element.
 * Binding 1 is dst, binding 7 meta; `decls` declares the inputs.
 */
function elementwise(dst: Store, value: (e: string) => string, decls: string[], stores: Store[], readDst: boolean): string {
  const d1: Store = { ...dst, w: 1 };
  const words = dst.dt !== "float32" && !(dst.f16 && dst.dt === "float16");
  let body: string;
  if (words) {
    body = `let e = g * 2u;
  if (e >= n) { return; }
  let lo = bits_${dst.dt}(${value("e")});
  if (e + 1u < n) { dst[g] = lo | (bits_${dst.dt}(${value("e + 1u")}) << 16u); } else { dst[g] = (dst[g] & 0xffff0000u) | lo; }`;
  } else if (dst.dt === "float32") {
    body = `if (g >= n) { return; }
  dst[g] = ${value("g")};`;
  } else {
    body = `if (g >= n) { return; }
  dst[g] = bitcast<vec2<f16>>(bits_float16(${value("g")})).x;`;
  }
  return `${enableF16([...stores, d1])}${HALF_WGSL}
${decls.join("\n")}
${declare(1, "dst", d1, true)}
${readDst ? loadFn("dst", d1) : ""}
@group(0) @binding(7) var<storage, read> params: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = (wid.y * nwg.x + wid.x) * 256u + lid;
  let n = params[0];
  ${body}
}
`;
}

/** Elements (or words) the elementwise kernels need threads for. */
export const elementwiseThreads = (n: number, dst: Store): number => (dst.dt !== "float32" && !(dst.f16 && dst.dt === "float16") ? Math.ceil(n / 2) : n);

/** dst (+)= src converted to dst's dtype (round to nearest even). Bindings: 0 src, 1 dst, 7 meta. */
export function castWGSL(src: Store, dst: Store, accumulate: boolean): string {
  const s1: Store = { ...src, w: 1 };
  return elementwise(dst, (e) => (accumulate ? `(ld_src(${e}) + ld_dst(${e}))` : `ld_src(${e})`), [declare(0, "src", s1, false), loadFn("src", s1)], [s1], accumulate);
}

/**
 * The fused add alone, h = round_x((x + residual) + inputBias), for devices whose storage-buffer
 * limit cannot bind the fused add + LayerNorm at once (then the norm runs on h in a second pass:
 * the same bits). Bindings: 0 x, 2 residual, 3 inputBias (per column of D), 1 h, 7 meta.
 */
export function addWGSL(x: Store, ib: DType | null, D: number): string {
  const x1: Store = { ...x, w: 1 };
  const decls = [declare(0, "x", x1, false), loadFn("x", x1), declare(2, "r", x1, false), loadFn("r", x1)];
  const stores = [x1];
  if (ib) {
    const b1: Store = { dt: ib, w: 1, f16: x.f16 };
    decls.push(declare(3, "ib", b1, false), loadFn("ib", b1));
    stores.push(b1);
  }
  return elementwise(x, (e) => `((ld_x(${e}) + ld_r(${e}))${ib ? ` + ld_ib((${e}) % ${D}u)` : ""})`, decls, stores, false);
}

/**
 * out[c] (+)= Σ_p part[p·D + c] over the P = arrayLength/D partial rows, compensated (TwoSum) and
 * in a fixed order: 64 columns × 4 lanes per workgroup, each lane every 4th row, the lanes merged
 * in order. The error of a parameter gradient then does not grow with the number of rows summed.
 * D is out's length (bound exactly), so one pipeline serves every width.
 * TODO(accuracy merge): wgsl.ts's colsumWGSL becomes compensated on the accuracy branch.
 */
export function colsumExtWGSL(accumulate: boolean): string {
  return `${SUMS}
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> outp: array<f32>;
var<workgroup> red: array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let D = arrayLength(&outp);
  let c = wid.x * 64u + lid % 64u;
  let lane = lid / 64u;
  let P = arrayLength(&part) / D;
  var s = vec4<f32>(0.0);
  if (c < D) { for (var p = lane; p < P; p += 4u) { s = merge(s, vec4<f32>(part[p * D + c], 0.0, 0.0, 0.0)); } }
  red[lid] = s;
  workgroupBarrier();
  if (lane == 0u && c < D) {
    let t = total(merge(merge(red[lid], red[lid + 64u]), merge(red[lid + 128u], red[lid + 192u]))).x;
    outp[c] = ${accumulate ? "outp[c] + t" : "t"};
  }
}
`;
}
