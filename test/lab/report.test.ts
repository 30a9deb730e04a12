import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../lab/cli.js";
import { chartToVegaLite, NARROW, renderChartSvg, SeriesColors, symlogTicks, WIDE } from "../../lab/report/charts.js";
import { fromJson, toJson, formatValue } from "../../lab/report/format.js";
import { claimsMarkdown, pickChart, writeReadmeAssets } from "../../lab/report/readme-assets.js";
import { formatSummaryTable } from "../../lab/report/summary.js";
import type { ChartSpec, ClaimResult, LabResults } from "../../lab/types.js";
import { failingExperiment, fakeExperiments } from "../fixtures/lab-fake-experiments.js";

const sink = (isTTY = false) => {
  let text = "";
  return { isTTY, write: (s: string) => void (text += s), get text() { return text; } };
};

async function runFake(argv: string[], experiments = fakeExperiments) {
  const out = sink();
  const err = sink();
  const code = await main(argv, { experiments, loadDefaultCorpus: () => ({ text: "fake corpus", name: "fake" }), stdout: out, stderr: err });
  return { code, out: out.text, err: err.text };
}

async function fakeClaims(): Promise<ClaimResult[]> {
  const noop = { start: () => ({ update() {}, end() {} }), log() {} };
  const ctx = { full: false, seed: 1, corpus: "", corpusName: "", progress: noop, record() {} };
  return Promise.all(fakeExperiments.map((e) => e.run(ctx)));
}

const line: ChartSpec = {
  id: "l", title: "t", kind: "line", x: { field: "step", title: "step", scale: "log" }, y: { field: "a.b", title: "loss", scale: "log" },
  series: "norm", band: true, data: [{ step: 1, norm: "x", "a.b": 2, "a.bLo": 1, "a.bHi": 3 }, { step: 2, norm: "y", "a.b": NaN, "a.bLo": null, "a.bHi": null }],
};

test("chart mapping: scales, band layer, escaped field names, non-finite to null", () => {
  const spec = chartToVegaLite(line) as any;
  assert.equal(spec.layer.length, 2, "band + line");
  const [band, main] = spec.layer;
  assert.equal(band.mark.type, "area");
  assert.equal(band.encoding.y.field, "a\\.bLo");
  assert.equal(band.encoding.y2.field, "a\\.bHi");
  assert.equal(main.mark.type, "line");
  assert.equal(main.encoding.x.scale.type, "log");
  assert.equal(main.encoding.y.scale.type, "log");
  assert.equal(main.encoding.y.field, "a\\.b");
  assert.match(main.transform[0].filter, /datum\["a\.b"\] > 0/);
  assert.equal(spec.data.values[1]["a.b"], null, "NaN is not plottable");
  const bar = chartToVegaLite({ ...line, kind: "bar", x: { field: "step", title: "s" }, y: { field: "v", title: "v", scale: "symlog" }, band: false, data: [{ step: 2, norm: "x", v: 5 }] }) as any;
  assert.equal(bar.layer[0].encoding.x.type, "ordinal", "numeric categories on a bar chart");
  assert.equal(bar.layer[0].encoding.y.scale.type, "symlog");
  assert.equal(bar.layer[0].encoding.xOffset.field, "norm", "grouped bars per series");
  const faceted = chartToVegaLite({ ...line, facet: "depth", data: [{ depth: 4, step: 1, norm: "x", "a.b": 1 }, { depth: 16, step: 1, norm: "x", "a.b": 1 }] }) as any;
  assert.equal(faceted.facet.field, "depth");
  assert.deepEqual(faceted.facet.sort, [4, 16]);
  assert.equal(faceted.columns, 2);
});

test("chart mapping: one colour per series value across charts", () => {
  const colors = new SeriesColors();
  const a = chartToVegaLite({ ...line, data: [{ step: 1, norm: "pre-LN", "a.b": 1 }, { step: 1, norm: "none", "a.b": 1 }] }, colors) as any;
  const b = chartToVegaLite({ ...line, data: [{ step: 1, norm: "none", "a.b": 1 }, { step: 1, norm: "pre-LN", "a.b": 1 }] }, colors) as any;
  const map = (s: any) => Object.fromEntries(s.layer[1].encoding.color.scale.domain.map((d: string, i: number) => [d, s.layer[1].encoding.color.scale.range[i]]));
  assert.deepEqual(map(a), map(b));
  assert.notEqual(map(a)["none"], map(a)["pre-LN"]);
});

test("symlog ticks: powers of ten over wide ranges, 1-2-5 over narrow ones, even steps below 1 — never just 0 and 1", () => {
  assert.deepEqual(symlogTicks([{ v: 0.5 }, { v: 4096 }], "v", false), [0, 1, 10, 100, 1000, 10000]);
  assert.deepEqual(symlogTicks([{ v: 0 }, { v: 5.5 }], "v", false), [0, 1, 2, 5, 10]);
  assert.deepEqual(symlogTicks([{ v: 0 }, { v: 0.49 }], "v", false), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(symlogTicks([{ v: -20 }, { v: 0.3 }], "v", false), [-20, -10, -5, -2, -1, 0, 0.1, 0.2, 0.3]);
});

test("every fake chart renders to an SVG with data marks; ids are unique across charts", async () => {
  const claims = await fakeClaims();
  const colors = new SeriesColors();
  const ids: string[] = [];
  for (const spec of claims.flatMap((c) => c.charts)) {
    const svg = await renderChartSvg(spec, colors, { ...WIDE, title: true });
    assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/, spec.id);
    for (const layout of [WIDE, NARROW]) {
      const w = Number(/^<svg [^>]*width="(\d+)"/.exec(await renderChartSvg(spec, colors, layout))![1]);
      assert.ok(w <= layout.width && w >= layout.width - 40, `${spec.id}: ${w} px for a ${layout.width} px column`);
    }
    assert.match(svg, /class="mark-(line|symbol|rect|area|rule) role-mark/, `${spec.id} has data marks`);
    assert.ok(svg.includes(spec.title), `${spec.id} shows its title`);
    for (const m of svg.matchAll(/\bid="([^"]+)"/g)) ids.push(m[1]);
  }
  assert.equal(new Set(ids).size, ids.length, "duplicate SVG ids would make inline charts share clip paths");
});

test("non-finite numbers survive results.json as strings and come back", () => {
  const text = toJson({ a: NaN, b: Infinity, c: -Infinity, d: 1.5, e: null });
  assert.deepEqual(JSON.parse(text), { a: "NaN", b: "Infinity", c: "-Infinity", d: 1.5, e: null });
  const back = fromJson<Record<string, unknown>>(text);
  assert.ok(Number.isNaN(back.a));
  assert.equal(back.b, Infinity);
  assert.equal(back.c, -Infinity);
  assert.equal(formatValue(0.000012345), "1.23·10⁻⁵");
  assert.equal(formatValue(3884000), "3.88·10⁶", "no ×3884000");
  assert.equal(formatValue(65536), "65,536");
  assert.equal(formatValue(1234.5678), "1,235");
  assert.equal(formatValue(-0.5), "−0.5");
  assert.equal(formatValue(3.14159), "3.142");
  assert.equal(formatValue(0.1 + 0.2), "0.3");
  assert.equal(formatValue(Infinity), "∞");
  assert.equal(formatValue(true), "yes");
});

test("summary table: fits 100 columns (or a narrower terminal) with every verdict on its claim's first line", () => {
  const long = "Without normalization hidden states and gradients grow with depth; LayerNorm keeps them at RMS ≈ 1 — and a much longer tail of words to force wrapping";
  const claims = [
    { title: "Short", verdict: "reproduced" as const, summary: "s1" },
    { title: long, verdict: "not reproduced" as const, summary: "x ".repeat(150) + "END" },
    { title: "A".repeat(130), verdict: "inconclusive" as const, summary: "unbreakable" + "y".repeat(200) },
  ];
  for (const width of [undefined, 200, 120, 100, 80, 60, 10]) {
    const text = formatSummaryTable(claims, width);
    const lines = text.split("\n");
    const limit = width !== undefined && width >= 48 && width <= 100 ? width - 1 : 100;
    for (const l of lines) assert.ok(Array.from(l).length <= limit, `width ${width}: ${Array.from(l).length} > ${limit}: ${l}`);
    const first = lines.filter((l) => /^\d+\./.test(l));
    assert.equal(first.length, 3, `width ${width}`);
    assert.match(first[0], /^1\.\s+✔ reproduced\s+Short$/);
    assert.match(first[1], /^2\.\s+✘ not reproduced\s+Without normalization/);
    assert.match(first[2], /^3\.\s+\? inconclusive\s+A+$/);
    // the claim wraps (nothing of it is lost); the summary is cut to two lines ending in …
    assert.ok(text.replace(/\s+/g, " ").includes("to force wrapping"), `width ${width}: claim text kept`);
    assert.ok(!text.includes("END") && text.includes("…"), `width ${width}: long summary clipped`);
  }
  assert.match(formatSummaryTable([{ ...claims[1], shortTitle: "Hidden states grow" }]), /✘ not reproduced\s+Hidden states grow\n/);
});

test("lab cli on fake experiments: summary, results.json, self-contained index.html", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lab-report-"));
  try {
    const { code, out, err } = await runFake(["--out", dir, "--seed", "3"]);
    assert.equal(code, 0, err);
    assert.match(out, /1\.\s+✔ reproduced\s+Fake: hidden-state scale\n\s+fake: normalized RMS stays near 1/);
    assert.match(out, /2\.\s+\? inconclusive\s+Fake: stable training/);
    assert.match(out, /3\.\s+✘ not reproduced\s+Fake: RMSNorm cost/);

    const results = fromJson<LabResults>(await readFile(join(dir, "results.json"), "utf8"));
    assert.deepEqual(results.claims.map((c) => c.id), ["fake-scale", "fake-training", "fake-cost"]);
    for (const c of results.claims) {
      for (const k of ["id", "title", "verdict", "rule", "evidence"] as const) assert.ok(c[k] !== undefined, `${c.id}.${k}`);
    }
    assert.ok(Number.isNaN(results.claims[1].evidence["Final loss with pre-LN"]), "NaN evidence kept");
    assert.equal(results.runs.length, 7);
    assert.ok(results.runs.some((r) => r.diverged));
    const env = results.environment;
    for (const k of ["node", "platform", "cpu", "cores", "backend", "seed", "mode", "date", "totalSeconds", "seconds.fake-scale"]) assert.ok(k in env, k);
    assert.equal(env.seed, 3);
    assert.equal(env.mode, "quick");
    assert.equal(env.command, "npm start -- --seed 3");

    const html = await readFile(join(dir, "index.html"), "utf8");
    assert.ok(!/<script|<link|<img|<iframe|@import|src=|href="https?:|url\(https?:/i.test(html), "no scripts or external resources");
    assert.equal((html.match(/<figure class="chart"/g) ?? []).length, 7);
    assert.equal((html.match(/<svg /g) ?? []).length, 14, "a desktop and a phone SVG per chart");
    assert.equal((html.match(/<section class="card claim"/g) ?? []).length, 3);
    for (const c of results.claims) {
      assert.ok(html.includes(`id="claim-${c.id}"`));
      assert.ok(html.includes(`data-verdict="${c.verdict}"`));
    }
    assert.ok(html.includes("Second paragraph &lt;with&gt; &amp; markup-like text."), "explanations are escaped");
    assert.ok(html.includes("reproduced when every normalized layer has RMS within ×1.1 of 1"), "rule shown");
    assert.ok(html.includes(">0.733<"), "evidence shown");
    assert.ok(html.includes(">3.88·10⁶<"), "large numbers for people");
    assert.ok(html.includes("No none curve (depth 48): diverged at step 20 (fake)."), "a missing curve is named, with its reason");
    assert.ok(/The y axis does not start at 0: the values span 2.633–2.68, a 1.8 % difference./.test(html), "a narrow axis is called out");
    assert.ok(html.includes("The papers, at small scale"), "papers get their own part");
    assert.ok(html.includes("npm start -- --seed 3"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("lab cli: same seed, same numbers; a different seed changes them", async () => {
  const dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), "lab-seed-"))));
  try {
    await runFake(["--out", dirs[0], "--seed", "5"]);
    await runFake(["--out", dirs[1], "--seed", "5"]);
    await runFake(["--out", dirs[2], "--seed", "6"]);
    // date and timings differ between runs by nature; everything else must match
    const load = async (d: string) => {
      const r = fromJson<LabResults>(await readFile(join(d, "results.json"), "utf8"));
      return { claims: r.claims, runs: r.runs.map((x) => ({ ...x, seconds: 0 })) };
    };
    const [a, b, c] = await Promise.all(dirs.map(load));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.claims, c.claims);
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
});

test("lab cli: a failing experiment is reported, the others still make the report, exit status 1", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lab-fail-"));
  try {
    const { code, out, err } = await runFake(["--out", dir], [fakeExperiments[0], failingExperiment]);
    assert.equal(code, 1);
    assert.match(err, /experiment fake-failing failed: Error: fake failure for testing/);
    assert.match(out, /\? inconclusive\s+Fake: always fails\n\s+experiment failed: fake failure for testing/);
    const results = fromJson<LabResults>(await readFile(join(dir, "results.json"), "utf8"));
    assert.deepEqual(results.claims.map((c) => [c.id, c.verdict]), [["fake-scale", "reproduced"], ["fake-failing", "inconclusive"]]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("lab cli: --experiment runs only the named ones", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lab-one-"));
  try {
    const { code, out } = await runFake(["--out", dir, "--experiment", "fake-cost"]);
    assert.equal(code, 0);
    assert.ok(!out.includes("Fake: hidden-state scale"));
    const results = fromJson<LabResults>(await readFile(join(dir, "results.json"), "utf8"));
    assert.deepEqual(results.claims.map((c) => c.id), ["fake-cost"]);
    assert.equal(results.environment.command, "npm start -- --experiment fake-cost --seed 1");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("README assets: claims table in Markdown and one standalone chart SVG", async () => {
  const claims = await fakeClaims();
  const md = claimsMarkdown(claims);
  const rows = md.trimEnd().split("\n");
  assert.equal(rows.length, 2 + claims.length);
  assert.equal(rows[0], "| Claim | Verdict | Measured |");
  assert.equal(rows[4], "| Fake: RMSNorm cost | **not reproduced** | fake: RMSNorm \\| LayerNorm timing |", "pipes escaped");
  assert.equal(pickChart(claims)?.id, "fake-rms", "first chart when no hidden-state-scale claim");
  assert.equal(pickChart([{ ...claims[2], id: "hidden-state-scale" }, ...claims])?.id, "fake-time");
  const dir = await mkdtemp(join(tmpdir(), "lab-readme-"));
  try {
    const r = await writeReadmeAssets(dir, claims, "fake-loss");
    assert.equal(r.chartId, "fake-loss");
    const svg = await readFile(join(dir, "chart.svg"), "utf8");
    assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /role-mark/);
    assert.equal(await readFile(join(dir, "claims.md"), "utf8"), md);
    await assert.rejects(writeReadmeAssets(dir, claims, "no-such-chart"), /no chart with id 'no-such-chart'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("chart mapping: error bands are areas on lines and rules on bars and points", () => {
  const kinds = (["line", "bar", "point"] as const).map((kind) => (chartToVegaLite({ ...line, kind }) as any).layer[0].mark.type);
  assert.deepEqual(kinds, ["area", "rule", "rule"]);
});

test("the core library does not import the lab or its chart/browser dependencies", async () => {
  const { readdir } = await import("node:fs/promises");
  const root = new URL("../../../src/", import.meta.url);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length > 5);
  for (const f of files) {
    const text = await readFile(new URL(f, root), "utf8");
    assert.ok(!/from\s+["'](vega|vega-lite|playwright-core)["']|["'][./]+\/lab\//.test(text), `src/${f} imports lab-only code`);
  }
});
