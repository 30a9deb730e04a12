/**
 * Runs the selected experiments in order and collects their claims and training runs. Shared by the
 * command line (lab/cli.ts, `npm start`) and the web lab's Web Worker (lab/web/worker.ts), so both
 * produce the same results.json for a seed. No Node-only imports: it also runs in browsers.
 */
import { formatDuration } from "./progress.js";
import { VERDICTS } from "./report/format.js";
import type { ClaimResult, Experiment, ExperimentContext, LabEnvironment, Progress, RunRecord } from "./types.js";

/** An experiment that threw still gets a claim, so the report shows what happened instead of losing it. */
export function failedClaim(e: Experiment, err: unknown): ClaimResult {
  const message = err instanceof Error ? err.message : String(err);
  return {
    id: e.id,
    title: e.title,
    explanation: "This experiment stopped with an error before it could measure anything conclusive; the terminal output has the details.",
    verdict: "inconclusive",
    rule: "no verdict: the experiment failed to run",
    evidence: { error: message },
    charts: [],
    summary: `experiment failed: ${message}`,
  };
}

/** Rejects results the report could not show faithfully (an unknown verdict would have no rule behind it). */
export function checkClaim(c: ClaimResult): void {
  if (c === null || typeof c !== "object") throw new Error("experiment returned no ClaimResult");
  if (!VERDICTS.includes(c.verdict)) throw new Error(`invalid verdict '${String(c.verdict)}' (expected ${VERDICTS.join(" | ")})`);
  if (typeof c.rule !== "string" || c.rule.trim() === "") throw new Error("the claim states no rule for its verdict");
  if (!Array.isArray(c.charts)) throw new Error("claim.charts must be an array");
}

/** The `npm start` command line that reproduces a run (recorded in results.json). */
export function commandLine(o: { full: boolean; experiments: readonly string[]; seed: number; corpus: string | null }): string {
  const parts = ["npm start --"];
  if (o.full) parts.push("--full");
  for (const e of o.experiments) parts.push(`--experiment ${e}`);
  parts.push(`--seed ${o.seed}`);
  if (o.corpus !== null) parts.push(`--corpus ${o.corpus}`);
  return parts.join(" ");
}

export interface SuiteOptions {
  full: boolean;
  seed: number;
  corpus: { text: string; name: string };
  progress: Progress;
  /** the front end's platform services (WebGPU, …), handed to every experiment as ctx.env */
  env?: LabEnvironment;
  /** an experiment is about to run (index in the selection) */
  onStart?: (e: Experiment, index: number) => void;
  /** an experiment finished, or failed: then `failure` holds what it threw and `claim` is its failedClaim */
  onClaim?: (claim: ClaimResult, e: Experiment, seconds: number, failure?: { error: unknown }) => void;
  /** a training run was recorded (after it is added to `runs`) */
  onRecord?: (run: RunRecord) => void;
}

export interface SuiteResult {
  claims: ClaimResult[];
  runs: RunRecord[];
  /** seconds per experiment id */
  durations: Record<string, number>;
  failures: number;
}

export async function runExperiments(selected: readonly Experiment[], o: SuiteOptions): Promise<SuiteResult> {
  const { progress } = o;
  const runs: RunRecord[] = [];
  const claims: ClaimResult[] = [];
  const durations: Record<string, number> = {};
  let failures = 0;
  for (const [index, exp] of selected.entries()) {
    progress.log(`\n== ${exp.title} (${exp.id})`);
    o.onStart?.(exp, index);
    const ctx: ExperimentContext = {
      full: o.full,
      seed: o.seed,
      corpus: o.corpus.text,
      corpusName: o.corpus.name,
      progress,
      record: (run) => {
        runs.push(run);
        o.onRecord?.(run);
      },
      env: o.env,
    };
    const te = performance.now();
    let claim: ClaimResult;
    let failure: { error: unknown } | undefined;
    try {
      claim = await exp.run(ctx);
      checkClaim(claim);
    } catch (e) {
      failures++;
      failure = { error: e };
      claim = failedClaim(exp, e);
    }
    claims.push(claim);
    durations[exp.id] = (performance.now() - te) / 1000;
    o.onClaim?.(claim, exp, durations[exp.id], failure);
    progress.log(`   ${exp.id} took ${formatDuration(durations[exp.id])}`);
  }
  return { claims, runs, durations, failures };
}
