/**
 * README assets: one chart as a standalone SVG and the claims table as Markdown, for the project
 * README. Run by the CLI with --readme-assets, or on its own from an existing results.json:
 *   node build/lab/report/readme-assets.js [--from lab-report/results.json] [--out DIR] [--chart ID]
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { ChartSpec, ClaimResult, LabResults } from "../types.js";
import { renderChartSvg, SeriesColors } from "./charts.js";
import { fromJson } from "./format.js";

/** The chart the README shows by default: the hidden-state-scale claim's first chart, else the first chart there is. */
export const PREFERRED_CLAIM = "hidden-state-scale";

export function pickChart(claims: readonly Partial<ClaimResult>[], chartId?: string): ChartSpec | undefined {
  const all = claims.flatMap((c) => c.charts ?? []);
  if (chartId !== undefined) return all.find((c) => c.id === chartId);
  return claims.find((c) => c.id === PREFERRED_CLAIM)?.charts?.[0] ?? all[0];
}

const mdCell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** The README's short table: the claim (its short title), the verdict, the numbers behind it. */
export function claimsMarkdown(claims: readonly Partial<ClaimResult>[]): string {
  const rows = claims.map((c) => `| ${mdCell(c.shortTitle ?? c.title ?? c.id ?? "")} | **${c.verdict ?? ""}** | ${mdCell(c.headline ?? c.summary ?? "")} |`);
  return ["| Claim | Verdict | Measured |", "| --- | --- | --- |", ...rows].join("\n") + "\n";
}

export interface ReadmeAssets {
  svg: string | null;
  md: string;
  chartId: string | null;
}

export async function writeReadmeAssets(dir: string, claims: readonly Partial<ClaimResult>[], chartId?: string): Promise<ReadmeAssets> {
  await mkdir(dir, { recursive: true });
  const md = join(dir, "claims.md");
  await writeFile(md, claimsMarkdown(claims));
  const chart = pickChart(claims, chartId);
  if (chartId !== undefined && chart === undefined) throw new Error(`no chart with id '${chartId}'`);
  if (chart === undefined) return { svg: null, md, chartId: null };
  const svg = join(dir, "chart.svg");
  // a standalone file: the XML prolog lets viewers and GitHub treat it as an image
  await writeFile(svg, `<?xml version="1.0" encoding="UTF-8"?>\n${await renderChartSvg(chart, new SeriesColors(), { width: 680, height: 260, title: true })}\n`);
  return { svg, md, chartId: chart.id };
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: "string", default: "lab-report/results.json" }, out: { type: "string" }, chart: { type: "string" } },
  });
  const from = values.from ?? "lab-report/results.json";
  const results = fromJson<LabResults>(await readFile(from, "utf8"));
  const out = values.out ?? join(from, "..", "readme");
  const r = await writeReadmeAssets(out, results.claims as Partial<ClaimResult>[], values.chart);
  console.log(`wrote ${r.md}${r.svg ? ` and ${r.svg} (chart '${r.chartId}')` : " (no chart found)"}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      console.error(`readme-assets: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
