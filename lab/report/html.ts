/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, no script, no
 * external resources) so it opens offline from disk or as a CI artifact.
 */
import type { ClaimResult, RunRecord } from "../types.js";
import { escapeHtml as h, formatValue } from "./format.js";

export interface RenderedChart {
  id: string;
  title?: string;
  /** the SVG markup for a desktop column, or null when rendering failed */
  svg: string | null;
  /** the same chart laid out for a phone (one facet column); shown below 960 px */
  svgNarrow?: string | null;
  /** what the chart cannot show by itself (missing curves, an axis without zero) */
  notes?: string[];
  error?: string;
  caption?: string;
}

export interface ReportInput {
  claims: ClaimResult[];
  runs: RunRecord[];
  environment: Record<string, string | number | boolean>;
  /** per claim id, its rendered charts in order */
  charts: Map<string, RenderedChart[]>;
}

export const CSS = `
:root { --fg:#1d2330; --muted:#5b6476; --line:#e3e6ec; --bg:#f6f7f9; --card:#fff;
  --ok:#1a7f37; --ok-bg:#dcf5e3; --bad:#b42318; --bad-bg:#fde4e1; --unk:#8a5a00; --unk-bg:#fdf0cf; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 20px 48px; }
h1 { font-size: 30px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 22px; margin: 0; line-height: 1.3; }
h3 { font-size: 15px; margin: 20px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
p { margin: 8px 0; }
a { color: #2456b3; text-decoration: none; } a:hover { text-decoration: underline; }
code { font: 14px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#eef0f4; padding: 2px 6px; border-radius: 4px; overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 6px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 22px 24px; margin: 22px 0; }
table { border-collapse: collapse; width: 100%; font-size: 15px; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
tr:last-child td { border-bottom: none; }
td.num { font-variant-numeric: tabular-nums; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px; }
.badge { display: inline-block; white-space: nowrap; font-size: 13px; font-weight: 700; padding: 3px 10px; border-radius: 999px; letter-spacing: .02em; }
.badge.reproduced { color: var(--ok); background: var(--ok-bg); }
.badge.not-reproduced { color: var(--bad); background: var(--bad-bg); }
.badge.inconclusive { color: var(--unk); background: var(--unk-bg); }
.claim-head { display: flex; align-items: baseline; justify-content: space-between; gap: 16px; flex-wrap: wrap; }
.claim-head .num { color: var(--muted); font-weight: 400; margin-right: 6px; }
.explanation { color: #2c3444; }
.verdict-box { display: flex; gap: 14px; align-items: flex-start; background: #f9fafb; border: 1px solid var(--line);
  border-left: 4px solid var(--unk); border-radius: 8px; padding: 12px 14px; margin: 14px 0 6px; }
.verdict-box.reproduced { border-left-color: var(--ok); }
.verdict-box.not-reproduced { border-left-color: var(--bad); }
.verdict-box .rule { font-size: 15px; }
.control-box { background: #f4f7fd; border: 1px solid #d8e2f4; border-radius: 8px; padding: 10px 14px; margin: 8px 0 6px; font-size: 15px; }
.source { color: var(--muted); font-style: italic; margin: 4px 0 8px; }
.charts { display: flex; flex-direction: column; gap: 22px; margin-top: 14px; }
figure.chart { margin: 0; min-width: 0; }
.chart-title { font-weight: 600; font-size: 15px; line-height: 1.35; margin: 0 0 4px; }
.chart-svg svg { display: block; max-width: 100%; height: auto; }
.chart-svg.narrow { display: none; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 4px; }
figcaption .note { display: block; color: #6b4e00; }
.chart-error { color: var(--bad); background: var(--bad-bg); padding: 10px 12px; border-radius: 6px; font-size: 14px; }
.evidence td:first-child { color: #2c3444; width: 55%; }
.evidence td.num { text-align: right; white-space: nowrap; }
.evidence td.text { font-size: 14px; }
td { overflow-wrap: anywhere; }
section.part-head { margin: 36px 0 0; }
section.part-head h2 { font-size: 24px; }
.overview td:nth-child(2) { width: 150px; }
.env td:first-child { color: var(--muted); width: 30%; }
footer { color: var(--muted); font-size: 14px; }
/* below 960 px the desktop chart (860 px) would be scaled down and its text shrunk: show the phone layout */
@media (max-width: 959px) {
  .chart-svg.wide { display: none; }
  .chart-svg.narrow { display: block; }
}
@media (max-width: 640px) {
  main { padding: 18px 10px 32px; }
  .card { padding: 14px; margin: 14px 0; }
  h1 { font-size: 24px; }
  h2 { font-size: 19px; }
  table.overview, table.overview tbody, table.overview tr, table.overview td { display: block; width: auto !important; }
  table.overview thead { display: none; }
  table.overview tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  table.overview td { border: none; padding: 2px 0; }
  .evidence td.num { white-space: normal; }
  th { letter-spacing: 0; font-size: 12px; }
  th, td { padding: 6px 5px; }
  table { font-size: 14px; }
  .verdict-box { flex-direction: column; gap: 6px; }
}
`;

function verdictClass(v: string): string {
  return v.replace(/\s+/g, "-");
}

function badge(verdict: string): string {
  return `<span class="badge ${h(verdictClass(verdict))}" data-verdict="${h(verdict)}">${h(verdict)}</span>`;
}

function paragraphs(text: string, cls: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => `<p class="${cls}">${h(p)}</p>`)
    .join("\n");
}

function figure(ch: RenderedChart): string {
  const title = ch.title ? `<div class="chart-title">${h(ch.title)}</div>` : "";
  const body =
    ch.svg !== null
      ? `<div class="chart-svg wide">${ch.svg}</div><div class="chart-svg narrow">${ch.svgNarrow ?? ch.svg}</div>`
      : `<div class="chart-error">This chart could not be rendered: ${h(ch.error ?? "unknown error")}</div>`;
  const notes = (ch.notes ?? []).map((n) => `<span class="note">${h(n)}</span>`).join("");
  const cap = ch.caption || notes ? `<figcaption>${ch.caption ? h(ch.caption) : ""}${notes}</figcaption>` : "";
  return `<figure class="chart" data-chart-id="${h(ch.id)}">${title}${body}${cap}</figure>`;
}

export function claimSection(c: ClaimResult, index: number, charts: RenderedChart[]): string {
  const evidence = Object.entries(c.evidence)
    .map(([k, v]) => `<tr><td>${h(k)}</td><td class="${typeof v === "string" && v.length > 24 ? "text" : "num"}">${h(formatValue(v))}</td></tr>`)
    .join("");
  return `<section class="card claim" id="claim-${h(c.id)}" data-claim-id="${h(c.id)}">
<div class="claim-head"><h2><span class="num">${index + 1}.</span>${h(c.title)}</h2>${badge(c.verdict)}</div>
${c.source ? `<p class="source">${h(c.source)}</p>` : ""}
${paragraphs(c.explanation ?? "", "explanation")}
<div class="verdict-box ${h(verdictClass(c.verdict))}"><div>${badge(c.verdict)}</div><div class="rule"><strong>Rule:</strong> ${h(c.rule)}</div></div>
${c.control ? `<div class="control-box"><strong>Control:</strong> ${h(c.control)}</div>` : ""}
${charts.length > 0 ? `<div class="charts">${charts.map(figure).join("\n")}</div>` : ""}
<h3>Evidence</h3>
${evidence.length > 0 ? `<table class="evidence"><tbody>${evidence}</tbody></table>` : `<p class="sub">No evidence recorded.</p>`}
</section>`;
}

function runsSection(runs: readonly RunRecord[]): string {
  if (runs.length === 0) return "";
  const by = new Map<string, { n: number; diverged: number; steps: number; seconds: number }>();
  for (const r of runs) {
    const s = by.get(r.experiment) ?? { n: 0, diverged: 0, steps: 0, seconds: 0 };
    s.n++;
    if (r.diverged) s.diverged++;
    s.steps += r.steps;
    s.seconds += r.seconds;
    by.set(r.experiment, s);
  }
  const rows = [...by]
    .map(([e, s]) => `<tr><td>${h(e)}</td><td class="num">${s.n}</td><td class="num">${s.diverged}</td><td class="num">${s.steps}</td><td class="num">${h(formatValue(s.seconds))}</td></tr>`)
    .join("");
  return `<section class="card"><h2>Training runs</h2>
<p class="sub">Every run's configuration, seed and loss curve is in <code>results.json</code>.</p>
<table class="runs"><thead><tr><th>Experiment</th><th>Runs</th><th>Diverged</th><th>Steps</th><th>Seconds</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

const PAPERS_HEAD = `<section class="part-head"><h2>The papers, at small scale</h2>
<p class="sub">Published results about normalization, rerun on models small enough for this machine. Each states its rule before its data; a small model can fail to show an effect the paper found at scale, and then says so.</p></section>
`;

export function renderHtml(input: ReportInput): string {
  const { claims, environment: env } = input;
  const overview = claims
    .map((c) => `<tr><td><a href="#claim-${h(c.id)}">${h(c.title)}</a></td><td>${badge(c.verdict)}</td><td>${h(c.summary ?? "")}</td></tr>`)
    .join("");
  const envRows = Object.entries(env)
    .map(([k, v]) => `<tr><td>${h(k)}</td><td>${h(formatValue(v))}</td></tr>`)
    .join("");
  const when = typeof env.date === "string" ? env.date : "";
  const command = typeof env.command === "string" ? env.command : "npm start";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>normkit lab report</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>normkit lab report</h1>
<p class="sub">What normalization layers do, tested with real training runs on normkit's own LayerNorm, RMSNorm and BatchNorm.
Each claim gets a verdict computed from the measurements by the rule stated next to it.</p>
<p class="sub">${h(when)}${when ? " · " : ""}${h(String(env.mode ?? ""))} suite · seed ${h(String(env.seed ?? ""))} · reproduce with <code>${h(command)}</code></p>
</header>
<section class="card"><h2>Claims</h2>
<table class="overview"><thead><tr><th>Claim</th><th>Verdict</th><th>Summary</th></tr></thead><tbody>${overview}</tbody></table>
</section>
${claims.map((c, i) => (i > 0 && c.kind === "paper" && claims[i - 1].kind !== "paper" ? PAPERS_HEAD : "") + claimSection(c, i, input.charts.get(c.id) ?? [])).join("\n")}
${runsSection(input.runs)}
<footer class="card"><h2>Environment</h2><table class="env"><tbody>${envRows}</tbody></table></footer>
</main>
</body>
</html>
`;
}
