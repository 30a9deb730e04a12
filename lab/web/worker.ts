/**
 * The web lab's Web Worker: runs the lab's experiments (the same code and runner as `npm start`,
 * lab/suite.ts) on normkit's default backend in this worker, and streams progress, training runs and
 * claims to the page; at the end it posts results.json exactly as `npm start` writes it (lab/report/
 * format.ts toJson), its environment describing the browser. One suite per worker: the lab caches
 * its char-GPT runs per process (lab/experiments/common.ts), so the page starts a fresh worker for
 * every run.
 */
import { experiments } from "../experiments/index.js";
import { toJson } from "../report/format.js";
import { commandLine, runExperiments } from "../suite.js";
import type { LabResults, Progress } from "../types.js";
import { getBackend, listBackends } from "../../src/index.js";
import { browserEnvironment, describeWebGpu } from "./environment.js";
import type { BuildInfo, RunRequest, WorkerMessage } from "./protocol.js";

interface WorkerScope {
  postMessage(m: WorkerMessage): void;
  onmessage: ((e: MessageEvent<RunRequest>) => void) | null;
  location: { href: string };
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: WorkerMessage) => scope.postMessage(m);

/** Progress lines become messages; updates of one run at most every 50 ms (the last one always). */
function workerProgress(): Progress {
  let next = 0;
  return {
    start(experiment, label, total) {
      const run = next++;
      let last = -Infinity;
      post({ type: "run-start", run, experiment, label, total });
      return {
        update(step, loss) {
          const now = performance.now();
          if (step < total && now - last < 50) return;
          last = now;
          post({ type: "run-update", run, step, loss });
        },
        end(status) {
          post({ type: "run-end", run, status: status ?? "" });
        },
      };
    },
    log(message) {
      post({ type: "log", message });
    },
  };
}

async function fetchText(path: string): Promise<string> {
  const url = new URL(path, scope.location.href);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot load ${url.pathname}: HTTP ${r.status}`);
  return r.text();
}

async function run(req: RunRequest): Promise<void> {
  const known = new Set(experiments.map((e) => e.id));
  const unknown = req.experiments.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new Error(`unknown experiment ${unknown.join(", ")}`);
  if (!Number.isSafeInteger(req.seed) || req.seed < 0) throw new Error(`the seed must be a non-negative integer, got ${String(req.seed)}`);
  // registry order, as `npm start -- --experiment …` runs them
  const wanted = new Set(req.experiments);
  const selected = req.experiments.length === 0 ? experiments : experiments.filter((e) => wanted.has(e.id));
  const info = JSON.parse(await fetchText("build-info.json")) as BuildInfo;
  const corpus = { text: await fetchText(info.corpusFile), name: info.corpusName };
  const webgpu = await describeWebGpu();

  const startedAt = new Date();
  const t0 = performance.now();
  const suite = await runExperiments(selected, {
    full: req.full,
    seed: req.seed,
    corpus,
    progress: workerProgress(),
    onStart: (e, index) => post({ type: "experiment-start", id: e.id, title: e.title, index, total: selected.length }),
    onRecord: (record) => post({ type: "record", record }),
    onClaim: (claim, _e, seconds, failure) =>
      post({ type: "claim", claim, seconds, error: failure === undefined ? null : failure.error instanceof Error ? failure.error.message : String(failure.error) }),
  });
  const environment = browserEnvironment(
    {
      seed: req.seed,
      full: req.full,
      startedAt,
      command: commandLine({ full: req.full, experiments: selected.length === experiments.length ? [] : selected.map((e) => e.id), seed: req.seed, corpus: null }),
      corpusName: corpus.name,
      corpusChars: corpus.text.length,
      experiments: selected.map((e) => e.id),
      durations: suite.durations,
      totalSeconds: (performance.now() - t0) / 1000,
    },
    { normkit: info.normkit, webgpu },
  );
  const results: LabResults = { claims: suite.claims, runs: suite.runs, environment };
  post({ type: "done", results, json: toJson(results) });
}

let started = false;
scope.onmessage = (e) => {
  if (e.data?.type !== "run") return;
  if (started) {
    post({ type: "failed", message: "this worker already ran a suite; start a new worker for the next one" });
    return;
  }
  started = true;
  run(e.data).catch((err: unknown) => post({ type: "failed", message: err instanceof Error ? err.message : String(err) }));
};
post({ type: "ready", backend: getBackend(), backendsAvailable: listBackends().join(", "), experiments: experiments.map((e) => ({ id: e.id, title: e.title })) });
