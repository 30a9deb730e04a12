/**
 * Forward of the issue #12 row kernels (see wgsl-ext.ts for the maps and sums):
 *
 *   h = round_x((x + residual) + inputBias)        (fused add; written to h, or over residual)
 *   mean, rstd of each row of h (or x): two-pass, compensated, f32; or BatchNorm's running ones
 *   x̂ = (v − mean)·rstd, rounded per castingMode (docs/ops-semantics.md)
 *   y = x̂·(offset + w) + b, then SiLU y·σ(y) if asked; stored rounded to x's dtype
 *
 * BatchNorm training updates the running statistics in the kernel (row = channel): running ←
 * (1 − m)·running + m·stat, the variance unbiased (Σ(x − μ)²/(D − 1)); m comes from a small
 * `meta` buffer so that momentum null (1/(n + 1), a new value each call) needs no new pipeline.
 * InstanceNorm training writes each row's biased variance (`varOut`) for the running update.
 *
 * Bindings: 0 x, 1 residual (read_write when h goes over it), 2 inputBias, 3 w, 4 b, 5 y,
 * 6 mean, 7 rstd, 8 h, 9 runMean, 10 runVar, 11 varOut, 12 meta (momentum bits).
 */
import type { DType } from "../../dtype.js";
import { declare, enableF16, loadFn, roundFn, storeFn, type Store } from "./wgsl-half.js";
import { extEntry, extPrelude, f32bits, paramOf, paramStore, rowsExpr, scratched, weightOf, xStore, type ExtSpec } from "./wgsl-ext.js";

export interface ExtForwardSpec extends ExtSpec {
  /** fused residual add: inputBias dtype (null: none); h written to its own tensor ("out") or over residual ("res") */
  add: null | { ib: DType | null; h: "out" | "res" };
  /** "running": BatchNorm eval, mean and rstd from the running statistics */
  stats: "batch" | "running";
  /** BatchNorm training: update runMean/runVar in place (momentum from meta) */
  update: boolean;
  /** write mean (LayerNorm-type rows) and rstd per row */
  save: boolean;
  /** InstanceNorm training: write each row's biased variance */
  varOut: boolean;
}

/** The bindings a forward uses (to count them against the device's storage-buffer limit). */
export function forwardBindings(s: ExtForwardSpec): number[] {
  const b = [0, 5];
  if (s.add) b.push(1, ...(s.add.ib ? [2] : []), ...(s.add.h === "out" ? [8] : []));
  if (s.w) b.push(3);
  if (s.b) b.push(4);
  if (s.save) b.push(...(s.rms ? [] : [6]), 7);
  if (s.stats === "running" || s.update) b.push(9, 10);
  if (s.update) b.push(12);
  if (s.varOut) b.push(11);
  return b;
}

export function extForwardWGSL(s: ExtForwardSpec, eps: number): string {
  const scratch = scratched(s);
  if (scratch && s.add?.h === "res") throw new Error("internal: h over residual needs direct stores (the steps send it through the scratch)");
  if (!s.save && s.map.k !== "bn") throw new Error("internal: rows are counted from the saved statistics");
  const xs = xStore(s), out = xStore(s, scratch);
  const regs = s.plan.store === "regs";
  const stores: (Store | null)[] = [xs, s.w ? paramStore(s, s.w) : null, s.b ? paramStore(s, s.b) : null];
  const decl: string[] = [declare(0, "x", xs, false), loadFn("x", xs)];
  if (s.add) {
    decl.push(declare(1, "r", xs, s.add.h === "res"), loadFn("r", xs));
    if (s.add.h === "res") decl.push(storeFn("r", xs));
    if (s.add.ib) {
      const ib: Store = { dt: s.add.ib, w: s.plan.vec, f16: s.plan.f16 };
      stores.push(ib);
      decl.push(declare(2, "ib", ib, false), loadFn("ib", ib));
    }
    if (s.add.h === "out") decl.push(declare(8, "h", out, true), loadFn("h", out), storeFn("h", out));
  }
  if (s.w) decl.push(declare(3, "w", paramStore(s, s.w), false), loadFn("w", paramStore(s, s.w)));
  if (s.b) decl.push(declare(4, "b", paramStore(s, s.b), false), loadFn("b", paramStore(s, s.b)));
  decl.push(declare(5, "y", out, true), storeFn("y", out));
  const stat = (b: number, name: string) => `@group(0) @binding(${b}) var<storage, read_write> ${name}: array<f32>;`;
  if (s.save) decl.push(...(s.rms ? [] : [stat(6, "meanOut")]), stat(7, "rstdOut"));
  if (s.stats === "running" || s.update) {
    const access = s.update ? "read_write" : "read";
    decl.push(`@group(0) @binding(9) var<storage, ${access}> runMean: array<f32>;`, `@group(0) @binding(10) var<storage, ${access}> runVar: array<f32>;`);
  }
  if (s.varOut) decl.push(stat(11, "varOut"));
  if (s.w !== null && s.w !== "float32") decl.push(roundFn("rw", s.w, s.plan.vec));
  if (s.update) decl.push("@group(0) @binding(12) var<storage, read> params: array<u32>;");

  // the value a row is normalized from: x, or the rounded h of the fused add (stored as it is made)
  const hOut = s.add ? (s.add.h === "res" ? "st_r" : "st_h") : null;
  const hin = s.add
    ? `rx((ld_x(a) + ld_r(a))${s.add.ib ? " + ld_ib(i)" : ""})`
    : "ld_x(a)";
  const hStore = hOut ? ` ${hOut}(a, v);` : "";
  // a later pass of the loop variant re-reads what the first stored
  const hre = s.add ? (s.add.h === "res" ? "ld_r(a)" : "ld_h(a)") : "ld_x(a)";
  const first = (body: string) =>
    regs
      ? `for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < n) { let a = at(row, i); let v = ${hin}; xs[k] = v;${hStore} ${body} } }`
      : `for (var i = lane; i < n; i += T) { let a = at(row, i); let v = ${hin};${hStore} ${body} }`;
  const again = (body: string) =>
    regs
      ? `for (var k = 0u; k < K; k++) { let i = lane + k * T; if (i < n) { let a = at(row, i); let v = xs[k]; ${body} } }`
      : `for (var i = lane; i < n; i += T) { let a = at(row, i); let v = ${hre}; ${body} }`;
  const E = f32bits(eps);
  let stats: string;
  let statsFirst = true; // whether a statistics pass is the first pass (else the output pass is)
  if (s.stats === "running") {
    statsFirst = false;
    stats = `let m = runMean[row]; let rs = 1.0 / sqrt(runVar[row] + ${E}); let ssq = 0.0;`;
  } else if (s.rms) {
    stats = `var q = ZERO;
  ${first("q = acc(q, v * v);")}
  let ssq = reduce(fold(q, ZERO), lid, lane).x;
  let rs = 1.0 / sqrt(ssq * invD + ${E});
  let m = 0.0;`;
  } else {
    stats = `var sm = ZERO;
  ${first("sm = acc(sm, v);")}
  let m = reduce(fold(sm, ZERO), lid, lane).x * invD;
  var q = ZERO;
  ${again("let d = v - V(m); q = acc(q, d * d);")}
  let ssq = reduce(fold(q, ZERO), lid, lane).x;
  let rs = 1.0 / sqrt(ssq * invD + ${E});`;
  }
  const y = `${yOf(s)}${scratch ? " st_y(a, rx(t));" : " st_y(a, t);"}`;
  const tail: string[] = [];
  if (s.save) tail.push(...(s.rms ? [] : ["meanOut[row] = m;"]), "rstdOut[row] = rs;");
  if (s.varOut) tail.push("varOut[row] = ssq * invD;");
  if (s.update) {
    tail.push(
      "let mom = bitcast<f32>(params[0]);",
      "runMean[row] = (1.0 - mom) * runMean[row] + mom * m;",
      `runVar[row] = (1.0 - mom) * runVar[row] + mom * (ssq / ${f32bits(s.D - 1)});`,
    );
  }
  return `${enableF16(stores)}${extPrelude(s, [s.add?.ib ?? null])}
${decl.join("\n")}

${extEntry(s)}
  let rows = ${rowsExpr(s, s.save ? "rstdOut" : "y")};
  let row = (wid.y * nwg.x + wid.x) * TEAMS + team;
  // rows past the end still run (masked) so that every invocation reaches every barrier
  let valid = row < rows;
  let n = select(0u, N, valid);
  ${regs ? "var xs: array<V, K>;" : ""}
  ${stats}
  ${statsFirst ? again(y) : first(y)}
  if (valid && lane == 0u) {
    ${tail.join("\n    ")}
  }
}
`;
}

/** `let t = …;` the output of item value v: x̂ per castingMode, weight and offset, bias, SiLU. */
function yOf(s: ExtSpec): string {
  const half = s.x !== "float32";
  const mode = half ? s.mode : "gemma";
  const c = s.rms ? "v" : "(v - V(m))";
  let xh: string;
  if (mode === "gemma") xh = `${c} * rs`;
  else if (mode === "llama") xh = `rx(${c} * rs)`;
  else xh = `rx(${s.rms ? "v" : "rx(v - V(rx1(m)))"} * V(rx1(rs)))`;
  let t = `let xh = ${xh};`;
  const w = weightOf(s);
  if (mode === "none" && s.w !== null) {
    // torch half ops: the weight (plus offset) in its dtype, the product rounded to the promoted dtype before the bias
    const wv = paramOf(s, "w");
    const sum = s.offset === 0 ? wv : `(${wv} + V(${f32bits(s.offset)}))`;
    const rw = s.w === "float32" ? sum : `rw(${sum})`;
    t += ` var t = xh * ${rw};`;
    if (s.b !== null && s.w === s.x) t += " t = rx(t);";
  } else {
    t += ` var t = ${w === null ? "xh" : `xh * ${w}`};`;
  }
  if (s.b !== null) t += ` t = t + ${paramOf(s, "b")};`;
  if (s.act === "silu") t += " t = t * (1.0 / (1.0 + exp(-t)));";
  return t;
}
