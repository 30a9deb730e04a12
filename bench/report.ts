/**
 * `npm run bench:report [-- results.json]`: turns one benchmark results file (default: the newest
 * full run in bench/results) into Markdown tables (<name>.md) and a bar chart (<name>.svg) for the
 * README. The chart is a Vega-Lite spec rendered to SVG by vega in Node.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { importPeer, REPO } from "./deps.js";
import { ensurePeersInstalled } from "./run.js";
import {
  caseDType, caseKey, crossCheckLine, isIssue12, loadText, timedLines, variantLabel, fmtGbps, fmtMs, fmtRatio, markdownTable, targetRows,
  BIG_SHAPE, SHAPES, TARGET_HEADER, type CaseDType, type Dir, type Measurement, type Op, type Results,
} from "./lib.js";
import { refCheckLines } from "./lib12.js";

const shapeKey = (r: number, d: number) => `[${r}, ${d}]`;
/** Table columns, in this order where measured. */
const COLUMN_SHAPES = [...SHAPES, BIG_SHAPE];
const OP_TITLE: Record<Op, string> = { layerNorm: "LayerNorm", rmsNorm: "RMSNorm", addLayerNorm: "Fused add + LayerNorm", addRmsNorm: "Fused add + RMSNorm" };

/** One table per op × direction × dtype that has measurements, in a fixed order. */
function tableGroups(r: Results): { op: Op; dir: Dir; dtype: CaseDType; shapes: (readonly [number, number])[] }[] {
  const groups = [];
  for (const dtype of ["float32", "bfloat16", "float16"] as const) {
    for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm"] as const) {
      for (const dir of ["forward", "backward"] as const) {
        const ms = r.measurements.filter((m) => m.case.op === op && m.case.dir === dir && caseDType(m.case) === dtype);
        if (ms.length === 0) continue;
        // the classic tables keep every classic shape as a column (— where not measured)
        const classic = dtype === "float32" && (op === "layerNorm" || op === "rmsNorm");
        const shapes = COLUMN_SHAPES.filter(([R, D]) => (classic && SHAPES.some(([a, b]) => a === R && b === D)) || ms.some((m) => m.case.rows === R && m.case.D === D));
        groups.push({ op, dir, dtype, shapes });
      }
    }
  }
  return groups;
}

/** Markdown: the machine, one table per op × direction (variants × shapes), skips, targets. */
export function markdownReport(r: Results): string {
  const variants = r.peers.flatMap((p) => p.variants.map((v) => v.id));
  const out: string[] = [];
  out.push(`Measured ${r.date.slice(0, 10)} on ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.platform}, Node ${r.machine.node}${loadText(r)}${r.quick ? " — quick mode (few runs): not for quoting" : ""}.`);
  if (r.filters) out.push(`A partial run: ${[r.filters.cases && `cases matching "${r.filters.cases}"`, r.filters.only && `peers ${r.filters.only.join(", ")}`].filter(Boolean).join("; ")}.`);
  out.push(`Peers: ${[...new Set(r.peers.flatMap((p) => Object.entries(p.versions).map(([k, v]) => `${k} ${v}`)))].join(", ")}.`);
  out.push("Each cell: median time per call (GB/s of the bytes the op must move; time ÷ normkit's best variant). ε = 1e-5, γ (and β for LayerNorm) present; half cases store every tensor (γ, β too) in the dtype, statistics in float32.");
  for (const g of tableGroups(r)) {
    const rows: string[][] = [];
    for (const v of variants) {
      const cells = g.shapes.map(([R, D]) => {
        const m = r.measurements.find((x) => x.variant === v && x.case.op === g.op && x.case.dir === g.dir && caseDType(x.case) === g.dtype && x.case.rows === R && x.case.D === D);
        return m?.medianMs === undefined ? "—" : `${fmtMs(m.medianMs)} (${fmtGbps(m.gbps)}; ${fmtRatio(m.ratio)})`;
      });
      if (cells.some((c) => c !== "—")) rows.push([variantLabel(r.peers, v, g.op), ...cells]);
    }
    if (rows.length === 0) continue; // nothing measured (every variant skipped)
    out.push("");
    out.push(`**${OP_TITLE[g.op]} ${g.dir}${g.dtype === "float32" ? "" : `, ${g.dtype}`}**`);
    out.push("");
    out.push(markdownTable(["variant", ...g.shapes.map(([R, D]) => shapeKey(R, D))], rows, ["l", ...g.shapes.map(() => "r" as const)]));
  }
  out.push("");
  out.push(crossCheckLine(r.measurements));
  const ref = refCheckLines(r.measurements);
  if (ref.length) {
    out.push("");
    out.push(`Reference check (every variant's checked outputs against the float64 reference, once per case; error in units of the dtype's epsilon × the row's largest |value|): ${ref.join("; ")}.`);
  }
  out.push("");
  out.push("What was timed:");
  out.push("");
  for (const l of timedLines(r.peers)) out.push(`- ${l}`);
  const skips = new Map<string, string[]>();
  for (const m of r.measurements) {
    if (m.skip === undefined) continue;
    const k = `${variantLabel(r.peers, m.variant, m.case.op)}: ${m.skip}`;
    skips.set(k, [...(skips.get(k) ?? []), caseKey(m.case)]);
  }
  if (skips.size > 0 || r.skippedPeers.length > 0) {
    out.push("");
    out.push("Not measured:");
    out.push("");
    for (const p of r.skippedPeers) out.push(`- ${p.peer}: ${p.reason}`);
    for (const [k, cs] of skips) out.push(`- ${k} (${cs.length <= 3 ? cs.join("; ") : `${cs.length} cases`})`);
  }
  out.push("");
  out.push("Targets of the issues (normkit's best single-thread variant; missing inputs: n/a):");
  out.push("");
  out.push(markdownTable(TARGET_HEADER, targetRows(r.targets)));
  return `${out.join("\n")}\n`;
}

/** The Vega-Lite spec: GB/s per variant (log scale), one panel per classic case (#12's are in the tables only). */
export function chartSpec(r: Results): Record<string, unknown> {
  const label = new Map(r.peers.flatMap((p) => p.variants.map((v) => [v.id, v.label] as const)));
  const data = r.measurements
    .filter((m): m is Measurement & { gbps: number } => m.gbps !== undefined && !isIssue12(m.case))
    .map((m) => ({
      variant: m.variant, // the short id: full labels are in the tables
      label: label.get(m.variant) ?? m.variant,
      peer: (r.peers.find((p) => p.variants.some((v) => v.id === m.variant))?.peer ?? "").replace(/-\d+t$/, ""), // pytorch-1t, pytorch-2t: one colour
      op: `${m.case.op === "layerNorm" ? "LayerNorm" : "RMSNorm"} ${m.case.dir}`,
      shape: shapeKey(m.case.rows, m.case.D),
      gbps: m.gbps,
      median: fmtMs(m.medianMs),
    }));
  // log scale: bars start at the decade below the slowest variant (a log scale has no zero)
  const floor = 10 ** Math.floor(Math.log10(Math.min(...data.map((d) => d.gbps))));
  const ceil = 10 ** Math.ceil(Math.log10(Math.max(...data.map((d) => d.gbps))));
  const ticks: number[] = [];
  for (let t = floor; t <= ceil * 1.0001; t *= 10) ticks.push(Number(t.toPrecision(1)));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `normkit vs peers, GB/s (higher is better) — ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}`,
    data: { values: data },
    facet: {
      row: { field: "op", type: "nominal", title: null, sort: ["LayerNorm forward", "LayerNorm backward", "RMSNorm forward", "RMSNorm backward"] },
      column: { field: "shape", type: "nominal", title: null, sort: SHAPES.map(([R, D]) => shapeKey(R, D)) },
    },
    spec: {
      width: 170,
      height: { step: 11 },
      mark: { type: "bar" },
      encoding: {
        y: { field: "variant", type: "nominal", title: null, sort: [...new Set(data.map((d) => d.variant))] },
        x: { field: "gbps", type: "quantitative", title: "GB/s (log)", scale: { type: "log", domain: [floor, ceil] }, axis: { values: ticks, format: "~g" } },
        x2: { datum: floor },
        color: { field: "peer", type: "nominal", legend: { title: "peer", orient: "bottom" } },
        tooltip: [{ field: "label" }, { field: "median" }, { field: "gbps", format: ".2f" }],
      },
    },
    resolve: { scale: { y: "independent" } },
    config: { font: "sans-serif", axis: { labelFontSize: 9 } },
  };
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vl = await importPeer("vega-lite");
  const vega = await importPeer("vega");
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  return view.toSVG();
}

function newestFull(): string {
  const dir = `${REPO}bench/results`;
  // full runs only: not quick, not narrowed by --cases/--only
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.endsWith("-quick.json") && !f.startsWith("gpu-"))
    .filter((f) => (JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as Results).filters === undefined)
    .sort();
  if (files.length === 0) throw new Error(`no full results in ${dir}: run npm run bench first`);
  return `${dir}/${files.at(-1)}`;
}

async function main(argv: string[]) {
  ensurePeersInstalled();
  const file = argv.find((a) => a.endsWith(".json")) ?? newestFull();
  const r = JSON.parse(readFileSync(file, "utf8")) as Results;
  const base = file.replace(/\.json$/, "");
  writeFileSync(`${base}.md`, markdownReport(r));
  const spec = chartSpec(r) as { data: { values: unknown[] } };
  if (spec.data.values.length === 0) {
    process.stdout.write(`wrote ${base}.md (no chart: no classic case was measured)\n`);
    return;
  }
  writeFileSync(`${base}.svg`, await renderSvg(spec));
  process.stdout.write(`wrote ${base}.md and ${base}.svg\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"))) {
  await main(process.argv.slice(2));
}
