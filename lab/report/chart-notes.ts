/**
 * What a chart cannot show by itself, said in words under it: curves that are missing (a diverged
 * run, a series with no finite value in a panel) and a y axis that does not start at zero while the
 * values it spans differ by little (so a 1 % difference does not pass for a large one).
 */
import type { ChartSpec } from "../types.js";
import { formatNumber } from "./format.js";

type Row = Record<string, number | string | null>;

/** Distinct values of a field, in order of appearance. */
export function distinct(data: readonly Row[], field: string): (string | number)[] {
  const seen = new Set<string | number>();
  for (const r of data) {
    const v = r[field];
    if (v !== null && v !== undefined) seen.add(v);
  }
  return [...seen];
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Values of y (and its band) that a chart draws. */
export function yValues(spec: ChartSpec): number[] {
  const f = spec.y.field;
  const fields = spec.band === true ? [f, `${f}Lo`, `${f}Hi`] : [f];
  const out: number[] = [];
  for (const r of spec.data) for (const k of fields) if (finite(r[k]) && (spec.y.scale !== "log" || (r[k] as number) > 0)) out.push(r[k] as number);
  return out;
}

/**
 * Line and point charts: a note per series (and panel) that draws nothing, with the reason its marker
 * rows give ("diverged at step 20") or "no finite value"; and per series whose rows carry a marker
 * while drawing something (a curve that stops early). Bars show theirs as markers instead.
 */
export function missingNotes(spec: ChartSpec): string[] {
  if (spec.kind === "bar" || spec.series === undefined) return [];
  const s = spec.series;
  const facets = spec.facet !== undefined ? distinct(spec.data, spec.facet) : [null];
  const notes: string[] = [];
  for (const series of distinct(spec.data, s)) {
    for (const facet of facets) {
      const rows = spec.data.filter((r) => r[s] === series && (facet === null || r[spec.facet!] === facet));
      if (rows.length === 0) continue;
      const drawn = rows.some((r) => finite(r[spec.y.field]) && (spec.y.scale !== "log" || (r[spec.y.field] as number) > 0));
      const reasons = [...new Set(rows.map((r) => (spec.marker !== undefined ? r[spec.marker] : null)).filter((m): m is string => typeof m === "string" && m !== ""))];
      const where = facet === null ? "" : typeof facet === "number" ? ` (${spec.facet} ${facet})` : ` (${facet})`;
      if (!drawn) notes.push(`No ${series} curve${where}: ${reasons.length > 0 ? reasons.join("; ") : "no finite value to draw"}.`);
      else if (reasons.length > 0) notes.push(`${series}${where}: ${reasons.join("; ")}.`);
    }
  }
  return notes;
}

/**
 * A linear y axis that leaves out zero makes small differences look large; when the values drawn
 * span less than a fifth of their size, say how small the difference really is.
 */
export function axisNote(spec: ChartSpec): string | null {
  if (spec.kind === "bar" || spec.y.scale === "log" || spec.y.scale === "symlog") return null;
  const v = yValues(spec);
  if (v.length < 2) return null;
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  if (lo <= 0 || hi === lo || (hi - lo) / hi >= 0.2) return null;
  return `The y axis does not start at 0: the values span ${formatNumber(lo)}–${formatNumber(hi)}, a ${formatNumber(Number((100 * (hi - lo) / hi).toPrecision(2)))} % difference.`;
}

/** Every note for a chart, in the order they are shown. */
export function chartNotes(spec: ChartSpec): string[] {
  const a = axisNote(spec);
  return [...missingNotes(spec), ...(a !== null ? [a] : [])];
}
