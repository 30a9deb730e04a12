/**
 * ChartSpec → Vega-Lite → SVG string. The report embeds these SVGs inline, so it needs no script to
 * be viewed; the plotting itself is Vega's (scales, axes, legends, marks), this file only maps specs.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { ChartSpec } from "../types.js";

type Row = Record<string, number | string | null>;
type Json = Record<string, unknown>;

/** Tableau-10-like, readable on white; one colour per series value across the whole report. */
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e"];

export const FONT = `system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif`;

/** Assigns colours to series values in order of first appearance, so a configuration keeps its colour in every chart. */
export class SeriesColors {
  private readonly map = new Map<string, string>();
  colorOf(value: string): string {
    let c = this.map.get(value);
    if (c === undefined) {
      c = PALETTE[this.map.size % PALETTE.length];
      this.map.set(value, c);
    }
    return c;
  }
}

/** Distinct values of a field, in order of appearance. */
function distinct(data: readonly Row[], field: string): (string | number)[] {
  const seen = new Set<string | number>();
  for (const r of data) {
    const v = r[field];
    if (v !== null && v !== undefined) seen.add(v);
  }
  return [...seen];
}

/** Vega-Lite reads dots and brackets in field names as nested access; a metric name like "grad.norm" is flat. */
const fieldRef = (f: string) => f.replace(/([.[\]\\])/g, "\\$1");
const datumRef = (f: string) => `datum[${JSON.stringify(f)}]`;

/** Non-finite numbers cannot be plotted (and JSON has none); they become null and are filtered out. */
function cleanData(data: readonly Row[]): Row[] {
  return data.map((r) => {
    const o: Row = {};
    for (const [k, v] of Object.entries(r)) o[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
    return o;
  });
}

function isNumeric(data: readonly Row[], field: string): boolean {
  let any = false;
  for (const r of data) {
    const v = r[field];
    if (typeof v === "string") return false;
    if (typeof v === "number") any = true;
  }
  return any;
}

function allIntegers(data: readonly Row[], field: string): boolean {
  return data.every((r) => r[field] === null || r[field] === undefined || (typeof r[field] === "number" && Number.isInteger(r[field])));
}

/** 0 and ±powers of ten spanning the data (and its band), for a symlog axis. */
export function symlogTicks(data: readonly Row[], field: string, band: boolean): number[] {
  let lo = 0;
  let hi = 0;
  for (const r of data) {
    for (const f of band ? [field, `${field}Lo`, `${field}Hi`] : [field]) {
      const v = r[f];
      if (typeof v === "number" && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  const ticks = [0];
  const pow = (m: number) => (m >= 1 ? Math.ceil(Math.log10(m)) : 0);
  for (let k = 0; k <= pow(hi) && hi >= 1; k++) ticks.push(10 ** k);
  for (let k = 0; k <= pow(-lo) && -lo >= 1; k++) ticks.unshift(-(10 ** k));
  // small magnitudes (all |v| < 1) still get a tick at their extreme
  if (hi > 0 && hi < 1) ticks.push(Number(hi.toPrecision(1)));
  if (lo < 0 && lo > -1) ticks.unshift(Number(lo.toPrecision(1)));
  return ticks;
}

export interface ChartLayout {
  width: number;
  height: number;
}

function logBarBase(data: Record<string, unknown>[], field: string): number {
  let min = Infinity;
  for (const d of data) {
    const v = d[field];
    if (typeof v === "number" && v > 0 && v < min) min = v;
  }
  return Number.isFinite(min) ? 10 ** Math.floor(Math.log10(min)) : 1;
}

/** The Vega-Lite spec for a chart. */
export function chartToVegaLite(spec: ChartSpec, colors = new SeriesColors(), layout: ChartLayout = { width: 600, height: 260 }): Json {
  const data = cleanData(spec.data);
  const { x, y } = spec;
  const xNumeric = isNumeric(data, x.field);
  // bars over a numeric x (batch sizes, depths) are categories, not a continuous axis
  const xType = spec.kind === "bar" ? (xNumeric ? "ordinal" : "nominal") : xNumeric ? "quantitative" : "ordinal";
  const xLog = x.scale === "log" && xType === "quantitative";
  const yScale = y.scale === "log" ? { type: "log" } : y.scale === "symlog" ? { type: "symlog" } : { zero: spec.kind === "bar" };

  const valid = [`isValid(${datumRef(y.field)})`, `isFinite(${datumRef(y.field)})`, `isValid(${datumRef(x.field)})`];
  if (xLog) valid.push(`${datumRef(x.field)} > 0`);
  if (y.scale === "log") valid.push(`${datumRef(y.field)} > 0`);

  const seriesValues = spec.series !== undefined ? distinct(data, spec.series).map(String) : [];
  const color =
    spec.series !== undefined
      ? {
          color: {
            field: fieldRef(spec.series),
            type: "nominal",
            title: spec.series,
            scale: { domain: seriesValues, range: seriesValues.map((v) => colors.colorOf(v)) },
          },
        }
      : {};

  const xEnc: Json = {
    field: fieldRef(x.field),
    type: xType,
    title: x.title,
    ...(xLog ? { scale: { type: "log" } } : {}),
    // layers, steps, depths are integers: no 1.5 ticks
    ...(xType === "quantitative" && !xLog && allIntegers(data, x.field) ? { axis: { tickMinStep: 1, format: "d" } } : {}),
    ...(xType !== "quantitative" ? { sort: distinct(data, x.field), axis: { labelAngle: 0 } } : {}),
  };
  const yEnc: Json = {
    field: fieldRef(y.field),
    type: "quantitative",
    title: y.title,
    scale: yScale,
    // Vega's own symlog ticks crowd at the top; powers of ten read like a log axis that also shows 0
    ...(y.scale === "symlog" ? { axis: { values: symlogTicks(data, y.field, spec.band === true), labelExpr: "format(datum.value, ',~g')" } } : {}),
  };

  const nPerSeries = data.length / Math.max(1, seriesValues.length);
  const mainMark: Json =
    spec.kind === "line"
      ? { type: "line", strokeWidth: 2, point: nPerSeries <= 24 ? { size: 28 } : false }
      : spec.kind === "bar"
        ? { type: "bar", cornerRadiusEnd: 2 }
        : { type: "point", filled: true, size: 56, opacity: 0.85 };

  const main: Json = {
    transform: [{ filter: valid.join(" && ") }],
    mark: mainMark,
    encoding: {
      x: xEnc,
      y: yEnc,
      ...color,
      ...(spec.kind === "bar" && spec.series !== undefined ? { xOffset: { field: fieldRef(spec.series), type: "nominal", sort: seriesValues } } : {}),
      // bars on a log axis cannot start at 0: start them at the power of ten below the smallest value
      ...(spec.kind === "bar" && y.scale === "log" ? { y2: { datum: logBarBase(data, y.field) } } : {}),
    },
  };

  const layers: Json[] = [];
  if (spec.band === true) {
    const lo = `${y.field}Lo`;
    const hi = `${y.field}Hi`;
    const bandValid = [`isValid(${datumRef(lo)})`, `isValid(${datumRef(hi)})`, `isValid(${datumRef(x.field)})`];
    if (xLog) bandValid.push(`${datumRef(x.field)} > 0`);
    if (y.scale === "log") bandValid.push(`${datumRef(lo)} > 0`);
    layers.push({
      transform: [{ filter: bandValid.join(" && ") }],
      // a shaded band under a line; error bars (rules) on bars and points, where an area would mislead
      mark:
        spec.kind === "line"
          ? { type: "area", opacity: 0.18 }
          : spec.kind === "bar"
            ? { type: "rule", color: "#333", strokeWidth: 1.5 }
            : { type: "rule", strokeWidth: 1.5, opacity: 0.7 },
      encoding: {
        x: xEnc,
        y: { field: fieldRef(lo), type: "quantitative", title: y.title, scale: yScale },
        y2: { field: fieldRef(hi) },
        // the band's colour needs no legend of its own: at band opacity it would show washed-out swatches
        ...(spec.kind === "bar" || spec.series === undefined ? {} : { color: { ...(color as { color: Json }).color, legend: null } }),
        ...(spec.kind === "bar" && spec.series !== undefined ? { xOffset: { field: fieldRef(spec.series), type: "nominal", sort: seriesValues } } : {}),
      },
    });
  }
  layers.push(main);

  // a null legend on the band layer would hide the shared legend; independent legends keep the line's
  const legendResolve = spec.band === true && spec.series !== undefined ? { resolve: { legend: { color: "independent" } } } : {};

  const config = {
    font: FONT,
    background: "white",
    padding: 8,
    view: { stroke: "#ddd" },
    axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 600, gridColor: "#eee", domainColor: "#888", tickColor: "#888", labelColor: "#333", titleColor: "#222" },
    legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, symbolStrokeWidth: 2, labelLimit: 220 },
    header: { labelFontSize: 13, titleFontSize: 13, labelFontWeight: 600, titleFontWeight: 400, titleColor: "#555" },
    title: { fontSize: 15, fontWeight: 600, anchor: "start", color: "#111", offset: 10 },
  };
  const title = { text: spec.title };

  if (spec.facet !== undefined) {
    const facetValues = distinct(data, spec.facet);
    const columns = Math.min(facetValues.length, 3);
    const panel = columns <= 1 ? layout.width : Math.floor((layout.width + 60) / columns) - 40;
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title,
      data: { values: data },
      columns,
      facet: {
        field: fieldRef(spec.facet),
        type: isNumeric(data, spec.facet) ? "ordinal" : "nominal",
        sort: facetValues,
        // "depth 16" reads better above a panel than a bare "16" under a shared title
        // (only for numeric facet values: a label such as "depth 16" is already readable)
        header: isNumeric(data, spec.facet)
          ? { title: null, labelExpr: `${JSON.stringify(spec.facet + " ")} + (datum.label)` } // parentheses: Vega-Lite inlines datum.label as a bare a ? b : c
          : { title: null },
      },
      spec: { width: panel, height: Math.round(layout.height * 0.8), layer: layers, ...legendResolve },
      // y shared so panels compare by eye; x independent since panels may span different ranges (depths)
      resolve: { scale: { y: "shared", x: "independent" } },
      config,
    };
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: data },
    width: layout.width,
    height: layout.height,
    layer: layers,
    ...legendResolve,
    config,
  };
}

let chartCounter = 0;

/**
 * Renders a chart to an SVG string. Vega numbers clip paths and gradients with process-wide counters;
 * ids are prefixed per chart anyway so several SVGs inline in one page can never collide.
 */
export async function renderChartSvg(spec: ChartSpec, colors?: SeriesColors, layout?: ChartLayout): Promise<string> {
  const vlSpec = chartToVegaLite(spec, colors, layout);
  const compiled = vl.compile(vlSpec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    const prefix = `c${++chartCounter}-`;
    return svg
      .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}${id}"`)
      .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}${id})`)
      .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}${id}"`);
  } finally {
    view.finalize();
  }
}
