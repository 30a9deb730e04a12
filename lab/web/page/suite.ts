/**
 * Section 3: the lab's suite running live in a Web Worker (lab/web/worker.ts). Shows a progress line
 * per training run, the loss curves of the current experiment's finished runs, and each claim as it
 * is decided — verdict, rule, the report's own charts (lab/report/charts.ts, Vega rendered here) and
 * evidence (lab/report/html.ts) — then offers results.json and the HTML report for download.
 */
import { renderChartSvg, SeriesColors } from "../../report/charts.js";
import { escapeHtml as h } from "../../report/format.js";
import { claimSection, renderHtml, type RenderedChart } from "../../report/html.js";
import { formatDuration, formatLoss } from "../../progress.js";
import type { ClaimResult, LabResults, RunRecord } from "../../types.js";
import type { RunRequest, WorkerMessage } from "../protocol.js";
import { fitWidth, lineChart, onResize, type Curve } from "./svg.js";

const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e"];

type State = "starting" | "idle" | "running" | "done" | "failed" | "stopped";

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const newWorker = () => new Worker(new URL("./suite-worker.js", import.meta.url), { type: "module" });

export function mountSuite(root: HTMLElement, claimsRoot: HTMLElement): void {
  root.innerHTML = `
<p>The same experiments and code as <code>npm start</code>, training small models on normkit's layers in a Web Worker
(this tab stays responsive). For the same seed it writes the same <code>results.json</code>: the same verdicts and,
on the same backend, bitwise the same training losses. Only wall-clock timings differ (run times, and the
timing claim's measurements), and the environment block describes this browser.</p>
<form id="lab-form" class="lab-form" novalidate>
<label>Seed <input id="lab-seed" type="number" min="0" step="1" value="1" inputmode="numeric" required></label>
<fieldset id="lab-exp-set"><legend>Experiments</legend><p class="sub">Loading the worker…</p></fieldset>
<label class="inline"><input id="lab-full" type="checkbox"> full suite (more seeds and steps: about 15× longer)</label>
<div class="buttons"><button id="lab-run" type="submit" disabled>Run the quick suite</button>
<button id="lab-stop" type="button" disabled>Stop</button></div>
<p class="err" id="lab-err" role="alert" hidden></p>
</form>
<div id="lab-status" class="status" data-state="starting" aria-live="polite">Starting the worker…</div>
<div class="progress-block">
<label for="lab-progress-all">Experiments</label><progress id="lab-progress-all" value="0" max="1"></progress>
<label for="lab-progress-run">Current run</label><progress id="lab-progress-run" value="0" max="1"></progress>
<p id="lab-run-line" class="run-line" aria-live="off">—</p>
</div>
<ol id="lab-exps" class="exps"></ol>
<figure class="live" id="lab-live-fig"><figcaption>Training loss of the current experiment's finished runs (log scale; ✕ = diverged)</figcaption><div id="lab-live"></div></figure>
<details><summary>Log</summary><pre id="lab-log" class="log"></pre></details>
<div id="lab-results" class="results" hidden>
<p id="lab-results-line"></p>
<div class="buttons"><button id="lab-download-json" type="button">Download results.json</button>
<button id="lab-download-html" type="button">Download the report (index.html)</button></div>
</div>`;

  const $ = <T extends HTMLElement>(id: string) => root.querySelector<T>(`#${id}`)!;
  const form = $<HTMLFormElement>("lab-form");
  const runBtn = $<HTMLButtonElement>("lab-run");
  const stopBtn = $<HTMLButtonElement>("lab-stop");
  const status = $("lab-status");
  const errBox = $("lab-err");
  const logEl = $("lab-log");
  const progAll = $<HTMLProgressElement>("lab-progress-all");
  const progRun = $<HTMLProgressElement>("lab-progress-run");
  const runLine = $("lab-run-line");
  const live = $("lab-live");
  const exps = $("lab-exps");

  let worker: Worker | null = null;
  let state: State = "starting";
  let known: { id: string; title: string }[] = [];
  let t0 = 0;
  let logLines: string[] = [];
  let results: { results: LabResults; json: string } | null = null;
  let claimCharts = new Map<string, RenderedChart[]>();
  // claims render one after another, in the order they were decided (their number in the report)
  let chartJobs: Promise<void> = Promise.resolve();
  let claimCount = 0;
  let colors = new SeriesColors();
  let curves: (Curve & { group: string })[] = [];
  const runs = new Map<number, { label: string; total: number; started: number }>();
  let lastEnded = "";

  const setState = (s: State, text: string) => {
    state = s;
    status.dataset.state = s;
    status.textContent = text;
    runBtn.disabled = s === "running" || s === "starting" || known.length === 0;
    stopBtn.disabled = s !== "running";
  };
  const log = (line: string) => {
    logLines.push(line);
    if (logLines.length > 400) logLines = logLines.slice(-300);
    logEl.textContent = logLines.join("\n");
  };
  // one colour per model variant (its norm), the same in every experiment of a run
  const groupColors = new Map<string, string>();
  const colorOf = (group: string) => {
    if (!groupColors.has(group)) groupColors.set(group, PALETTE[groupColors.size % PALETTE.length]);
    return groupColors.get(group)!;
  };
  const drawLive = () => {
    const groups = [...new Set(curves.map((c) => c.group))];
    live.innerHTML =
      lineChart(curves, { label: "Training loss of this experiment's finished runs", xTitle: "step", yTitle: "training loss", width: fitWidth(live, 720, 240) }) +
      (groups.length ? `<ul class="legend" aria-label="Colours">${groups.map((g) => `<li><span class="swatch" style="background:${colorOf(g)}"></span>${h(g)}</li>`).join("")}</ul>` : "");
  };

  const expItem = (id: string) => exps.querySelector<HTMLElement>(`li[data-id="${CSS.escape(id)}"]`);

  // bumped by every new run (and Stop), so a claim still rendering for an older run is dropped
  let generation = 0;
  // the report's charts at the report's size where the column allows, narrower on a phone (the plot
  // area; Vega adds the axes and the legend around it)
  const chartLayout = () => ({ width: Math.max(220, Math.min(600, claimsRoot.clientWidth - 220)), height: 260 });
  const renderClaim = async (claim: ClaimResult, index: number, gen: number) => {
    const charts: RenderedChart[] = [];
    for (const spec of claim.charts ?? []) {
      try {
        charts.push({ id: spec.id, svg: await renderChartSvg(spec, colors, chartLayout()), caption: spec.caption });
      } catch (e) {
        charts.push({ id: spec.id, svg: null, error: (e as Error).message, caption: spec.caption });
      }
    }
    if (gen !== generation) return;
    claimCharts.set(claim.id, charts);
    const tpl = document.createElement("template");
    tpl.innerHTML = claimSection(claim, index, charts);
    claimsRoot.append(tpl.content);
  };

  const onMessage = (m: WorkerMessage) => {
    switch (m.type) {
      case "ready": {
        if (known.length === 0) {
          known = m.experiments;
          $("lab-exp-set").innerHTML =
            "<legend>Experiments</legend>" +
            known.map((e) => `<label class="exp-choice"><input type="checkbox" name="exp" value="${h(e.id)}" checked> <code>${h(e.id)}</code> <span class="sub">${h(e.title)}</span></label>`).join("");
        }
        if (state === "starting") setState("idle", `Ready: the worker runs normkit's ${m.backend} backend (available: ${m.backendsAvailable}).`);
        break;
      }
      case "experiment-start": {
        curves = [];
        drawLive();
        progAll.max = m.total;
        progAll.value = m.index;
        const li = expItem(m.id);
        if (li) {
          li.dataset.state = "running";
          li.querySelector(".exp-state")!.textContent = "running…";
        }
        break;
      }
      case "run-start":
        runs.set(m.run, { label: m.label, total: m.total, started: performance.now() });
        progRun.max = Math.max(1, m.total);
        progRun.value = 0;
        runLine.textContent = `${m.label} — starting`;
        break;
      case "run-update": {
        const r = runs.get(m.run);
        if (!r) break;
        const s = (performance.now() - r.started) / 1000;
        const rate = m.step / Math.max(1e-9, s);
        progRun.value = m.step;
        runLine.textContent = `${r.label} — step ${m.step}/${r.total}, loss ${formatLoss(m.loss)}, ${rate.toFixed(rate >= 100 ? 0 : 1)} steps/s, ETA ${formatDuration((r.total - m.step) / rate)}`;
        break;
      }
      case "run-end": {
        const r = runs.get(m.run);
        lastEnded = r?.label ?? "";
        progRun.value = progRun.max;
        runLine.textContent = `${lastEnded} — ${m.status}`;
        log(`${lastEnded}: ${m.status}`);
        break;
      }
      case "record":
        curves.push(curveOf(m.record, lastEnded || m.record.experiment, colorOf(groupOf(m.record))));
        drawLive();
        break;
      case "log":
        log(m.message.replace(/^\n/, ""));
        break;
      case "claim": {
        const index = claimCount++;
        const li = expItem(m.claim.id);
        if (li) {
          li.dataset.state = "done";
          li.querySelector(".exp-state")!.innerHTML = `<span class="badge ${h(m.claim.verdict.replace(/\s+/g, "-"))}" data-verdict="${h(m.claim.verdict)}">${h(m.claim.verdict)}</span> in ${h(formatDuration(m.seconds))}${m.error ? ` — failed: ${h(m.error)}` : ""}`;
        }
        progAll.value = progAll.value + 1;
        const claim = m.claim;
        const gen = generation;
        chartJobs = chartJobs.then(() => renderClaim(claim, index, gen));
        break;
      }
      case "done":
        results = { results: m.results, json: m.json };
        const doneGen = generation;
        void chartJobs.then(() => {
          if (doneGen !== generation) return;
          const n = m.results.claims.length;
          const took = formatDuration((performance.now() - t0) / 1000);
          $("lab-results-line").textContent = `${n} claim${n === 1 ? "" : "s"} decided in ${took}: ${m.results.claims.map((c) => `${c.id} ${c.verdict}`).join(", ")}.`;
          $("lab-results").hidden = false;
          setState("done", `Done in ${took}. Download results.json or the report below.`);
          finish();
        });
        break;
      case "failed":
        setState("failed", `The suite stopped: ${m.message}`);
        finish();
        break;
    }
  };

  const attach = (w: Worker) => {
    w.onmessage = (e: MessageEvent<WorkerMessage>) => onMessage(e.data);
    w.onerror = (e) => {
      e.preventDefault();
      setState("failed", `The worker failed to load or crashed: ${e.message || "unknown error"}`);
      finish();
    };
  };
  const finish = () => {
    worker?.terminate();
    worker = null;
  };

  // a worker right away, to list the experiments (it also runs the first suite)
  worker = newWorker();
  attach(worker);

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (state === "running") return;
    const seedText = $<HTMLInputElement>("lab-seed").value.trim();
    const ids = Array.from(root.querySelectorAll<HTMLInputElement>('input[name="exp"]')).filter((c) => c.checked).map((c) => c.value);
    const problems: string[] = [];
    if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(Number(seedText))) problems.push(`the seed must be a non-negative integer, got "${seedText}"`);
    if (ids.length === 0) problems.push("choose at least one experiment");
    errBox.hidden = problems.length === 0;
    errBox.textContent = problems.join("; ");
    if (problems.length) return;

    // every suite in a fresh worker: the lab keeps per-process caches (see lab/web/worker.ts)
    if (worker === null) {
      worker = newWorker();
      attach(worker);
    }
    generation++;
    claimsRoot.replaceChildren();
    claimCharts = new Map();
    chartJobs = Promise.resolve();
    claimCount = 0;
    colors = new SeriesColors();
    groupColors.clear();
    runs.clear();
    curves = [];
    drawLive();
    results = null;
    logLines = [];
    logEl.textContent = "";
    $("lab-results").hidden = true;
    exps.innerHTML = ids
      .map((id) => `<li data-id="${h(id)}" data-state="pending"><code>${h(id)}</code> <span class="exp-state">waiting</span></li>`)
      .join("");
    progAll.max = ids.length;
    progAll.value = 0;
    progRun.value = 0;
    t0 = performance.now();
    const full = $<HTMLInputElement>("lab-full").checked;
    const req: RunRequest = { type: "run", seed: Number(seedText), full, experiments: ids };
    worker.postMessage(req);
    setState("running", `Running ${ids.length} experiment${ids.length === 1 ? "" : "s"} (${full ? "full" : "quick"} suite, seed ${seedText})…`);
  });

  stopBtn.addEventListener("click", () => {
    finish();
    generation++;
    runLine.textContent = "—";
    setState("stopped", "Stopped. The claims decided so far stay below; run again to start over.");
  });

  $("lab-download-json").addEventListener("click", () => {
    if (results) download("results.json", "application/json", results.json);
  });
  $("lab-download-html").addEventListener("click", () => {
    if (results) {
      const { claims, runs, environment } = results.results;
      download("index.html", "text/html", renderHtml({ claims: claims as ClaimResult[], runs, environment, charts: claimCharts }));
    }
  });
  drawLive();
  onResize(drawLive);
}

/** The model variant a run trained: its model and norm from the recorded configuration. */
function groupOf(r: RunRecord): string {
  const { model, norm } = r.config;
  return [model, norm].filter((v) => v !== undefined).join(" ") || r.experiment;
}

function curveOf(r: RunRecord, name: string, color: string): Curve & { group: string } {
  return { name, color, group: groupOf(r), diverged: r.diverged, points: r.losses.map((y, i) => ({ x: (i + 1) * r.logEvery, y })) };
}
