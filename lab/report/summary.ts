/** The summary table printed at the end of a lab run: claim, verdict, one-line summary. */
import type { ClaimResult } from "../types.js";

const MARK: Record<string, string> = { reproduced: "✔", "not reproduced": "✘", inconclusive: "?" };

/** Column-aligned table; with `width` (a terminal's columns) the summary column is cut to fit. */
export function formatSummaryTable(claims: readonly Pick<ClaimResult, "title" | "verdict" | "summary">[], width?: number): string {
  const rows = claims.map((c) => [c.title, `${MARK[c.verdict] ?? " "} ${c.verdict}`, c.summary]);
  const head = ["Claim", "Verdict", "Summary"];
  const w0 = Math.max(head[0].length, ...rows.map((r) => r[0].length));
  const w1 = Math.max(head[1].length, ...rows.map((r) => r[1].length));
  const line = (r: string[]) => {
    const s = `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`;
    return width !== undefined && width > 20 && s.length > width - 1 ? s.slice(0, width - 2) + "…" : s;
  };
  return [line(head), line(["─".repeat(w0), "─".repeat(w1), "─".repeat(Math.min(60, Math.max(7, ...rows.map((r) => r[2].length))))]), ...rows.map(line)].join("\n");
}
