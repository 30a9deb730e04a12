/**
 * Small SVG charts for the web lab's explainer and its live training curves: bar charts of a vector
 * and line charts of loss curves, as markup strings. Each is an accessible image (role="img", a
 * <title> and an aria-label that reads out the values) that scales to its column (viewBox, width
 * 100%), with text drawn at 11–12 px so it stays readable at 100 % zoom.
 */
import { escapeHtml as h } from "../../report/format.js";

export const COLORS = { pos: "#4c78a8", neg: "#e45756", axis: "#888", grid: "#e6e8ee", text: "#333" };

/** Up to 6 significant digits (10000.5 stays 10000.5), no exponent for ordinary magnitudes, "−" for minus. */
export function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  const s = a !== 0 && (a >= 1e7 || a < 1e-4) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
  return s.replace("-", "−");
}

export interface BarOptions {
  /** accessible name, e.g. "x minus its mean" */
  label: string;
  /** per-bar labels under the axis (default: indices) */
  names?: string[];
  /** fixed value range (default: the data's, with 0 included) */
  range?: [number, number];
  width?: number;
  height?: number;
  /** write each value above/below its bar (default: when the labels fit) */
  values?: boolean;
  /** write the bar names under the axis (default: when each bar has at least 16 px) */
  axisLabels?: boolean;
  /** a dashed horizontal line at this value, labelled */
  refLine?: { value: number; label: string };
}

/** Bars up from zero for positive values and down for negative ones. */
export function barChart(data: readonly number[], o: BarOptions): string {
  const W = o.width ?? 360;
  const H = o.height ?? 150;
  const n = Math.max(1, data.length);
  const finite = data.filter(Number.isFinite);
  const padL = 8;
  // the reference line's label sits right of the plot (~6.5 px per character at 11 px)
  const padR = o.refLine ? 12 + Math.ceil(6.5 * o.refLine.label.length) : 8;
  const slot = (W - padL - padR) / n;
  // value labels only where they fit (~6.5 px per character at 11 px)
  const showValues = o.values ?? slot >= Math.max(34, 4 + 6.5 * Math.max(0, ...data.map((v) => num(v).length)));
  const showNames = o.axisLabels ?? slot >= 16;
  const padT = showValues ? 18 : 6;
  // names below the axis; a value label hangs below a negative bar, so keep it clear of them
  const padB = (showNames ? 20 : 6) + (showValues && finite.some((v) => v < 0) ? 14 : 0);
  let [lo, hi] = o.range ?? [Math.min(0, ...finite), Math.max(0, ...finite)];
  if (o.refLine && Number.isFinite(o.refLine.value)) [lo, hi] = [Math.min(lo, o.refLine.value), Math.max(hi, o.refLine.value)];
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const y = (v: number) => padT + ((hi - Math.min(hi, Math.max(lo, v))) / (hi - lo)) * (H - padT - padB);
  const bw = Math.max(2, slot * 0.7);
  const parts: string[] = [];
  parts.push(`<line x1="${padL}" x2="${W - padR}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="${COLORS.axis}" stroke-width="1"/>`);
  data.forEach((v, i) => {
    const cx = padL + slot * (i + 0.5);
    const name = o.names?.[i] ?? String(i);
    if (Number.isFinite(v)) {
      const y0 = y(0), y1 = y(v);
      const fill = v >= 0 ? COLORS.pos : COLORS.neg;
      parts.push(`<rect x="${(cx - bw / 2).toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(0.5, Math.abs(y1 - y0)).toFixed(1)}" fill="${fill}" rx="1.5"><title>${h(`${name}: ${num(v)}`)}</title></rect>`);
      if (showValues) {
        const ty = v >= 0 ? y1 - 4 : y1 + 12;
        parts.push(`<text x="${cx.toFixed(1)}" y="${ty.toFixed(1)}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${h(num(v))}</text>`);
      }
    } else {
      // a NaN/Inf has no bar: say so where the bar would be
      parts.push(`<text x="${cx.toFixed(1)}" y="${(y(0) - 4).toFixed(1)}" text-anchor="middle" font-size="11" fill="${COLORS.neg}">${h(num(v))}</text>`);
    }
    if (showNames) parts.push(`<text x="${cx.toFixed(1)}" y="${H - 5}" text-anchor="middle" font-size="11" fill="#666">${h(name)}</text>`);
  });
  if (o.refLine && Number.isFinite(o.refLine.value)) {
    const ry = y(o.refLine.value).toFixed(1);
    parts.push(`<line x1="${padL}" x2="${W - padR}" y1="${ry}" y2="${ry}" stroke="#222" stroke-dasharray="4 3" stroke-width="1"/>`);
    parts.push(`<text x="${W - padR + 4}" y="${(Number(ry) + 4).toFixed(1)}" font-size="11" fill="#222">${h(o.refLine.label)}</text>`);
  }
  const readout = `${o.label}: ${data.map((v, i) => `${o.names?.[i] ?? i} ${num(v)}`).join(", ")}`;
  return `<svg class="bars" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${h(readout)}"><title>${h(o.label)}</title>${parts.join("")}</svg>`;
}

/**
 * The width to draw a chart at inside `el`: its own width, so the SVG is drawn 1:1 and its 11 px text
 * stays 11 px (a wide viewBox squeezed into a phone's column would shrink it below 7 px).
 */
export function fitWidth(el: Element, max: number, min = 120): number {
  const w = Math.floor(el.clientWidth);
  return w > 0 ? Math.max(min, Math.min(max, w)) : max;
}

/** Calls `f` once the window has stopped resizing for 150 ms. */
export function onResize(f: () => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(f, 150);
  });
}

export interface Curve {
  name: string;
  /** x and y per point; non-finite y ends the curve (a diverged run) */
  points: { x: number; y: number }[];
  color: string;
  /** marks the last point with a ✕ (a diverged run) */
  diverged?: boolean;
}

/** Nice round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Loss curves on a log y axis (losses span from ~0.1 to a blown-up run's 10⁶), with a legend. */
export function lineChart(curves: readonly Curve[], o: { label: string; xTitle: string; yTitle: string; width?: number; height?: number }): string {
  const W = o.width ?? 640;
  const H = o.height ?? 240;
  const padL = 48, padR = 12, padT = 10, padB = 36;
  const pts = curves.flatMap((c) => c.points).filter((p) => Number.isFinite(p.y) && p.y > 0 && Number.isFinite(p.x));
  if (pts.length === 0) {
    return `<svg class="lines" viewBox="0 0 ${W} 40" width="${W}" height="40" role="img" aria-label="${h(o.label)}: no finished runs yet"><text x="4" y="24" font-size="12" fill="#666">No finished training runs yet.</text></svg>`;
  }
  const xMin = Math.min(...pts.map((p) => p.x)), xMax = Math.max(...pts.map((p) => p.x));
  const lyMin = Math.floor(Math.log10(Math.min(...pts.map((p) => p.y))) * 4) / 4;
  const lyMax = Math.ceil(Math.log10(Math.max(...pts.map((p) => p.y))) * 4) / 4 || lyMin + 0.25;
  const X = (x: number) => padL + (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5) * (W - padL - padR);
  const Y = (v: number) => padT + (1 - (Math.log10(v) - lyMin) / Math.max(1e-9, lyMax - lyMin)) * (H - padT - padB);
  const parts: string[] = [];
  // y ticks: 1-2-5 per decade when few decades, else powers of ten
  const decades = lyMax - lyMin;
  const yt: number[] = [];
  for (let d = Math.floor(lyMin); d <= Math.ceil(lyMax); d++) {
    for (const m of decades <= 2 ? (decades <= 0.75 ? [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8] : [1, 2, 5]) : [1]) {
      const v = m * 10 ** d;
      if (Math.log10(v) >= lyMin - 1e-9 && Math.log10(v) <= lyMax + 1e-9) yt.push(v);
    }
  }
  for (const v of yt) {
    parts.push(`<line x1="${padL}" x2="${W - padR}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="${COLORS.grid}"/>`);
    parts.push(`<text x="${padL - 4}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="${COLORS.text}">${h(num(v))}</text>`);
  }
  for (const v of ticks(xMin, xMax, 5)) {
    parts.push(`<text x="${X(v).toFixed(1)}" y="${H - padB + 14}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${h(num(v))}</text>`);
  }
  parts.push(`<text x="${(padL + W - padR) / 2}" y="${H - 4}" text-anchor="middle" font-size="12" fill="#222">${h(o.xTitle)}</text>`);
  parts.push(`<text transform="translate(12 ${(padT + H - padB) / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">${h(o.yTitle)}</text>`);
  parts.push(`<rect x="${padL}" y="${padT}" width="${W - padL - padR}" height="${H - padT - padB}" fill="none" stroke="#ddd"/>`);
  for (const c of curves) {
    const ok = c.points.filter((p) => Number.isFinite(p.y) && p.y > 0);
    if (ok.length === 0) continue;
    const d = ok.map((p, i) => `${i ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${c.color}" stroke-width="1.6"><title>${h(c.name)}</title></path>`);
    if (c.diverged) {
      const p = ok[ok.length - 1];
      parts.push(`<text x="${X(p.x).toFixed(1)}" y="${(Y(p.y) + 4).toFixed(1)}" text-anchor="middle" font-size="12" fill="${c.color}">✕<title>${h(`${c.name}: diverged`)}</title></text>`);
    }
  }
  const summary = curves.map((c) => `${c.name}${c.diverged ? " (diverged)" : ""}: last loss ${num(c.points[c.points.length - 1]?.y ?? NaN)}`).join("; ");
  return `<svg class="lines" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${h(`${o.label}. ${summary}`)}"><title>${h(o.label)}</title>${parts.join("")}</svg>`;
}
