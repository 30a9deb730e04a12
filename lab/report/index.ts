/** Writes the lab's outputs: <out>/results.json and <out>/index.html (charts rendered to inline SVG). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ClaimResult, LabResults, RunRecord } from "../types.js";
import { renderClaimCharts } from "./render.js";
import { toJson } from "./format.js";
import { renderHtml } from "./html.js";

export { renderClaimCharts };

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
