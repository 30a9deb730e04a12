/** Writes the lab's outputs: <out>/results.json and <out>/index.html (charts rendered to inline SVG). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ClaimResult, LabResults, RunRecord } from "../types.js";
import { renderChartSvg, SeriesColors } from "./charts.js";
import { toJson } from "./format.js";
import { renderHtml, type RenderedChart } from "./html.js";

export interface ReportData {
  claims: ClaimResult[];
  runs: RunRecord[];
  environment: Record<string, string | number | boolean>;
}

export interface WrittenReport {
  html: string;
  json: string;
  /** charts that failed to render, as "claim/chart: message" */
  chartErrors: string[];
}

/** Renders every claim's charts; a chart that fails is reported, not fatal, so the others still show. */
export async function renderClaimCharts(claims: readonly ClaimResult[]): Promise<{ charts: Map<string, RenderedChart[]>; errors: string[] }> {
  const colors = new SeriesColors();
  const charts = new Map<string, RenderedChart[]>();
  const errors: string[] = [];
  for (const c of claims) {
    const out: RenderedChart[] = [];
    for (const spec of c.charts ?? []) {
      try {
        out.push({ id: spec.id, svg: await renderChartSvg(spec, colors), caption: spec.caption });
      } catch (e) {
        const message = (e as Error).message;
        errors.push(`${c.id}/${spec.id}: ${message}`);
        out.push({ id: spec.id, svg: null, error: message, caption: spec.caption });
      }
    }
    charts.set(c.id, out);
  }
  return { charts, errors };
}

/** results.json holds the claims in full (charts' data included) so the report can be rebuilt from it. */
export function resultsJson(data: ReportData): LabResults {
  return { claims: data.claims, runs: data.runs, environment: data.environment };
}

export async function writeReport(outDir: string, data: ReportData): Promise<WrittenReport> {
  await mkdir(outDir, { recursive: true });
  const json = join(outDir, "results.json");
  const html = join(outDir, "index.html");
  await writeFile(json, toJson(resultsJson(data)));
  const { charts, errors } = await renderClaimCharts(data.claims);
  await writeFile(html, renderHtml({ ...data, charts }));
  return { html, json, chartErrors: errors };
}
