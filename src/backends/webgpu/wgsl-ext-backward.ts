/**
 * Backward of the issue #12 row kernels (maps and sums: wgsl-ext.ts). Per row, with x̂ = (x − μ)·rstd
 * (RMS: x·rstd) from the saved or recomputed statistics, or BatchNorm eval's running ones:
 *
 *   dyv = dy, or through SiLU: dy·σ(y)·(1 + y·(1 − σ(y))), y = x̂·w + b recomputed
 *   g = dyv·(offset + w)
 *   dx = (g − mean(g) − x̂·mean(g·x̂))·rstd   (RMS: no mean(g) term; running statistics: g·rstd)
 *        + dh (the fused add's gradient arriving on h)
 *
 * Parameter gradients (float32 sums): "rows" map: each team's column sums over its rows (dweight
 * Σ dyv·x̂ — "llama" with half x: Σ dyv·round_x(x̂), as Liger —, dbias Σ dyv, dinputBias Σ dx) into
 * partial rows, added up by colsumExtWGSL in a fixed order; "bn" map: the row's own sums (a channel),
 * written per row; "cf"/"cl": none here (chanGradExtWGSL). The castingMode roundings of the forward
 * do not enter dx (float32 math, docs/ops-semantics.md).
 *
 * Workgroup `blk` owns rows [blk·chunk, (blk + 1)·chunk), chunk = ceil(rows / workgroups); its team
 * j takes rows blk·chunk + j, + TEAMS, … (as wgsl.ts's backward).
 *
 * Bindings: 0 dy, 1 x (or h), 2 mean, 3 rstd, 4 w, 5 b (SiLU), 6 dh, 7 dx, 8 partials (f32 items,
 * one slot per gradient), 9 runMean, 10 runVar, 11 per-channel sums (bn: dweight at c, dbias at
 * slotFloats(1, C) + c, so that each starts 256-byte aligned).
 */
import { declare, enableF16, loadFn, storeFn, type Store } from "./wgsl-half.js";
import { extEntry, extPrelude, f32bits, paramOf, paramStore, rowsExpr, scratched, slotFloats, weightOf, xStore, type ExtSpec } from "./wgsl-ext.js";

export interface ExtBackwardSpec extends ExtSpec {
  stats: "batch" | "running";
  dh: boolean;
  /** which parameter gradients this kernel sums (rows: partial slots in this order; bn: per row) */
  grads: { dw: boolean; db: boolean; dib: boolean };
}

/** Partial slots of the "rows" map, in binding order. */
export const gradSlots = (s: ExtBackwardSpec): ("dw" | "db" | "dib")[] =>
  s.map.k === "rows" ? (["dw", "db", "dib"] as const).filter((k) => s.grads[k]) : [];

export function backwardBindings(s: ExtBackwardSpec): number[] {
  const b = [0, 1, 7];
  if (s.stats === "running") b.push(9, 10);
  else b.push(...(s.rms ? [] : [2]), 3);
  if (s.w) b.push(4);
  if (s.act === "silu" && s.b) b.push(5);
  if (s.dh) b.push(6);
  if (gradSlots(s).length) b.push(8);
  if (s.map.k === "bn" && (s.grads.dw || s.grads.db)) b.push(11);
  return b;
}

export function extBackwardWGSL(s: ExtBackwardSpec, eps: number): string {
  const scratch = scratched(s);
  const xs = xStore(s), out = xStore(s, scratch);
  const regs = s.plan.store === "regs";
  const slots = gradSlots(s);
  const bnGrads = s.map.k === "bn" && (s.grads.dw || s.grads.db);
  const silu = s.act === "silu";
  const stores: (Store | null)[] = [xs, s.w ? paramStore(s, s.w) : null, silu && s.b ? paramStore(s, s.b) : null];
  const decl: string[] = [declare(0, "dy", xs, false), loadFn("dy", xs), declare(1, "x", xs, false), loadFn("x", xs)];
  if (s.stats === "running") {
    decl.push("@group(0) @binding(9) var<storage, read> runMean: array<f32>;", "@group(0) @binding(10) var<storage, read> runVar: array<f32>;");
  } else {
    if (!s.rms) decl.push("@group(0) @binding(2) var<storage, read> meanIn: array<f32>;");
    decl.push("@group(0) @binding(3) var<storage, read> rstdIn: array<f32>;");
  }
  if (s.w) decl.push(declare(4, "w", paramStore(s, s.w), false), loadFn("w", paramStore(s, s.w)));
  if (silu && s.b) decl.push(declare(5, "b", paramStore(s, s.b), false), loadFn("b", paramStore(s, s.b)));
  if (s.dh) decl.push(declare(6, "dh", xs, false), loadFn("dh", xs));
  decl.push(declare(7, "dx", out, true), storeFn("dx", out));
  if (slots.length) decl.push("@group(0) @binding(8) var<storage, read_write> part: array<V>;");
  if (bnGrads) decl.push("@group(0) @binding(11) var<storage, read_write> pg: array<f32>;");

  const eachItem = (body: string) => `for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < n) { let a = at(row, i); ${body} } }`;
  const eachLoop = (body: string) => `for (var i = lane; i < n; i += T) { let a = at(row, i); ${body} }`;
  const each = regs ? eachItem : eachLoop;
  const weff = weightOf(s);
  const half = s.x !== "float32";
  // per item: x̂, the gradient through the activation, and g = dyv·(offset + w)
  const item = `let xv = ${regs ? "xs[k]" : "ld_x(a)"};
      let xh = ${s.rms ? "xv * rs" : "(xv - V(m)) * rs"};
      var dyv = ${regs ? "gs[k]" : "ld_dy(a)"};
      ${silu ? `let yv = xh${weff ? ` * ${weff}` : ""}${s.b ? ` + ${paramOf(s, "b")}` : ""};
      let sg = 1.0 / (1.0 + exp(-yv));
      dyv = dyv * sg * (1.0 + yv * (1.0 - sg));` : ""}
      let gv = ${weff && s.map.k !== "bn" ? `dyv * ${weff}` : weff ? `dyv * wr` : "dyv"};`;
  const sums = s.map.k === "bn" ? "p1 = acc(p1, dyv); p2 = acc(p2, dyv * xh);" : "p1 = acc(p1, gv); p2 = acc(p2, gv * xh);";
  const dxExpr = s.stats === "running" ? "gv * rs" : s.rms ? "(gv - xh * V(mu.y)) * rs" : "(gv - V(mu.x) - xh * V(mu.y)) * rs";
  const val = { dw: `dyv * ${s.mode === "llama" && half ? "rx(xh)" : "xh"}`, db: "dyv", dib: "dxv" };
  const acc = slots.map((k, j) =>
    regs
      ? `{ let r = twoSum(a_${k}[k], ${val[k]}); a_${k}[k] = r.s; c_${k}[k] = c_${k}[k] + r.e; }`
      : `{ let p = ${j}u * stride + pbase + i; part[p] = select(V(0.0), part[p], it > 0u) + ${val[k]}; }`,
  ).join(" ");
  const E = f32bits(eps);
  const stat = s.stats === "running"
    ? `let rs = select(0.0, 1.0 / sqrt(runVar[rr] + ${E}), valid);
    let m = select(0.0, runMean[rr], valid);`
    : `let rs = select(0.0, rstdIn[rr], valid);
    let m = ${s.rms ? "0.0" : "select(0.0, meanIn[rr], valid)"};`;
  return `${enableF16(stores)}${extPrelude(s)}
${decl.join("\n")}

${extEntry(s)}
  let rows = ${rowsExpr(s, s.stats === "running" ? "runVar" : "rstdIn")};
  let chunk = (rows + nwg.x - 1u) / nwg.x;
  let first = wid.x * chunk;
  let last = min(first + chunk, rows);
  let iters = (chunk + TEAMS - 1u) / TEAMS;
  let pbase = (wid.x * TEAMS + team) * N;
  ${slots.length ? `let stride = arrayLength(&part) / ${slots.length}u;` : ""}
  ${regs ? slots.map((k) => `var a_${k}: array<V, K>;\n  var c_${k}: array<V, K>;`).join("\n  ") : ""}
  ${regs ? "var xs: array<V, K>;\n  var gs: array<V, K>;" : ""}
  for (var it = 0u; it < iters; it++) {
    let row = first + it * TEAMS + team;
    let valid = row < last;
    let n = select(0u, N, valid);
    let rr = min(row, rows - 1u);
    ${stat}
    ${s.map.k === "bn" ? `let wr = ${s.w ? "select(0.0, ld_w(rr), valid)" : "1.0"};` : ""}
    ${regs ? eachItem("xs[k] = ld_x(a); gs[k] = ld_dy(a);") : ""}
    var p1 = ZERO;
    var p2 = ZERO;
    ${each(`${item}
      ${sums}`)}
    let red = reduce(fold(p1, p2), lid, lane);
    let mu = red * invD${s.map.k === "bn" && weff ? " * wr" : ""};
    ${each(`${item}
      var dxv = ${dxExpr};${s.dh ? " dxv = dxv + ld_dh(a);" : ""}
      st_dx(a, ${scratch ? "rx(dxv)" : "dxv"});
      ${acc}`)}
    ${bnGrads ? `if (valid && lane == 0u) { ${s.grads.dw ? "pg[row] = red.y;" : ""} ${s.grads.db ? `pg[${slotFloats(1, (s.map as { C: number }).C)}u + row] = red.x;` : ""} }` : ""}
    ${slots.length && !regs ? `// a team with no row this iteration still owns its partial slots: zero them once
    if (!valid && it == 0u) {
      for (var i = lane; i < N; i += T) { ${slots.map((_, j) => `part[${j}u * stride + pbase + i] = V(0.0);`).join(" ")} }
    }` : ""}
  }
  ${regs && slots.length ? `for (var k = 0u; k < K; k++) {
    let i = lane + k * T;
    if (i < N) { ${slots.map((k, j) => `part[${j}u * stride + pbase + i] = fin(a_${k}[k], c_${k}[k]);`).join(" ")} }
  }` : ""}
}
`;
}
