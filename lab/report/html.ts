/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, no script, no
 * external resources) so it opens offline from disk or as a CI artifact.
 */
import type { ClaimResult, RunRecord } from "../types.js";
import { escapeHtml as h, formatValue } from "./format.js";

export interface RenderedChart {
  id: string;
  /** the SVG markup, or null when rendering failed */
  svg: string | null;
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
code { font: 14px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#eef0f4; padding: 2px 6px; border-radius: 4px; }
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
.charts { display: flex; flex-direction: column; gap: 18px; margin-top: 10px; }
figure.chart { margin: 0; overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 4px; }
.chart-error { color: var(--bad); background: var(--bad-bg); padding: 10px 12px; border-radius: 6px; font-size: 14px; }
.evidence td:first-child { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px; color: #2c3444; width: 45%; word-break: break-word; }
.overview td:nth-child(2) { width: 150px; }
.env td:first-child { color: var(--muted); width: 30%; }
footer { color: var(--muted); font-size: 14px; }
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

export function claimSection(c: ClaimResult, index: number, charts: RenderedChart[]): string {
  const figures = charts
    .map((ch) => {
      const body = ch.svg !== null ? ch.svg : `<div class="chart-error">This chart could not be rendered: ${h(ch.error ?? "unknown error")}</div>`;
      const cap = ch.caption ? `<figcaption>${h(ch.caption)}</figcaption>` : "";
      return `<figure class="chart" data-chart-id="${h(ch.id)}">${body}${cap}</figure>`;
    })
    .join("\n");
  const evidence = Object.entries(c.evidence)
    .map(([k, v]) => `<tr><td>${h(k)}</td><td class="num">${h(formatValue(v))}</td></tr>`)
    .join("");
  return `<section class="card claim" id="claim-${h(c.id)}" data-claim-id="${h(c.id)}">
<div class="claim-head"><h2><span class="num">${index + 1}.</span>${h(c.title)}</h2>${badge(c.verdict)}</div>
${paragraphs(c.explanation ?? "", "explanation")}
<div class="verdict-box ${h(verdictClass(c.verdict))}"><div>${badge(c.verdict)}</div><div class="rule"><strong>Rule:</strong> ${h(c.rule)}</div></div>
${charts.length > 0 ? `<div class="charts">${figures}</div>` : ""}
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
${claims.map((c, i) => claimSection(c, i, input.charts.get(c.id) ?? [])).join("\n")}
${runsSection(input.runs)}
<footer class="card"><h2>Environment</h2><table class="env"><tbody>${envRows}</tbody></table></footer>
</main>
</body>
</html>
`;
}
