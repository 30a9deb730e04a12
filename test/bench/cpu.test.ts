/** The benchmark's pure parts (bench/lib.ts, bench/report.ts): no peer is installed or run here. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allCases, caseBytes, copyElements, evaluateTargets, isIssue12, fmtMs, gbps, markdownTable, median, quantile, resultRows,
  summarize, textTable, type Case, type Hello, type Measurement, type Results,
} from "../../bench/lib.js";
import { chartSpec, markdownReport } from "../../bench/report.js";

const ln = (dir: "forward" | "backward", rows: number, D: number): Case => ({ op: "layerNorm", dir, rows, D });
const rms = (dir: "forward" | "backward", rows: number, D: number): Case => ({ op: "rmsNorm", dir, rows, D });

test("byte accounting: what each op must read and write", () => {
  // LayerNorm forward [4, 8]: x (32) + γ (8) + β (8) in, y (32) out = 80 floats
  assert.equal(caseBytes(ln("forward", 4, 8)), 80 * 4);
  // RMSNorm forward: no β
  assert.equal(caseBytes(rms("forward", 4, 8)), 72 * 4);
  // LayerNorm backward: x, dy (64) + mean, rstd (8) + γ (8) in; dx (32) + dγ, dβ (16) out = 128 floats
  assert.equal(caseBytes(ln("backward", 4, 8)), 128 * 4);
  // RMSNorm backward: x, dy (64) + rstd (4) + γ (8) in; dx (32) + dγ (8) out = 116 floats
  assert.equal(caseBytes(rms("backward", 4, 8)), 116 * 4);
  // the floor's copy moves the same bytes (k floats read + k written), rounded up to a whole float
  for (const c of allCases()) {
    const k = copyElements(c);
    assert.ok(8 * k >= caseBytes(c) && 8 * (k - 1) < caseBytes(c), JSON.stringify(c));
  }
});

test("cases: every op × direction × shape of the issue, once (then #12's: test/bench/issue12.test.ts)", () => {
  const cs = allCases().filter((c) => !isIssue12(c));
  assert.equal(cs.length, 2 * 2 * 5);
  assert.deepEqual(allCases().slice(0, cs.length), cs, "the classic cases come first");
  assert.equal(new Set(cs.map((c) => JSON.stringify(c))).size, cs.length);
  assert.ok(cs.some((c) => c.rows === 64 && c.D === 768 && c.dir === "backward" && c.op === "rmsNorm"));
});

test("median and quantiles", () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 4, 2, 3], "input not reordered");
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(quantile([1, 2, 3, 4, 5], 0), 1);
  assert.equal(quantile([1, 2, 3, 4, 5], 1), 5);
  assert.equal(quantile([1, 2, 3, 4], 0.5), median([1, 2, 3, 4]));
  assert.equal(quantile([0, 10], 0.25), 2.5);
  assert.equal(gbps(2e9, 1000), 2);
  assert.equal(gbps(caseBytes(ln("forward", 1000, 1000)), 1), (8e6 + 8e3) / 1e6);
});

test("summarize: medians, GB/s and ratios to the best normkit variant of the same case", () => {
  const a = ln("forward", 4, 8);
  const b = rms("forward", 4, 8);
  const ms: Measurement[] = [
    { case: a, variant: "normkit-js", times: [4, 2, 3] },
    { case: a, variant: "normkit-wasm", times: [1, 1, 9] },
    { case: a, variant: "peer", times: [5, 5] },
    { case: b, variant: "normkit-js", times: [10] },
    { case: b, variant: "peer", times: [5] },
    { case: b, variant: "gone", skip: "not installed" },
  ];
  summarize(ms, (v) => v.startsWith("normkit-"));
  assert.equal(ms[0]!.medianMs, 3);
  assert.equal(ms[1]!.medianMs, 1);
  assert.equal(ms[2]!.ratio, 5, "against normkit-wasm, the faster normkit variant of its case");
  assert.equal(ms[0]!.ratio, 3);
  assert.equal(ms[4]!.ratio, 0.5, "ratios never mix cases");
  assert.equal(ms[2]!.gbps, caseBytes(a) / 5e6);
  assert.deepEqual(ms[1]!.quartilesMs, [1, 1, 1, 5, 9]);
  assert.equal(ms[5]!.medianMs, undefined);
  assert.equal(ms[5]!.ratio, undefined);
});

test("targets: pass, miss, and n/a when a peer is missing", () => {
  const f = ln("forward", 4096, 768);
  const b = ln("backward", 4096, 768);
  const big = ln("forward", 16384, 1024);
  const m = (c: Case, variant: string, ms: number): Measurement => ({ case: c, variant, times: [ms] });
  const ms = [
    m(f, "nk", 1.1), m(f, "copy", 1), m(f, "torch", 2), m(f, "ort", 2),
    m(b, "nk", 2), m(b, "copy", 1), m(b, "torch", 4),
    m(big, "nk", 10), m(big, "nk2", 8),
  ];
  summarize(ms, (v) => v.startsWith("nk"));
  const ts = evaluateTargets(ms, { normkit1: ["nk"], normkitPool: "nk2", normkitPoolBase: "nk", copy: "copy", torch1: ["torch"], ort1: ["ort"] });
  const get = (target: string, c: string) => ts.find((t) => t.target.startsWith(target) && t.case === c)!;
  assert.equal(get("forward ≤ 1.15× copy", "layerNorm forward [4096, 768]").pass, true);
  assert.ok(Math.abs(get("forward ≤ 1.15× copy", "layerNorm forward [4096, 768]").value! - 1.1) < 1e-12);
  assert.equal(get("forward ≤ 0.8× PyTorch", "layerNorm forward [4096, 768]").pass, true); // 0.55
  assert.equal(get("forward ≤ 0.5× onnxruntime", "layerNorm forward [4096, 768]").pass, false); // 0.55
  assert.equal(get("backward ≤ 0.7× PyTorch", "layerNorm backward [4096, 768]").pass, true); // 0.5
  assert.equal(get("backward ≤ 1.3× copy", "layerNorm backward [4096, 768]").pass, false); // 2
  assert.equal(get("pool: 2 threads ≥ 1.4×", "layerNorm forward [16384, 1024]").pass, false); // 1.25
  assert.equal(get("forward ≤ 1.15× copy", "layerNorm forward [1024, 4096]").pass, null);
  assert.equal(get("forward ≤ 1.15× copy", "layerNorm forward [1024, 4096]").value, null);
});

test("formatting: units, aligned text table, escaped Markdown", () => {
  assert.equal(fmtMs(0.0123), "12.3 µs");
  assert.equal(fmtMs(1.5), "1.500 ms");
  assert.equal(fmtMs(25), "25.0 ms");
  assert.equal(fmtMs(2500), "2.50 s");
  assert.equal(fmtMs(undefined), "—");
  const t = textTable(["case", "variant", "median"], [["a", "long variant", "1.0 ms"], ["bb", "v", "12.5 ms"]]).split("\n");
  assert.equal(t.length, 4);
  assert.ok(t[2]!.endsWith(" 1.0 ms") && t[3]!.endsWith("12.5 ms"), "numbers right-aligned");
  assert.equal(t[2]!.length, t[3]!.length);
  assert.ok(t[2]!.startsWith("a     long variant"), "text left-aligned");
  const md = markdownTable(["a", "b"], [["x|y", "1"]], ["l", "r"]).split("\n");
  assert.deepEqual(md, ["| a | b |", "| --- | ---: |", "| x\\|y | 1 |"]);
});

test("result rows and the Markdown/chart report list what ran and what did not", () => {
  const c = rms("forward", 64, 768);
  const peers: Hello[] = [
    { peer: "normkit", versions: {}, variants: [{ id: "normkit-js", peer: "normkit", label: "normkit js", threads: 1, timed: { forward: "f" } }] },
    { peer: "pytorch", versions: { torch: "1.13" }, variants: [{ id: "torch-1t", peer: "pytorch", label: "PyTorch", threads: 1, timed: { forward: "g" }, opLabel: { rmsNorm: "PyTorch (manual)" } }] },
  ];
  const ms: Measurement[] = [
    { case: c, variant: "normkit-js", times: [0.02, 0.03, 0.04] },
    { case: c, variant: "torch-1t", skip: "no torch" },
  ];
  summarize(ms, (v) => v.startsWith("normkit-"));
  const rows = resultRows({ measurements: ms, peers });
  assert.deepEqual(rows[0], ["rmsNorm forward [64, 768]", "normkit js", "30.0 µs", (caseBytes(c) / 0.03e6).toFixed(2), "1.00×", "3"]);
  assert.deepEqual(rows[1], ["rmsNorm forward [64, 768]", "PyTorch (manual)", "skipped: no torch", "", "", ""]);
  const r: Results = {
    date: "2026-01-02T00:00:00Z", host: "h", quick: false,
    machine: { cpu: "cpu", cores: 2, memoryGiB: 8, platform: "linux", node: "v20" },
    peers, skippedPeers: [{ peer: "tfjs", reason: "not installed" }], measurements: ms, targets: [], seconds: 1,
  };
  const md = markdownReport(r);
  assert.match(md, /\| normkit js \| — \| — \| — \| 30\.0 µs \(/);
  assert.match(md, /- tfjs: not installed/);
  assert.match(md, /- PyTorch \(manual\): no torch \(rmsNorm forward \[64, 768\]\)/);
  const spec = chartSpec(r) as { data: { values: { gbps: number }[] } };
  assert.equal(spec.data.values.length, 1, "skipped variants have no bar");
});
