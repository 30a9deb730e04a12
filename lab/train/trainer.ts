/**
 * The training loop shared by every experiment: zero grads, forward, backward, AdamW, with
 * divergence detection (a NaN/Inf loss or gradient, or a logged window-mean loss above `blowUp`
 * times the loss at step 0) that stops the run and reports it instead of crashing, live progress,
 * and a RunRecord for results.json.
 */
import type { ExperimentContext } from "../types.js";
import { zeroGrads, type AdamW, type Param } from "./params.js";

export interface TrainSpec {
  ctx: ExperimentContext;
  experiment: string;
  /** shown on the progress line */
  label: string;
  config: Record<string, number | string | boolean>;
  seed: number;
  steps: number;
  /** losses are logged as the mean over each window of this many steps */
  logEvery: number;
  params: Param[];
  opt: AdamW;
  /** forward on the next training batch; returns its loss */
  forward: (step: number) => number;
  backward: () => void;
  /** called after backward, before the update (to snapshot gradients) */
  afterBackward?: (step: number) => void;
  /** held-out loss at the end (skipped for a diverged run) */
  evaluate?: () => number;
  /** blow-up threshold, relative to the loss at step 0 (default 3) */
  blowUp?: number;
  /** learning rate at a step (a warm-up schedule); default the optimizer's constant lr */
  lrAt?: (step: number) => number;
}

export interface TrainResult {
  losses: number[];
  diverged: boolean;
  divergedAt: number | null;
  reason: string | null;
  /** last logged (window-mean) training loss; null if diverged */
  finalLoss: number | null;
  evalLoss: number | null;
  seconds: number;
  stepsDone: number;
  clipped: number;
}

export function train(spec: TrainSpec): TrainResult {
  const { ctx, steps, logEvery } = spec;
  const blowUp = spec.blowUp ?? 3;
  const run = ctx.progress.start(spec.experiment, spec.label, steps);
  const losses: number[] = [];
  const t0 = performance.now();
  let win = 0;
  let winN = 0;
  let reason: string | null = null;
  let divergedAt: number | null = null;
  let stepsDone = 0;
  let initial = NaN;
  for (let step = 0; step < steps; step++) {
    zeroGrads(spec.params);
    const loss = spec.forward(step);
    if (!Number.isFinite(loss)) {
      reason = `loss ${loss} at step ${step}`;
    } else {
      spec.backward();
      spec.afterBackward?.(step);
      const gnorm = spec.opt.step(spec.lrAt?.(step));
      if (!Number.isFinite(gnorm)) reason = `gradient norm ${gnorm} at step ${step}`;
    }
    if (reason !== null) {
      divergedAt = step;
      if (winN > 0) losses.push(win / winN);
      break;
    }
    stepsDone = step + 1;
    if (step === 0) initial = loss;
    win += loss;
    winN++;
    if (winN === logEvery || step === steps - 1) {
      const mean = win / winN;
      losses.push(mean);
      win = 0;
      winN = 0;
      run.update(step + 1, mean);
      if (mean > blowUp * initial) {
        reason = `loss blew up to ${mean.toPrecision(3)} (> ${blowUp}× the initial ${initial.toPrecision(3)}) by step ${step + 1}`;
        divergedAt = step;
        break;
      }
    }
  }
  const diverged = reason !== null;
  const evalLoss = !diverged && spec.evaluate ? spec.evaluate() : null;
  const seconds = (performance.now() - t0) / 1000;
  run.end(diverged ? `diverged: ${reason}` : `loss ${losses[losses.length - 1]?.toFixed(4)}${evalLoss !== null ? `, held-out ${evalLoss.toFixed(4)}` : ""}`);
  const result: TrainResult = {
    losses, diverged, divergedAt, reason,
    finalLoss: diverged ? null : losses[losses.length - 1] ?? null,
    evalLoss: evalLoss !== null && Number.isFinite(evalLoss) ? evalLoss : null,
    seconds, stepsDone, clipped: spec.opt.clipped,
  };
  ctx.record({
    experiment: spec.experiment, config: { ...spec.config, lr: spec.opt.opts.lr, clip: spec.opt.opts.clip ?? 0 },
    seed: spec.seed, steps, losses, logEvery, diverged, finalLoss: result.finalLoss, seconds,
    divergedAt, divergenceReason: reason, evalLoss: result.evalLoss, clippedSteps: spec.opt.clipped,
  });
  return result;
}

/** Steps until the logged loss first reaches `target` (window end), or null if never. */
export function stepsToTarget(losses: number[], logEvery: number, target: number): number | null {
  const i = losses.findIndex((l) => l <= target);
  return i < 0 ? null : (i + 1) * logEvery;
}
