/**
 * Issue #12's benchmark parts without any peer: the cases and their bytes, which variants run on
 * which cases, onnxruntime's Skip*LayerNormalization models (bench/peer-ort-skip.ts), the float64
 * reference check every peer's output goes through (bench/lib12.ts), the targets, the report tables.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allCases, caseBytes, caseKey, checkIndices, checkRows, issue12Cases, matchesFilter, summarize, variantCovers, EPS, FUSED_SHAPES, HALF_SHAPES,
  inputB, inputDy, inputR, inputW, inputX, type Case, type Hello, type Measurement, type Results,
} from "../../bench/lib.js";
import { evaluateTargets12, expectedValues, halfValues, refCheck, refCheckLines, storedValues, REF_LIMIT } from "../../bench/lib12.js";
import { skipGraph, SKIP_OP } from "../../bench/peer-ort-skip.js";
import { prepareVariant } from "../../bench/peer-normkit12.js";
import { markdownReport } from "../../bench/report.js";
import { addInputRef, rowNormModeBackwardRef, rowNormModeRef, rowStatsRef } from "../../src/reference/index.js";
import { makeData, type CaseData } from "../../bench/child.js";
import { createPool } from "../../src/index.js";
import { f32ToBf16Bits, f32ToF16Bits, roundToDType, type DType } from "../../src/dtype.js";

const key = (s: string) => issue12Cases().find((c) => caseKey(c) === s);

test("#12 cases: fused float32 at every shape, half storage beside float32 at [4096, 4096], each once", () => {
  const cs = issue12Cases();
  assert.equal(cs.length, 4 + 2 * 2 * FUSED_SHAPES.length + 2 * 4 * (HALF_SHAPES.length + 1));
  assert.equal(new Set(cs.map(caseKey)).size, cs.length);
  assert.equal(new Set(allCases().map(caseKey)).size, allCases().length, "no #12 case repeats a classic one");
  for (const s of ["addRmsNorm forward [4096, 4096]", "addRmsNorm forward [16384, 256]", "addLayerNorm backward [64, 768]", "rmsNorm forward [4096, 4096]",
    "rmsNorm forward [4096, 4096] bfloat16", "addLayerNorm backward [4096, 4096] float16", "layerNorm forward [64, 768] bfloat16"]) {
    assert.ok(key(s), s);
  }
  assert.equal(key("rmsNorm forward [4096, 768]"), undefined, "a classic case, not repeated");
  assert.equal(key("rmsNorm backward [4096, 768] bfloat16"), undefined, "half backward at [4096, 4096] only");
  // --cases: any of the |-separated texts; commas belong to the shapes
  const f = (s: string) => allCases().filter((c) => matchesFilter(c, s)).map(caseKey);
  assert.deepEqual(f("addRmsNorm forward [1024, 4096]"), ["addRmsNorm forward [1024, 4096]", "addRmsNorm forward [1024, 4096] bfloat16", "addRmsNorm forward [1024, 4096] float16"]);
  assert.deepEqual(new Set(f("backward [4096, 4096] bfloat16|rmsNorm forward [64, 768]")), new Set([
    "rmsNorm forward [64, 768]", "layerNorm backward [4096, 4096] bfloat16", "rmsNorm backward [4096, 4096] bfloat16",
    "rmsNorm forward [64, 768] bfloat16", "rmsNorm forward [64, 768] float16", "addLayerNorm backward [4096, 4096] bfloat16", "addRmsNorm backward [4096, 4096] bfloat16",
  ]));
  assert.equal(f("").length, allCases().length);
});

test("#12 bytes: x and residual in, y and h out; half tensors 2 bytes, statistics 4", () => {
  const c = (op: Case["op"], dir: Case["dir"], dtype?: Case["dtype"]): Case => ({ op, dir, rows: 4, D: 8, ...(dtype ? { dtype } : {}) });
  // fused RMSNorm forward [4, 8]: x, residual (64) + γ (8) in, y, h (64) out = 136 floats
  assert.equal(caseBytes(c("addRmsNorm", "forward")), 136 * 4);
  assert.equal(caseBytes(c("addRmsNorm", "forward", "bfloat16")), 136 * 2);
  // fused LayerNorm backward, float16: dy, h (64) + γ (8) in, dx (32) + dγ, dβ (16) out, in half; mean, rstd (8) in float32
  assert.equal(caseBytes(c("addLayerNorm", "backward", "float16")), 120 * 2 + 8 * 4);
  // plain half forward: x (32) + γ, β (16) in, y (32) out
  assert.equal(caseBytes(c("layerNorm", "forward", "bfloat16")), 80 * 2);
  assert.equal(caseBytes(c("rmsNorm", "backward", "bfloat16")), (64 + 8 + 32 + 8) * 2 + 4 * 4);
});

test("coverage: a variant runs only on the cases it declares (classic by default)", () => {
  const classic = {};
  const fusedFwd = { covers: [{ ops: ["addRmsNorm" as const], dtypes: ["float32" as const, "bfloat16" as const], dirs: ["forward" as const] }] };
  const ln: Case = { op: "layerNorm", dir: "backward", rows: 4096, D: 4096 };
  assert.equal(variantCovers(classic, ln), true, "classic variants run the plain float32 norms at [4096, 4096] too");
  assert.equal(variantCovers(classic, { ...ln, dtype: "bfloat16" }), false);
  assert.equal(variantCovers(classic, { ...ln, op: "addLayerNorm" }), false);
  assert.equal(variantCovers(fusedFwd, { op: "addRmsNorm", dir: "forward", rows: 1, D: 1, dtype: "bfloat16" }), true);
  assert.equal(variantCovers(fusedFwd, { op: "addRmsNorm", dir: "backward", rows: 1, D: 1 }), false);
  assert.equal(variantCovers(fusedFwd, { op: "addRmsNorm", dir: "forward", rows: 1, D: 1, dtype: "float16" }), false);
});

test("checked values: whole rows from first to last in #12's cases, the classic six elsewhere", () => {
  const big: Case = { op: "addRmsNorm", dir: "forward", rows: 4096, D: 4096 };
  assert.deepEqual(checkRows(big), [0, 1365, 2730, 4095]);
  const idx = checkIndices(big);
  assert.equal(idx.length, 4 * 4096);
  assert.equal(idx[4096], 1365 * 4096);
  const wide: Case = { op: "addLayerNorm", dir: "backward", rows: 64, D: 768 };
  assert.equal(checkRows(wide).length, 21);
  assert.equal(checkRows(wide).at(-1), 63);
  assert.deepEqual(checkRows({ op: "addRmsNorm", dir: "forward", rows: 2, D: 8 }), [0, 1]);
  assert.equal(checkIndices({ op: "rmsNorm", dir: "forward", rows: 4096, D: 768 }).length, 6);
});

test("onnxruntime models: one com.microsoft Skip*LayerNormalization node, outputs y and h, in the case's dtype", () => {
  const w = new Uint16Array([1, 2, 3]);
  const b = new Uint16Array([4, 5, 6]);
  const ln = skipGraph({ op: "addLayerNorm", dir: "forward", rows: 5, D: 3, dtype: "float16" }, { weight: w, bias: b });
  assert.equal(ln.nodes.length, 1);
  const n = ln.nodes[0]!;
  assert.equal(n.op, "SkipLayerNormalization");
  assert.equal(n.domain, "com.microsoft");
  assert.deepEqual(n.inputs, ["x", "skip", "gamma", "beta"]);
  assert.deepEqual(n.outputs, ["y", "", "", "h"], "mean and inv_std_var not requested; input_skip_bias_sum is output 3");
  assert.deepEqual(n.attrs, { epsilon: { f: EPS } });
  assert.deepEqual(ln.opsets, { "": 17, "com.microsoft": 1 });
  assert.deepEqual(ln.inputs, [{ name: "x", shape: [5, 3], dtype: "float16" }, { name: "skip", shape: [5, 3], dtype: "float16" }]);
  assert.deepEqual(ln.outputs.map((o) => [o.name, o.dtype]), [["y", "float16"], ["h", "float16"]]);
  assert.deepEqual(ln.initializers.map((i) => [i.name, i.shape, i.dtype, i.data]), [["gamma", [3], "float16", w], ["beta", [3], "float16", b]]);
  const rms = skipGraph({ op: "addRmsNorm", dir: "forward", rows: 2, D: 3 }, { weight: new Float32Array(3), bias: new Float32Array(3) });
  assert.equal(rms.nodes[0]!.op, SKIP_OP.addRmsNorm);
  assert.equal(rms.nodes[0]!.op, "SkipSimplifiedLayerNormalization");
  assert.deepEqual(rms.nodes[0]!.inputs, ["x", "skip", "gamma"], "no β: ORT's simplified op has none");
  assert.deepEqual(rms.initializers.map((i) => [i.name, i.dtype]), [["gamma", "float32"]]);
  assert.throws(() => skipGraph({ op: "rmsNorm", dir: "forward", rows: 2, D: 3 }, { weight: w, bias: b }), /no onnxruntime fused op for rmsNorm/);
});

// ---- the reference check ----

/** What a peer would report for `c`: out(inputs of row r) per checked row, values at checkIndices (y then h), rounded to the dtype. */
function report(c: Case, out: (g: { x: Float64Array; r: Float64Array; dy: Float64Array; w: Float64Array; b: Float64Array }) => ArrayLike<number>[]): number[] {
  const dt: DType = c.dtype ?? "float32";
  const idx = checkIndices(c);
  const rows = new Map<number, ArrayLike<number>[]>();
  for (const i of idx) {
    const r = Math.floor(i / c.D);
    if (!rows.has(r)) {
      const s = (f: (i: number) => number, from: number, n: number) => storedValues(f, from, n, dt);
      rows.set(r, out({ x: s(inputX, r * c.D, c.D), r: s(inputR, r * c.D, c.D), dy: s(inputDy, r * c.D, c.D), w: s(inputW, 0, c.D), b: s(inputB, 0, c.D) }));
    }
  }
  const outs = rows.values().next().value!.length;
  const got: number[] = [];
  for (let o = 0; o < outs; o++) for (const i of idx) got.push(roundToDType(rows.get(Math.floor(i / c.D))![o]![i % c.D]!, dt));
  return got;
}

const sum = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, k) => v + b[k]!);

test("reference check: right answers pass, whatever their rounding; another function fails", () => {
  const cases: Case[] = [
    { op: "addRmsNorm", dir: "forward", rows: 32, D: 256 },
    { op: "addLayerNorm", dir: "forward", rows: 16, D: 512, dtype: "bfloat16" },
    { op: "addRmsNorm", dir: "forward", rows: 8, D: 1024, dtype: "float16" },
    { op: "layerNorm", dir: "forward", rows: 32, D: 256, dtype: "bfloat16" },
  ];
  for (const c of cases) {
    const dt: DType = c.dtype ?? "float32";
    const rms = c.op === "addRmsNorm";
    const fused = c.op !== "layerNorm";
    const idx = checkIndices(c);
    const ok = (got: number[]) => refCheck(c, idx, got);
    const o = (w: ArrayLike<number> | null, b: ArrayLike<number>, eps = EPS, extra = {}) =>
      ({ weight: w, bias: rms ? null : b, eps, ...(dt === "float32" ? {} : { dtypes: { x: dt, weight: dt, bias: dt } }), ...extra });
    const h = (g: { x: Float64Array; r: Float64Array }) => (fused ? Float64Array.from(sum(g.x, g.r), (v) => roundToDType(v, dt)) : g.x);
    const fwd = (f: (g: Parameters<Parameters<typeof report>[1]>[0], hh: Float64Array) => Float64Array, unrounded = false) =>
      report(c, (g) => {
        const hh = unrounded ? sum(g.x, g.r) : h(g);
        return fused ? [f(g, hh), hh] : [f(g, hh)];
      });
    const name = caseKey(c);
    // the reference itself, rounded to the output dtype (as every kernel stores it): under a half unit
    const right = ok(fwd((g, hh) => rowNormModeRef(rms, hh, 1, c.D, o(g.w, g.b))));
    assert.ok(right.ok && right.error <= 0.5 + 1e-9, `${name}: ${right.error}`);
    assert.equal(ok(Array.from(expectedValues(c, idx).value)).error, 0);
    if (fused) {
      // onnxruntime's float16 kernel normalizes the unrounded float32 sum: the same function, checked as right
      const ort = ok(fwd((g, hh) => rowNormModeRef(rms, hh, 1, c.D, o(g.w, g.b)), true));
      assert.ok(ort.ok && ort.error < 1, `${name} unrounded h: ${ort.error}`);
    }
    // no γ, Gemma's (1 + γ), rows mixed up: wrong
    for (const [what, f] of [
      ["no γ", (g: { b: Float64Array }, hh: Float64Array) => rowNormModeRef(rms, hh, 1, c.D, o(null, g.b))],
      ["1 + γ", (g: { w: Float64Array; b: Float64Array }, hh: Float64Array) => rowNormModeRef(rms, hh, 1, c.D, o(g.w, g.b, EPS, { weightOffset: 1 }))],
    ] as const) {
      const r = ok(fwd(f));
      assert.ok(!r.ok && r.error > 2 * REF_LIMIT[dt], `${name} ${what}: ${r.error}`);
    }
    const shifted = Array.from(expectedValues(c, idx.map((i) => (i + c.D) % (c.rows * c.D))).value);
    assert.equal(ok(shifted).ok, false, `${name}: another row's values`);
    // NaN, missing values
    const nan = Array.from(expectedValues(c, idx).value);
    nan[nan.length - 1] = NaN;
    assert.equal(ok(nan).error, Infinity);
    assert.equal(ok(nan.slice(0, idx.length - 1)).ok, false);
    if (fused) assert.equal(ok(nan.slice(0, idx.length)).ok, false, "a fused forward must report h too");
  }
  // float32: ε 10× too large is wrong; ε 10× too small is within the limit (12 units: the check is about the function, not ε's last digits)
  const c: Case = { op: "addRmsNorm", dir: "forward", rows: 32, D: 256 };
  const withEps = (eps: number) => refCheck(c, checkIndices(c), report(c, (g) => {
    const hh = Float64Array.from(sum(g.x, g.r), Math.fround);
    return [rowNormModeRef(true, hh, 1, c.D, { weight: g.w, eps }), hh];
  }));
  assert.equal(withEps(1e-4).ok, false);
  assert.ok(withEps(1e-6).ok);
});

test("reference check of backward: dx of the norm of the rounded h", () => {
  for (const c of [
    { op: "addLayerNorm", dir: "backward", rows: 8, D: 1024, dtype: "bfloat16" },
    { op: "rmsNorm", dir: "backward", rows: 8, D: 512, dtype: "float16" },
    { op: "addRmsNorm", dir: "backward", rows: 32, D: 256 },
  ] as Case[]) {
    const dt: DType = c.dtype ?? "float32";
    const rms = c.op.endsWith("RmsNorm") || c.op === "rmsNorm";
    const fused = c.op.startsWith("add");
    const dx = (weight: boolean) => report(c, (g) => {
      const hh = fused ? Float64Array.from(sum(g.x, g.r), (v) => roundToDType(v, dt)) : g.x;
      const o = { weight: weight ? g.w : null, bias: rms ? null : g.b, eps: EPS, ...(dt === "float32" ? {} : { dtypes: { x: dt, weight: dt, bias: dt } }) };
      return [rowNormModeBackwardRef(rms, g.dy, hh, 1, c.D, o).dx];
    });
    const right = refCheck(c, checkIndices(c), dx(true));
    assert.ok(right.ok && right.error <= 0.5 + 1e-9, `${caseKey(c)}: ${right.error}`);
    assert.equal(refCheck(c, checkIndices(c), dx(false)).ok, false, `${caseKey(c)} without γ`);
  }
});

test("half values: the children's inputs are float32 rounded once to the dtype, decoded exactly", () => {
  const v = storedValues(inputX, 0, 1000, "bfloat16");
  const bits = Uint16Array.from({ length: 1000 }, (_, i) => f32ToBf16Bits(inputX(i)));
  assert.deepEqual(Array.from(halfValues(bits, "bfloat16")), Array.from(v));
  const h = Uint16Array.from({ length: 1000 }, (_, i) => f32ToF16Bits(inputR(i)));
  assert.deepEqual(Array.from(halfValues(h, "float16")), Array.from(storedValues(inputR, 0, 1000, "float16")));
});

// ---- targets and report ----

function measured(entries: [Case, string, number][]): Measurement[] {
  const ms = entries.map(([c, variant, t]) => ({ case: c, variant, times: [t] }) as Measurement);
  summarize(ms, (v) => v.startsWith("nk"));
  return ms;
}

test("#12 targets: add nearly free, bfloat16 ≤ 0.7× float32, faster than onnxruntime; n/a without a peer", () => {
  const big = { rows: 4096, D: 4096 };
  const ms = measured([
    [{ op: "rmsNorm", dir: "forward", ...big }, "nk-out", 10],
    [{ op: "rmsNorm", dir: "forward", ...big }, "nk", 12],
    [{ op: "addRmsNorm", dir: "forward", ...big }, "nk", 11],
    [{ op: "addRmsNorm", dir: "forward", ...big }, "nk-2t", 5], // two threads: not in the single-thread targets
    [{ op: "addRmsNorm", dir: "forward", ...big }, "ort", 20],
    [{ op: "addRmsNorm", dir: "forward", ...big, dtype: "bfloat16" }, "nk", 8],
    [{ op: "addRmsNorm", dir: "forward", ...big, dtype: "float16" }, "nk", 9],
    [{ op: "addRmsNorm", dir: "forward", ...big, dtype: "float16" }, "ort", 6],
    [{ op: "rmsNorm", dir: "backward", ...big }, "nk", 20],
    [{ op: "rmsNorm", dir: "backward", ...big, dtype: "bfloat16" }, "nk", 13],
  ]);
  const ts = evaluateTargets12(ms, { normkit1: ["nk", "nk-out"], ortFused1: ["ort"] });
  const get = (target: string, c: string) => ts.find((t) => t.target.startsWith(target) && t.case === c)!;
  const add = get("fused add + RMSNorm forward ≤ 1.15×", "addRmsNorm forward [4096, 4096]");
  assert.ok(Math.abs(add.value! - 1.1) < 1e-12 && add.pass === true, "11 / 10 (the best RMSNorm alone, out= included)");
  assert.equal(get("fused add + RMSNorm forward ≤ 1.15×", "addRmsNorm forward [4096, 768]").pass, null);
  const bf = get("bfloat16 storage ≤ 0.7×", "addRmsNorm forward [4096, 4096] bfloat16");
  assert.ok(Math.abs(bf.value! - 8 / 11) < 1e-12 && bf.pass === false);
  assert.equal(get("bfloat16 storage ≤ 0.7×", "rmsNorm backward [4096, 4096] bfloat16").pass, true); // 0.65
  assert.equal(get("fused forward faster than onnxruntime", "addRmsNorm forward [4096, 4096]").pass, true); // 11 / 20
  assert.equal(get("fused forward faster than onnxruntime", "addRmsNorm forward [4096, 4096] float16").pass, false); // 9 / 6
  const vsF16 = get("bfloat16 fused forward faster than onnxruntime's float16", "addRmsNorm forward [4096, 4096] bfloat16");
  assert.ok(Math.abs(vsF16.value! - 8 / 6) < 1e-12 && vsF16.pass === false);
  const none = get("fused forward faster than onnxruntime", "addLayerNorm forward [4096, 4096]");
  assert.equal(none.pass, null);
  assert.match(none.note!, /no onnxruntime time/);
  assert.equal(ts.length, 3 + 8 + 2 * (2 * 3 + 1));
});

test("report: one table per #12 op × direction × dtype, the reference check summarized", () => {
  const c: Case = { op: "addRmsNorm", dir: "forward", rows: 4096, D: 4096, dtype: "bfloat16" };
  const ms = measured([[c, "nk", 8], [c, "torch", 16]]);
  ms[0]!.refError = 0.4;
  ms[1]!.refError = 1.5;
  const wrong: Measurement = { case: { ...c, dtype: "float16" }, variant: "ort", skip: "wrong result: y[0, 1] = 3 (reference 2)", refError: 9 };
  const peers: Hello[] = [
    { peer: "nk", versions: {}, variants: [{ id: "nk", peer: "nk", label: "normkit wasm", threads: 1, timed: {} }] },
    { peer: "torch", versions: {}, variants: [{ id: "torch", peer: "torch", label: "PyTorch", threads: 1, timed: {}, opLabel: { addRmsNorm: "PyTorch, x + r then RMSNorm" } }] },
  ];
  const r: Results = {
    date: "2026-01-02T00:00:00Z", host: "h", quick: false,
    machine: { cpu: "cpu", cores: 2, memoryGiB: 8, platform: "linux", node: "v20" },
    peers, skippedPeers: [], measurements: [...ms, wrong], targets: [], seconds: 1,
  };
  const md = markdownReport(r);
  assert.match(md, /\*\*Fused add \+ RMSNorm forward, bfloat16\*\*\n\n\| variant \| \[4096, 4096\] \|\n/);
  assert.match(md, /\| PyTorch, x \+ r then RMSNorm \| 16\.0 ms \(/);
  assert.doesNotMatch(md, /\*\*LayerNorm/, "no empty classic tables");
  assert.match(md, /bfloat16: 2 runs within 4 units \(largest 1\.50: torch, addRmsNorm forward \[4096, 4096\] bfloat16\)/);
  assert.match(md, /1 run failed the check and is not timed/);
  assert.deepEqual(refCheckLines(ms), ["bfloat16: 2 runs within 4 units (largest 1.50: torch, addRmsNorm forward [4096, 4096] bfloat16)"]);
});

// ---- normkit's #12 variants, on stand-in ops ----

type T = { shape: readonly number[]; data: Float32Array | Uint16Array; dtype?: "float16" | "bfloat16" };

/**
 * Stand-ins for the #12 ops with the spec's signatures and results, from the float64 reference
 * (src/reference), recording the options each call got: they test the variants' plumbing (which
 * options, which statistics, in place or not), not normkit's kernels.
 */
function standIns() {
  const calls: { name: string; o: Record<string, unknown>; args: unknown[] }[] = [];
  const dec = (t: T) => (t.data instanceof Uint16Array ? halfValues(t.data, t.dtype!) : t.data);
  const put = (v: ArrayLike<number>, like: T, into?: T): T => {
    const t = into ?? { ...like, data: new (like.data.constructor as Float32ArrayConstructor)(v.length) };
    for (let i = 0; i < v.length; i++) t.data[i] = t.dtype ? (t.dtype === "float16" ? f32ToF16Bits : f32ToBf16Bits)(roundToDType(v[i]!, t.dtype)) : Math.fround(v[i]!);
    return t;
  };
  const stats = (rms: boolean, x: ArrayLike<number>, D: number, eps: number) => {
    const s = rowStatsRef(rms, x, x.length / D, D, eps);
    return { mean: { shape: [x.length / D], data: Float32Array.from(s.mean) }, rstd: { shape: [x.length / D], data: Float32Array.from(s.rstd) } };
  };
  const refOpts = (x: T, o: Record<string, unknown>) => ({
    weight: o["weight"] ? dec(o["weight"] as T) : null, bias: o["bias"] ? dec(o["bias"] as T) : null, eps: o["eps"] as number,
    ...(x.dtype ? { dtypes: { x: x.dtype, weight: x.dtype, bias: x.dtype } } : {}),
  });
  const fns: Record<string, (...a: any[]) => any> = {};
  for (const rms of [false, true]) {
    const P = rms ? "RmsNorm" : "LayerNorm";
    const withMean = (r: { mean: T; rstd: T }) => (rms ? { rstd: r.rstd } : r);
    fns[`add${P}`] = (x: T, res: T, D: number, o: Record<string, unknown>) => {
      calls.push({ name: `add${P}`, o, args: [x, res] });
      const h = addInputRef(dec(x), dec(res), null, D, x.dtype ?? "float32");
      const y = rowNormModeRef(rms, h, h.length / D, D, refOpts(x, o));
      return { y: put(y, x, o["out"] as T), h: put(h, x, o["residualOut"] as T), ...withMean(stats(rms, h, D, o["eps"] as number)) };
    };
    const plain = `${rms ? "rms" : "layer"}Norm`;
    fns[`${plain}Forward`] = (x: T, D: number, o: Record<string, unknown>) => {
      calls.push({ name: `${plain}Forward`, o, args: [x] });
      return { y: put(rowNormModeRef(rms, dec(x), dec(x).length / D, D, refOpts(x, o)), x, o["out"] as T), ...withMean(stats(rms, dec(x), D, o["eps"] as number)) };
    };
    fns[plain] = (x: T, D: number, o: Record<string, unknown>) => fns[`${plain}Forward`]!(x, D, o).y;
    for (const name of [`add${P}Backward`, `${plain}Backward`]) {
      fns[name] = (dy: T, x: T, D: number, o: Record<string, unknown>) => {
        calls.push({ name, o, args: [dy, x] });
        const g = rowNormModeBackwardRef(rms, dec(dy), dec(x), dec(x).length / D, D, refOpts(x, o));
        return { dx: put(g.dx, x, o["out"] as T), dweight: null, dbias: null, dinputBias: null };
      };
    }
  }
  return { fns, calls };
}

const VARIANTS_CASES: Case[] = [
  { op: "addRmsNorm", dir: "forward", rows: 8, D: 64 },
  { op: "addLayerNorm", dir: "forward", rows: 8, D: 64, dtype: "bfloat16" },
  { op: "rmsNorm", dir: "forward", rows: 8, D: 64, dtype: "float16" },
  { op: "addLayerNorm", dir: "backward", rows: 8, D: 64, dtype: "float16" },
  { op: "layerNorm", dir: "backward", rows: 8, D: 64, dtype: "bfloat16" },
];
const variantsFor = (c: Case) =>
  ["normkit-fn-js", "normkit-fn-wasm", "normkit-fn-wasm-out", ...(c.op.startsWith("add") && c.dir === "forward" ? ["normkit-fn-wasm-inplace"] : [])];
/** The case's inputs, to see that no variant changes them (one case's inputs serve every variant, as in the child process). */
const inputsOf = (d: CaseData) => JSON.stringify([d.x, d.residual, d.dy, d.weight, d.bias, d.bits].map((a) => Array.from(Object.values(a ?? {}))));

/** Three timed calls of one variant, then its output (y and h, or dx) through the bench's reference check. */
async function runChecked(variant: string, d: CaseData, p: Parameters<typeof prepareVariant>[2], fns?: Parameters<typeof prepareVariant>[3]) {
  const c = d.c;
  const r = prepareVariant(variant, d, p, fns);
  for (let k = 0; k < 3; k++) await r.run();
  const got = Array.from(await r.output!());
  if (r.outputH) got.push(...Array.from(await r.outputH()));
  const idx = checkIndices(c);
  const fusedFwd = c.op.startsWith("add") && c.dir === "forward";
  return refCheck(c, idx, idx.flatMap((i) => got[i]!).concat(fusedFwd ? idx.map((i) => got[c.rows * c.D + i]!) : []));
}

test("normkit #12 variants: fresh, out=/residualOut=, in place (restored for the check), backward from the forward's statistics", async () => {
  for (const c of VARIANTS_CASES) {
    const fused = c.op.startsWith("add");
    const d = makeData(c);
    const inputs0 = inputsOf(d);
    for (const variant of variantsFor(c)) {
      const { fns, calls } = standIns();
      const check = await runChecked(variant, d, null, fns);
      assert.ok(check.ok && check.error <= 0.5 + 1e-9, `${variant} ${caseKey(c)}: ${check.error}`);
      const timed = calls.filter((k) => k.name.endsWith(c.dir === "backward" ? "Backward" : c.op === "rmsNorm" ? "Forward" : c.op));
      const o = timed.at(-1)!.o;
      const reuse = variant.endsWith("-out") || variant.endsWith("-inplace");
      assert.equal("out" in o, reuse, `${variant}: out`);
      if (fused && c.dir === "forward") {
        assert.equal("residualOut" in o, reuse);
        if (variant.endsWith("-inplace")) {
          assert.equal(o["residualOut"], timed.at(-1)!.args[1], "residualOut is the residual itself");
          assert.equal(timed.length, 3 + 1, "3 timed calls (x, −x, x), then the check's call from the restored residual");
        }
      }
      assert.equal(inputsOf(d), inputs0, `${variant}: the case's inputs are unchanged`);
      if (c.dir === "backward") {
        assert.ok(o["rstd"] && (c.op.includes("ayer") ? o["mean"] : !("mean" in o)), "the forward's statistics");
        assert.equal("into" in o, reuse);
        // fused: backward gets the forward's h (x + residual rounded to the dtype), plain: x
        const xin = timed.at(-1)!.args[1] as T;
        const want = fused ? addInputRef(d.x, d.residual, null, c.D, c.dtype) : d.x;
        assert.deepEqual(Array.from(xin.data instanceof Uint16Array ? halfValues(xin.data, xin.dtype!) : xin.data), Array.from(want));
      }
    }
  }
});

test("normkit #12 variants on normkit's ops (js, wasm, pool of 2 on shared memory) pass the bench's reference check", async () => {
  // minElements 0: these small cases go to the workers, as the bench's large ones do
  const pool = await createPool({ threads: 2, minElements: 0 });
  try {
    for (const c of [...VARIANTS_CASES, { op: "addRmsNorm", dir: "backward", rows: 8, D: 64 }, { op: "addLayerNorm", dir: "forward", rows: 8, D: 64, dtype: "float16" }] as Case[]) {
      const d = makeData(c);
      const inputs0 = inputsOf(d);
      for (const variant of [...variantsFor(c), "normkit-fn-2t-shared"]) {
        const shared = variant === "normkit-fn-2t-shared";
        const check = await runChecked(variant, d, shared ? (pool as unknown as Parameters<typeof prepareVariant>[2]) : null);
        assert.ok(check.ok, `${variant} ${caseKey(c)}: error ${check.error} > ${check.limit}`);
        assert.equal(inputsOf(d), inputs0, `${variant}: the case's inputs are unchanged`);
      }
    }
  } finally {
    await pool.close();
  }
});
