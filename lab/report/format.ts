/** Formatting shared by the terminal summary, the HTML report and the README assets. */
import type { Verdict } from "../types.js";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** Evidence values for people: 4 significant digits, integers as they are, non-finite by name. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

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
