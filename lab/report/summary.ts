/**
 * The summary printed at the end of a lab run. The verdict comes first on each claim's line, so no
 * terminal width can cut it off; the claim and its one-line summary wrap under it, within 100
 * columns (or the terminal's width when narrower). The report keeps every claim's full text.
 */
import type { ClaimResult } from "../types.js";

const MARK: Record<string, string> = { reproduced: "✔", "not reproduced": "✘", inconclusive: "?" };

/** The widest the summary is ever printed, whatever the terminal. */
export const SUMMARY_MAX_WIDTH = 100;
/** Below this a terminal's width is not believed (a pipe reports 0; some CI terminals 10). */
const MIN_WIDTH = 48;
/** Lines of summary text shown per claim; longer summaries end in "…" (the report has all of it). */
const SUMMARY_LINES = 2;

const len = (s: string) => Array.from(s).length;

/** Greedy word wrap to `width` columns; a word longer than a line is cut. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (let word of text.split(/\s+/).filter((w) => w.length > 0)) {
    while (len(word) > width) {
      if (cur) lines.push(cur), (cur = "");
      lines.push(Array.from(word).slice(0, width).join(""));
      word = Array.from(word).slice(width).join("");
    }
    if (!cur) cur = word;
    else if (len(cur) + 1 + len(word) <= width) cur += " " + word;
    else lines.push(cur), (cur = word);
  }
  if (cur) lines.push(cur);
  return lines.length > 0 ? lines : [""];
}

/** At most `n` lines; the last one ends in "…" when text was dropped. */
function clip(lines: string[], n: number, width: number): string[] {
  if (lines.length <= n) return lines;
  const kept = lines.slice(0, n);
  const last = Array.from(kept[n - 1]);
  kept[n - 1] = (last.length >= width ? last.slice(0, width - 1).join("") : kept[n - 1]) + "…";
  return kept;
}

type Row = Pick<ClaimResult, "title" | "verdict" | "summary"> & Partial<Pick<ClaimResult, "shortTitle" | "kind">>;

/**
 * The table: `#  Verdict  Claim`, the claim (its shortTitle when it has one) wrapped in its column,
 * the summary wrapped under it (two lines at most). `width`: the terminal's columns, if known.
 */
export function formatSummaryTable(claims: readonly Row[], width?: number): string {
  const W = Math.min(SUMMARY_MAX_WIDTH, width !== undefined && width >= MIN_WIDTH ? width - 1 : SUMMARY_MAX_WIDTH);
  const verdicts = claims.map((c) => `${MARK[c.verdict] ?? " "} ${c.verdict}`);
  const numW = String(claims.length).length + 1;
  const vW = Math.max("Verdict".length, ...verdicts.map(len));
  const indent = numW + 2 + vW + 2;
  const textW = W - indent;
  const pad = (s: string, n: number) => s + " ".repeat(Math.max(0, n - len(s)));
  const out = [`${pad("#", numW)}  ${pad("Verdict", vW)}  Claim`, `${"─".repeat(numW)}  ${"─".repeat(vW)}  ${"─".repeat(Math.min(textW, 60))}`];
  claims.forEach((c, i) => {
    const title = wrap(c.shortTitle ?? c.title, textW);
    const summary = clip(wrap(c.summary, textW - 2), SUMMARY_LINES, textW - 2);
    out.push(`${pad(`${i + 1}.`, numW)}  ${pad(verdicts[i], vW)}  ${title[0]}`);
    for (const l of title.slice(1)) out.push(" ".repeat(indent) + l);
    for (const l of summary) out.push(" ".repeat(indent + 2) + l);
  });
  return out.join("\n");
}
