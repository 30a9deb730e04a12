/**
 * Claims → rendered charts and the report page, with no Node-only import: the CLI (report/index.ts)
 * writes the result to disk, and a browser front end can call the same functions.
 */
import type { ClaimResult } from "../types.js";
import { NARROW, renderChart, SeriesColors, WIDE } from "./charts.js";
import type { RenderedChart } from "./html.js";

/**
 * Renders every claim's charts twice, for a desktop column and for a phone; a chart that fails is
 * reported, not fatal, so the others still show.
 */
export async function renderClaimCharts(claims: readonly ClaimResult[]): Promise<{ charts: Map<string, RenderedChart[]>; errors: string[] }> {
  const colors = new SeriesColors();
  const charts = new Map<string, RenderedChart[]>();
  const errors: string[] = [];
  for (const c of claims) {
    const out: RenderedChart[] = [];
    for (const spec of c.charts ?? []) {
      const base = { id: spec.id, title: spec.title, caption: spec.caption };
      try {
        const wide = await renderChart(spec, colors, WIDE);
        const narrow = await renderChart(spec, colors, NARROW);
        out.push({ ...base, svg: wide.svg, svgNarrow: narrow.svg, notes: wide.notes });
      } catch (e) {
        const message = (e as Error).message;
        errors.push(`${c.id}/${spec.id}: ${message}`);
        out.push({ ...base, svg: null, error: message });
      }
    }
    charts.set(c.id, out);
  }
  return { charts, errors };
}
