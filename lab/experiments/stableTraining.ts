/**
 * Claim 2 — stable, faster training. A learning-rate sweep of the residual MLP without
 * normalization and with pre-LN (full mode adds post-LN and pre-RMSNorm), several seeds each,
 * counting divergences and the steps to a target loss; plus the GPT's loss curves.
 */
import type { MlpNorm } from "../models/mlp.js";
import type { GptNorm } from "../models/gpt.js";
import { log } from "../train/math.js";
import { stepsToTarget, type TrainResult } from "../train/trainer.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { curveRows, gptRun, gptSettings, median, MLP_CLASSES, mlpTask, runMlp, sig } from "./common.js";

const ID = "stable-training";

export const stableTraining: Experiment = {
  id: ID,
  title: "With LayerNorm training is stable at learning rates where the unnormalized model diverges, and reaches a target loss sooner",
  run(ctx: ExperimentContext): ClaimResult {
    const full = ctx.full;
    const variants: MlpNorm[] = full ? ["none", "pre-ln", "post-ln", "pre-rms"] : ["none", "pre-ln"];
    const lrs = full ? [1e-3, 1e-2, 3e-2, 1e-1] : [1e-3, 1e-2, 1e-1];
    const seeds = full ? 4 : 3;
    const depth = full ? 16 : 8;
    const steps = full ? 200 : 120;
    const logEvery = 10;
    const batch = 32;
    const target = 0.5 * log(MLP_CLASSES);
    const task = mlpTask(ctx.seed);
    const results = new Map<string, TrainResult[]>();
    for (const lr of lrs) {
      for (const norm of variants) {
        const rs: TrainResult[] = [];
        for (let s = 0; s < seeds; s++) rs.push(runMlp({ ctx, experiment: ID, norm, depth, batch, lr, steps, logEvery, seedIndex: s, task }).result);
        results.set(`${norm}@${lr}`, rs);
      }
    }
    const divFrac = (norm: MlpNorm, lr: number) => results.get(`${norm}@${lr}`)!.filter((r) => r.diverged).length / seeds;
    // a diverged run or one that never reaches the target counts as never (∞)
    const medSteps = (norm: MlpNorm, lr: number) =>
      median(results.get(`${norm}@${lr}`)!.map((r) => (r.diverged ? Infinity : stepsToTarget(r.losses, logEvery, target) ?? Infinity)));
    const best = (norm: MlpNorm) => Math.min(...lrs.map((lr) => medSteps(norm, lr)));

    const lrsWhereOnlyNoneDiverges = lrs.filter((lr) => divFrac("none", lr) >= 0.5 && divFrac("pre-ln", lr) === 0);
    const stable = lrsWhereOnlyNoneDiverges.length > 0;
    const bestNone = best("none");
    const bestLn = best("pre-ln");
    const faster = bestLn < bestNone;
    const verdict = stable && faster ? "reproduced" : stable || faster ? "inconclusive" : "not reproduced";

    // GPT: the same comparison at one learning rate, as supporting curves
    const gst = gptSettings(full);
    const gptVariants: GptNorm[] = ["none", "post-ln", "pre-ln"];
    const gptRuns = gptVariants.map((norm) => ({ norm, runs: Array.from({ length: gst.seeds }, (_, s) => gptRun(ctx, norm, s, ID)) }));

    const curveData = lrs.flatMap((lr) => variants.flatMap((norm) => curveRows(results.get(`${norm}@${lr}`)!, logEvery, { variant: norm, lr: `lr ${lr}` })));
    const divData = lrs.flatMap((lr) => variants.map((norm) => ({ lr: String(lr), variant: norm, diverged: divFrac(norm, lr) })));
    const stepsData = lrs.flatMap((lr) => variants.map((norm) => {
      const m = medSteps(norm, lr);
      return { lr: String(lr), variant: norm, steps: Number.isFinite(m) ? m : null };
    }));
    const gptData = gptRuns.flatMap((g) => curveRows(g.runs.map((r) => r.result), gst.logEvery, { variant: g.norm }));
    const charts: ChartSpec[] = [
      {
        id: "mlp-loss-by-lr", title: `Residual MLP (depth ${depth}): training loss, mean and min–max over ${seeds} seeds`, kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss (mean of each 10-step window)", scale: "log" },
        series: "variant", facet: "lr", band: true, data: curveData,
        caption: `A diverged seed's curve stops where divergence was detected. Target loss for the steps-to-target chart: ${target.toFixed(3)} (½·ln ${MLP_CLASSES}).`,
      },
      {
        id: "mlp-divergence", title: "Fraction of seeds that diverged (NaN/Inf, or loss > 3× its initial value)", kind: "bar",
        x: { field: "lr", title: "learning rate" }, y: { field: "diverged", title: "fraction diverged" }, series: "variant", data: divData,
      },
      {
        id: "mlp-steps-to-target", title: `Median steps to reach loss ${target.toFixed(3)} (missing: not reached or diverged)`, kind: "bar",
        x: { field: "lr", title: "learning rate" }, y: { field: "steps", title: "steps" }, series: "variant", data: stepsData,
      },
      {
        id: "gpt-loss", title: `Char-level GPT (${gst.layers} layers, lr ${gst.lr}): training loss, mean and min–max over ${gst.seeds} seeds`, kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss" }, series: "variant", band: true, data: gptData,
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = {
      depth, seeds, steps, targetLoss: sig(target),
      lrsWhereNoNormDivergesAndPreLnDoesNot: lrsWhereOnlyNoneDiverges.join(", ") || "none",
      bestMedianStepsToTarget_noNorm: Number.isFinite(bestNone) ? bestNone : "never",
      bestMedianStepsToTarget_preLN: Number.isFinite(bestLn) ? bestLn : "never",
    };
    for (const lr of lrs) for (const norm of variants) evidence[`diverged_${norm}_lr${lr}`] = `${divFrac(norm, lr) * seeds}/${seeds}`;
    for (const g of gptRuns) {
      const ev = g.runs.map((r) => r.result.evalLoss).filter((v): v is number => v !== null);
      evidence[`gpt_${g.norm}_heldOutLoss_mean`] = ev.length ? sig(ev.reduce((a, b) => a + b, 0) / ev.length) : null;
      evidence[`gpt_${g.norm}_diverged`] = `${g.runs.filter((r) => r.result.diverged).length}/${g.runs.length}`;
    }
    return {
      id: ID,
      title: this.title,
      explanation:
        `Residual MLPs of depth ${depth} (width 32) trained ${steps} steps (batch ${batch}, AdamW, no warmup, no gradient clipping) at learning rates ${lrs.join(", ")}, ${seeds} seeds each, ` +
        `without normalization and with ${variants.slice(1).join(", ")}. A run diverges when its loss or gradient becomes NaN/Inf or a logged (10-step mean) loss exceeds 3× its loss at step 0; it is stopped and reported. ` +
        `The char-level GPT runs (${gst.seeds} seeds, lr ${gst.lr}) are shown for comparison.`,
      verdict,
      rule:
        "Two checks on the MLP sweep: (stable) at some learning rate at least half of the unnormalized seeds diverge while no pre-LN seed does; " +
        `(faster) pre-LN's fewest median steps to reach loss ${target.toFixed(3)} over the learning rates is smaller than the unnormalized model's (a diverged or never-reaching seed counts as never). ` +
        "Both → reproduced; one → inconclusive; neither → not reproduced. The GPT curves are shown, not scored.",
      evidence,
      charts,
      summary: `${verdict}: no-norm diverges where pre-LN does not at lr ${lrsWhereOnlyNoneDiverges.join(", ") || "(none)"}; steps to target: pre-LN ${Number.isFinite(bestLn) ? bestLn : "never"} vs no-norm ${Number.isFinite(bestNone) ? bestNone : "never"}`,
    };
  },
};
