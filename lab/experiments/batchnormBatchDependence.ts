/**
 * Claim 3 — BatchNorm depends on the batch. Pre-norm residual MLPs with BatchNorm or LayerNorm,
 * trained at batch sizes 2, 8 and 64 (same steps): held-out loss, and how far each trained model's
 * train-mode outputs (batch statistics over batches of that size) are from its eval-mode outputs.
 */
import type { MlpNorm, ResidualMLP } from "../models/mlp.js";
import type { TrainResult } from "../train/trainer.js";
import { formatNumber } from "../report/format.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { curveRows, mean, MLP_DIN, mlpTask, runMlp, sig, type MlpTask } from "./common.js";

const ID = "batchnorm-batch-dependence";

/**
 * RMS(train-mode logits − eval-mode logits) / RMS(eval-mode logits) over the held-out set, train
 * mode fed in consecutive batches of `batch`. BatchNorm's running statistics are restored afterwards
 * (a train-mode forward updates them).
 */
export function trainEvalGap(model: ResidualMLP, t: MlpTask, batch: number): { gap: number; bitwiseEqual: boolean } {
  const K = model.cfg.classes;
  const n = Math.floor(t.evalN / batch) * batch;
  const evalOut = new Float32Array(n * K);
  const trainOut = new Float32Array(n * K);
  const saved = snapshotBuffers(model);
  for (const [mode, out] of [[false, evalOut], [true, trainOut]] as const) {
    model.setTraining(mode);
    for (let i = 0; i < n; i += batch) {
      model.forward(t.evalX.subarray(i * MLP_DIN, (i + batch) * MLP_DIN), t.evalY.subarray(i, i + batch), batch);
      out.set(model.logits.subarray(0, batch * K), i * K);
    }
  }
  model.setTraining(true);
  for (const [dst, src] of saved) dst.set(src);
  let num = 0;
  let den = 0;
  let bitwiseEqual = true;
  const ua = new Uint32Array(evalOut.buffer);
  const ub = new Uint32Array(trainOut.buffer);
  for (let i = 0; i < evalOut.length; i++) {
    num += (trainOut[i] - evalOut[i]) ** 2;
    den += evalOut[i] ** 2;
    if (ua[i] !== ub[i]) bitwiseEqual = false;
  }
  return { gap: Math.sqrt(num / Math.max(den, 1e-30)), bitwiseEqual };
}

function snapshotBuffers(model: ResidualMLP): [Float32Array, Float32Array][] {
  const out: [Float32Array, Float32Array][] = [];
  for (const b of model.blocks) for (const buf of b.norm?.module.buffers() ?? []) out.push([buf.value.data, buf.value.data.slice()]);
  for (const buf of model.finalNormModuleBuffers()) out.push([buf.value.data, buf.value.data.slice()]);
  return out;
}

export const batchnormBatchDependence: Experiment = {
  id: ID,
  title: "BatchNorm depends on the batch: small batches train worse and its train/eval outputs disagree more; LayerNorm does not",
  run(ctx: ExperimentContext): ClaimResult {
    const full = ctx.full;
    const batches = full ? [2, 4, 8, 16, 64] : [2, 8, 64];
    const seeds = full ? 4 : 2;
    const steps = full ? 500 : 150;
    const depth = 4;
    const lr = 3e-3;
    const logEvery = 10;
    const task = mlpTask(ctx.seed);
    const variants: MlpNorm[] = ["pre-bn", "pre-ln"];
    const runs = new Map<string, { result: TrainResult; gap: number; bitwise: boolean }[]>();
    for (const batch of batches) {
      for (const norm of variants) {
        const rs = [];
        for (let s = 0; s < seeds; s++) {
          const { model, result } = runMlp({ ctx, experiment: ID, norm, depth, batch, lr, steps, logEvery, seedIndex: s, task });
          const g = trainEvalGap(model, task, batch);
          rs.push({ result, gap: g.gap, bitwise: g.bitwiseEqual });
        }
        runs.set(`${norm}@${batch}`, rs);
      }
    }
    const gap = (norm: MlpNorm, b: number) => mean(runs.get(`${norm}@${b}`)!.map((r) => r.gap));
    // a diverged run has no held-out loss; it counts as +∞ (worse than any finished run)
    const heldOut = (norm: MlpNorm, b: number) => mean(runs.get(`${norm}@${b}`)!.map((r) => r.result.evalLoss ?? Infinity));
    const small = batches[0];
    const large = batches[batches.length - 1];
    const bnGapGrows = gap("pre-bn", small) >= 2 * gap("pre-bn", large);
    const lnBitwise = batches.every((b) => runs.get(`pre-ln@${b}`)!.every((r) => r.bitwise));
    const penaltySmall = heldOut("pre-bn", small) - heldOut("pre-ln", small);
    const penaltyLarge = heldOut("pre-bn", large) - heldOut("pre-ln", large);
    const noisier = penaltySmall > penaltyLarge;
    const verdict = bnGapGrows && lnBitwise ? (noisier ? "reproduced" : "inconclusive") : "not reproduced";

    const label = (n: MlpNorm) => (n === "pre-bn" ? "BatchNorm" : "LayerNorm");
    const gapRows = batches.flatMap((b) => variants.map((n): Record<string, number | string | null> => {
      const g = gap(n, b);
      return g > 0 ? { batch: b, gap: sig(g), norm: label(n) } : { batch: b, gap: null, norm: label(n), why: g === 0 ? "0 at this batch size: train and eval outputs bitwise equal" : "no value" };
    }));
    const charts: ChartSpec[] = [
      {
        id: "bn-train-eval-gap", title: "Train-mode vs eval-mode output disagreement of the trained model, RMS(train − eval logits) ÷ RMS(eval logits), by batch size", kind: "line",
        x: { field: "batch", title: "batch size", scale: "log" }, y: { field: "gap", title: "relative train/eval gap", scale: "log" },
        series: "norm", marker: "why", data: gapRows,
        caption: "LayerNorm's train and eval modes are the same computation, so its disagreement is exactly 0, which a log axis cannot draw.",
      },
      {
        id: "bn-heldout-loss", title: `Held-out loss after ${steps} steps, by batch size (mean over ${seeds} seeds)`, kind: "line",
        x: { field: "batch", title: "batch size", scale: "log" }, y: { field: "loss", title: "held-out loss (eval mode)" },
        series: "norm", marker: "why", data: batches.flatMap((b) => variants.map((n) => {
          const v = heldOut(n, b);
          return { batch: b, loss: Number.isFinite(v) ? sig(v) : null, norm: label(n), why: Number.isFinite(v) ? null : `diverged at batch ${b}` };
        })),
      },
      {
        id: "bn-loss-curves", title: "Training loss by batch size, mean and min–max over seeds", kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss", scale: "log" }, series: "norm", facet: "batch", band: true,
        data: batches.flatMap((b) => variants.flatMap((n) => curveRows(runs.get(`${n}@${b}`)!.map((r) => r.result), logEvery, { norm: label(n), batch: `batch ${b}` }))),
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = { "Depth, steps, seeds, learning rate": `${depth}, ${steps}, ${seeds}, ${lr}` };
    for (const b of batches) {
      evidence[`Batch ${b}: train/eval disagreement, BatchNorm · LayerNorm`] = `${formatNumber(gap("pre-bn", b))} · ${formatNumber(gap("pre-ln", b))}`;
      evidence[`Batch ${b}: held-out loss, BatchNorm · LayerNorm`] = `${formatNumber(heldOut("pre-bn", b))} · ${formatNumber(heldOut("pre-ln", b))}`;
    }
    evidence["LayerNorm: train and eval outputs bitwise equal at every batch size"] = lnBitwise;
    evidence[`BatchNorm's held-out penalty over LayerNorm at batch ${small}`] = sig(penaltySmall);
    evidence[`BatchNorm's held-out penalty over LayerNorm at batch ${large}`] = sig(penaltyLarge);
    return {
      id: ID,
      title: this.title,
      shortTitle: "BatchNorm depends on the batch size (and train ≠ eval); LayerNorm does not",
      explanation:
        `Depth-${depth} pre-norm residual MLPs with BatchNorm or LayerNorm, trained ${steps} steps at batch sizes ${batches.join(", ")} (AdamW, lr ${lr}, ${seeds} seeds). ` +
        "After training, each model's outputs on the held-out set are computed in eval mode (BatchNorm: running statistics) and in train mode with batches of the training size (BatchNorm: that batch's statistics). " +
        "Small batches give noisy batch statistics, so BatchNorm's two modes disagree more and its training is noisier; LayerNorm normalizes each sample alone.",
      verdict,
      rule:
        `Reproduced when (1) BatchNorm's train/eval disagreement at batch ${small} is ≥ 2× that at batch ${large}, (2) LayerNorm's train-mode and eval-mode outputs are bitwise equal at every batch size, ` +
        `and (3) BatchNorm's held-out-loss penalty over LayerNorm is larger at batch ${small} than at batch ${large}. (1) and (2) without (3): inconclusive; otherwise not reproduced.`,
      control: `LayerNorm models trained the same way at every batch size: the batch-size effect must be BatchNorm's, not small batches'. BatchNorm's held-out penalty over them: ${formatNumber(penaltySmall)} at batch ${small}, ${formatNumber(penaltyLarge)} at batch ${large}.`,
      evidence,
      charts,
      headline: `BatchNorm train/eval gap ${formatNumber(gap("pre-bn", small))} at batch ${small}, ${formatNumber(gap("pre-bn", large))} at ${large}; LayerNorm 0`,
      summary: `BatchNorm train/eval gap ${formatNumber(gap("pre-bn", small))} at batch ${small} vs ${formatNumber(gap("pre-bn", large))} at ${large}; LayerNorm's 0 (bitwise equal: ${lnBitwise ? "yes" : "no"}); BN−LN held-out ${formatNumber(penaltySmall)} vs ${formatNumber(penaltyLarge)}`,
    };
  },
};
