/**
 * ChartSpec → Vega-Lite → SVG string. The report embeds these SVGs inline, so it needs no script to
 * be viewed; the plotting itself is Vega's (scales, axes, legends, marks), this file only maps specs.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { ChartSpec } from "../types.js";
import { chartNotes, distinct, yValues } from "./chart-notes.js";

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

/**
 * Ticks for a symlog axis: 0 and the powers of ten spanning the data (and its band), with 2 and 5
 * between them when the data span two decades or fewer, so a value such as 0.49 or 5.5 can be read.
 */
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
  // symlog is linear below 1 and logarithmic above: below 1 even steps, above it 1-2-5 (up to two
  // decades) or the powers of ten
  const side = (m: number): number[] => {
    if (m <= 0) return [];
    if (m < 1) {
      const step = 10 ** Math.floor(Math.log10(m));
      const n = Math.ceil(m / step - 1e-9);
      const every = n > 5 ? 2 : 1;
      return Array.from({ length: Math.ceil(n / every) }, (_, i) => Number((step * every * (i + 1)).toPrecision(2)));
    }
    const top = Math.ceil(Math.log10(m) - 1e-9);
    const steps = top <= 2 ? [1, 2, 5] : [1];
    const t: number[] = [];
    for (let e = 0; e <= top; e++) for (const s of steps) t.push(s * 10 ** e);
    const end = t.findIndex((v) => v >= m);
    return t.slice(0, end < 0 ? t.length : end + 1);
  };
  return [...side(-lo).reverse().map((v) => -v), 0, ...side(hi)];
}

export interface ChartLayout {
  /** the most the whole SVG (axes, legend, padding included) may measure across, in px */
  width: number;
  /** height of the plot area (of each panel when faceted) */
  height: number;
  /** narrow screens: one facet column, legend in fewer columns */
  narrow?: boolean;
  /** draw the title inside the SVG (standalone files); the report puts it in HTML, where it wraps */
  title?: boolean;
}

/** The report's chart sizes: a desktop column, and a phone's (a 390 px viewport less the page's padding). */
export const WIDE: ChartLayout = { width: 860, height: 240 };
export const NARROW: ChartLayout = { width: 336, height: 200, narrow: true };

function logBarBase(data: Record<string, unknown>[], field: string): number {
  let min = Infinity;
  for (const d of data) {
    const v = d[field];
    if (typeof v === "number" && v > 0 && v < min) min = v;
  }
  return Number.isFinite(min) ? 10 ** Math.floor(Math.log10(min)) : 1;
}

/**
 * Tick labels of log axes: "1e7" rather than "10,000,000" (which takes a hundred pixels beside the
 * plot), plain numbers in between.
 */
const COMPACT_LABEL = "abs(datum.value) >= 1e4 || (datum.value != 0 && abs(datum.value) < 1e-3) ? replace(format(datum.value, '.0e'), 'e+', 'e') : format(datum.value, ',~g')";

/**
 * Log-axis labels: every tick within one decade, 1-2-5 over up to three, powers of ten beyond (Vega
 * labels 1…9 of every decade, which overlap or crowd out the powers of ten).
 */
function logLabelExpr(values: readonly number[]): string {
  const pos = values.filter((v) => v > 0);
  const decades = pos.length > 1 ? Math.log10(Math.max(...pos) / Math.min(...pos)) : 0;
  if (decades <= 1) return COMPACT_LABEL;
  const keep = decades <= 3 ? "[1, 2, 5]" : "[1]";
  const mant = "round(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))";
  return `indexof(${keep}, ${mant}) >= 0 ? (${COMPACT_LABEL}) : ''`;
}

/** Legend columns that fit `width`: entries sized by their longest label (≈ 7 px a character at 12 px). */
function legendColumns(values: readonly string[], width: number): number {
  const entry = 30 + 7 * Math.max(0, ...values.map((v) => v.length));
  return Math.max(1, Math.min(values.length, Math.floor((width - 16) / entry)));
}

/** Space (px) a y axis with its title takes left of a panel, a first guess refined by measuring. */
const Y_AXIS_GUESS = 70;
const FACET_SPACING = 16;

/**
 * The Vega-Lite spec for a chart. `plotWidth` overrides the width of the plot area (of each panel),
 * which renderChartSvg adjusts until the whole SVG fits layout.width.
 */
export function chartToVegaLite(spec: ChartSpec, colors = new SeriesColors(), layout: ChartLayout = WIDE, plotWidth?: number): Json {
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
  const colorScale = { domain: seriesValues, range: seriesValues.map((v) => colors.colorOf(v)) };

  const color =
    spec.series !== undefined
      ? { color: { field: fieldRef(spec.series), type: "nominal", title: spec.series, scale: colorScale, legend: { orient: "bottom", direction: "horizontal", columns: legendColumns(seriesValues, layout.width - Y_AXIS_GUESS) } } }
      : {};

  const xCategories = xType !== "quantitative" ? distinct(data, x.field) : [];
  const columns = spec.facet !== undefined ? (layout.narrow ? 1 : Math.min(distinct(data, spec.facet).length, 3)) : 1;
  const plot = plotWidth ?? (spec.facet !== undefined ? Math.floor((layout.width - Y_AXIS_GUESS - (columns - 1) * FACET_SPACING) / columns) - 12 : layout.width - Y_AXIS_GUESS);
  const xEnc: Json = {
    field: fieldRef(x.field),
    type: xType,
    title: x.title,
    ...(xLog ? { scale: { type: "log" } } : {}),
    // a title or label longer than the plot would widen the chart past its column
    axis: {
      titleLimit: plot,
      // layers, steps, depths are integers: no 1.5 ticks
      ...(xType === "quantitative" && !xLog && allIntegers(data, x.field) ? { tickMinStep: 1, format: "d" } : {}),
      ...(xType !== "quantitative" ? { labelAngle: 0, labelLimit: Math.min(layout.narrow ? 90 : 160, plot) } : {}),
      ...(xLog ? { labelExpr: logLabelExpr(data.map((r) => r[x.field]).filter((v): v is number => typeof v === "number")) } : {}),
    },
    // every category keeps its slot, also one whose bars are all missing (its markers show why)
    ...(xType !== "quantitative" ? { sort: xCategories, scale: { domain: xCategories } } : {}),
  };
  const height = spec.facet !== undefined ? Math.round(layout.height * 0.85) : layout.height;
  const yEnc: Json = {
    field: fieldRef(y.field),
    type: "quantitative",
    title: y.title,
    scale: yScale,
    axis: {
      titleLimit: height,
      // Vega's own symlog ticks crowd at the top; these read like a log axis that also shows 0
      ...(y.scale === "symlog" ? { values: symlogTicks(data, y.field, spec.band === true), labelExpr: COMPACT_LABEL } : {}),
      ...(y.scale === "log" ? { labelExpr: logLabelExpr(yValues(spec)) } : {}),
    },
  };
  const xOffset = spec.kind === "bar" && spec.series !== undefined ? { xOffset: { field: fieldRef(spec.series), type: "nominal", sort: seriesValues, scale: { domain: seriesValues } } } : {};

  // points on the lines when they are short, or when some series has a single point (a run that
  // diverged at its first logged step), which a line alone would not draw
  const groups = new Map<string, number>();
  for (const r of data) {
    if (typeof r[y.field] !== "number") continue;
    const k = `${spec.series !== undefined ? r[spec.series] : ""}|${spec.facet !== undefined ? r[spec.facet] : ""}`;
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  const nPerSeries = data.length / Math.max(1, seriesValues.length);
  const showPoints = nPerSeries <= 24 || [...groups.values()].some((n) => n === 1);
  const mainMark: Json =
    spec.kind === "line"
      ? { type: "line", strokeWidth: 2, point: showPoints ? { size: 28 } : false }
      : spec.kind === "bar"
        ? { type: "bar", cornerRadiusEnd: 2 }
        : { type: "point", filled: true, size: 56, opacity: 0.85 };
  const barBase = y.scale === "log" ? logBarBase(data, y.field) : 0;

  const main: Json = {
    transform: [{ filter: valid.join(" && ") }],
    mark: mainMark,
    encoding: {
      x: xEnc,
      y: yEnc,
      ...color,
      ...xOffset,
      // bars on a log axis cannot start at 0: start them at the power of ten below the smallest value
      ...(spec.kind === "bar" && y.scale === "log" ? { y2: { datum: barBase } } : {}),
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
        // the band's colour needs no legend of its own (at band opacity it would show washed-out
        // swatches): its hidden legend merges into the line's, which Vega-Lite keeps shown. (Resolving
        // legends "independent" instead would draw a legend inside every facet panel.)
        ...(spec.kind === "bar" || spec.series === undefined ? {} : { color: { ...(color as { color: Json }).color, legend: null } }),
        ...xOffset,
      },
    });
  }
  layers.push(main);
  // a bar that is missing (never reached, diverged) is drawn as its marker's words, rising from the baseline
  if (spec.kind === "bar" && spec.marker !== undefined && data.some((r) => r[y.field] === null && typeof r[spec.marker!] === "string")) {
    layers.push({
      transform: [{ filter: `!isValid(${datumRef(y.field)}) && isValid(${datumRef(spec.marker)})` }],
      mark: { type: "text", angle: 270, align: "left", baseline: "middle", dx: 4, fontSize: 11, fontWeight: 600 },
      encoding: {
        x: xEnc,
        y: { datum: barBase, type: "quantitative", scale: yScale },
        text: { field: fieldRef(spec.marker) },
        ...(spec.series !== undefined ? { color: { field: fieldRef(spec.series), type: "nominal", scale: colorScale, legend: null } } : {}),
        ...xOffset,
      },
    });
  }


  const config = {
    font: FONT,
    background: "white",
    padding: 6,
    view: { stroke: "#ddd" },
    axis: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, gridColor: "#eee", domainColor: "#888", tickColor: "#888", labelColor: "#333", titleColor: "#222", labelOverlap: true },
    legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, symbolStrokeWidth: 2, labelLimit: 220 },
    header: { labelFontSize: 13, titleFontSize: 13, labelFontWeight: 600, titleFontWeight: 400, titleColor: "#555" },
    title: { fontSize: 14, fontWeight: 600, anchor: "start", color: "#111", offset: 10, limit: layout.width - 20, subtitleFontSize: 12 },
    text: { fontSize: 11 },
  };
  const title = layout.title === true ? { title: { text: spec.title } } : {};

  if (spec.facet !== undefined) {
    const facetValues = distinct(data, spec.facet);
    const panel = plot;
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      ...title,
      data: { values: data },
      columns,
      spacing: FACET_SPACING,
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
      spec: { width: panel, height, layer: layers },
      // y shared so panels compare by eye; x independent since panels may span different ranges (depths)
      resolve: { scale: { y: "shared", x: "independent", ...(spec.kind === "bar" && spec.series !== undefined ? { xOffset: "independent" } : {}) } },
      config,
    };
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...title,
    data: { values: data },
    width: plot,
    height,
    layer: layers,
    config,
  };
}

let chartCounter = 0;

type Logger = NonNullable<NonNullable<Parameters<typeof vl.compile>[1]>["logger"]>;
const QUIET: Logger = {
  level: () => QUIET as never,
  info: () => QUIET,
  debug: () => QUIET,
  warn: () => QUIET,
  error: (...m: readonly unknown[]) => {
    throw new Error(m.map(String).join(" "));
  },
} as unknown as Logger;

async function toSvg(vlSpec: Json): Promise<string> {
  // Vega-Lite warns that the band's and markers' hidden legends conflict with the line's; resolve
  // "independent" already keeps the line's, so the warning says nothing a reader of the log can act on
  const compiled = vl.compile(vlSpec as unknown as vl.TopLevelSpec, { logger: QUIET }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const svgWidth = (svg: string) => Number(/^<svg[^>]*\bwidth="([\d.]+)"/.exec(svg)?.[1] ?? NaN);

export interface RenderedSvg {
  svg: string;
  /** what the chart cannot show: missing curves, an axis that leaves out zero (chart-notes.ts) */
  notes: string[];
}

/**
 * Renders a chart to an SVG string no wider than layout.width: rendered once at a guessed plot
 * width, then again with the plot narrowed by what the axes and legend took beyond the guess.
 * Vega numbers clip paths and gradients with process-wide counters; ids are prefixed per chart
 * anyway so several SVGs inline in one page can never collide.
 */
export async function renderChart(spec: ChartSpec, colors = new SeriesColors(), layout: ChartLayout = WIDE): Promise<RenderedSvg> {
  const columns = spec.facet !== undefined ? (layout.narrow ? 1 : Math.min(distinct(spec.data, spec.facet).length, 3)) : 1;
  let svg = "";
  // what the plot is given, and when axes or a legend still overflow, a smaller budget (fewer legend columns)
  let budget = layout;
  for (let attempt = 0; attempt < 3; attempt++) {
    const first = chartToVegaLite(spec, colors, budget);
    let plot = (spec.facet !== undefined ? (first.spec as Json).width : first.width) as number;
    svg = await toSvg(first);
    for (let i = 0; i < 3; i++) {
      const over = svgWidth(svg) - layout.width;
      if (!(over > 0) && !(over < -24)) break;
      // shrink (or grow back toward the column) by the excess, shared among the panels in a row
      plot = Math.max(60, Math.floor(plot - over / columns) - (over > 0 ? 1 : 0));
      svg = await toSvg(chartToVegaLite(spec, colors, budget, plot));
    }
    const over = svgWidth(svg) - layout.width;
    if (!(over > 0)) break;
    budget = { ...budget, width: budget.width - over - 8 };
  }
  const prefix = `c${++chartCounter}-`;
  svg = svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}${id}"`);
  return { svg, notes: chartNotes(spec) };
}

/** renderChart's SVG alone. */
export async function renderChartSvg(spec: ChartSpec, colors?: SeriesColors, layout?: ChartLayout): Promise<string> {
  return (await renderChart(spec, colors, layout)).svg;
}
