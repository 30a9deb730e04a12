/** Formatting shared by the terminal summary, the HTML report and the README assets. */
import type { Verdict } from "../types.js";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const SUPERSCRIPT: Record<string, string> = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹" };

/** 12345 → "12,345" (digits grouped by three; a string so it reads the same in every locale). */
function group(int: string): string {
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A number for people: 4 significant digits at most, trailing zeros dropped; integers grouped by
 * thousands ("65,536"); very large or small magnitudes as "3.88·10⁶" / "1.2·10⁻⁵" (3 digits), never
 * "3884000" or "3.884e+6". Non-finite numbers by name.
 */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  const sign = v < 0 ? "−" : "";
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) {
    const [m, e] = a.toExponential(2).split("e");
    const mant = String(Number(m));
    const exp = String(Number(e)).replace(/./g, (c) => SUPERSCRIPT[c] ?? c);
    return `${sign}${mant}·10${exp}`;
  }
  if (Number.isInteger(v)) return sign + group(String(a));
  const r = Number(a.toPrecision(4));
  if (Number.isInteger(r)) return sign + group(String(r));
  const [int, frac] = String(r).split(".");
  return `${sign}${group(int)}${frac !== undefined ? "." + frac : ""}`;
}

/** Evidence values for people: numbers by formatNumber, booleans as yes/no, missing as —. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** A ratio for people: "×3.88·10⁶", "×0.49". */
export const times = (v: number) => `×${formatNumber(v)}`;

/** A percentage for people from a fraction: 0.1234 → "12.3 %" (3 significant digits). */
export const percent = (fraction: number) => (Number.isFinite(fraction) ? `${Number((100 * fraction).toPrecision(3))} %` : formatNumber(fraction));

export const VERDICTS: readonly Verdict[] = ["reproduced", "not reproduced", "inconclusive"];

/**
 * JSON cannot hold NaN or ±Infinity (JSON.stringify would silently write null); a diverged loss is a
 * result, so non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity".
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) + "\n";
}

/** Inverse of toJson: the strings "NaN", "Infinity", "-Infinity" become numbers again. */
export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v)) as T;
}
