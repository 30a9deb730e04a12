/**
 * Claim 5 — RMSNorm is cheaper with comparable quality. Times normkit's RMSNorm and LayerNorm
 * modules (forward + backward, PyTorch-default configurations) at several shapes on both
 * synchronous backends (wasm, js: the control — a speed-up that only one implementation shows is a
 * fact about that implementation), alternating the two and taking medians; their share of the GPT's
 * training step; and the final held-out losses of pre-LN and pre-RMSNorm GPTs trained with the
 * same seeds.
 */
import { formatNumber, percent } from "../report/format.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { gptRun, gptSettings, mean, sig, std, variantLabel } from "./common.js";
import { normTimings, scoredShape, timingPlan } from "./timing.js";

const ID = "rmsnorm-cost";

/** The pre-LN and pre-RMSNorm GPTs' losses and the norms' share of their steps (also read by zhangSennrich2019). */
export function gptNormCost(ctx: ExperimentContext, caller: string) {
  const gst = gptSettings(ctx.full);
  return (["pre-ln", "pre-rms"] as const).map((norm) => {
    const runs = Array.from({ length: gst.seeds }, (_, s) => gptRun(ctx, norm, s, caller));
    const losses = runs.map((r) => r.result.evalLoss ?? Infinity);
    return {
      norm, runs, losses, meanLoss: mean(losses), sdLoss: std(losses),
      share: mean(runs.map((r) => r.normMs / r.stepMs)),
      normMs: mean(runs.map((r) => r.normMs / r.result.stepsDone)),
      stepMs: mean(runs.map((r) => r.stepMs / r.result.stepsDone)),
    };
  });
}

/** What claim 5 and Zhang & Sennrich read: the timing plan, its timings, the GPT settings and the two GPTs' costs. */
export function normCostInputs(ctx: ExperimentContext, caller: string) {
  const [ln, rms] = gptNormCost(ctx, caller);
  return { plan: timingPlan(ctx.full), timings: normTimings(ctx), gst: gptSettings(ctx.full), ln, rms };
}

export const rmsnormCost: Experiment = {
  id: ID,
  title: "RMSNorm is cheaper than LayerNorm with comparable quality",
  run(ctx: ExperimentContext): ClaimResult {
    const { plan, timings, gst, ln, rms: rmsG } = normCostInputs(ctx, ID);

    const scored = timings.filter(scoredShape);
    const cheaperOn = (b: string) => scored.filter((t) => t.backend === b).every((t) => t.ratio < 1);
    const cheaper = plan.backends.every(cheaperOn);
    const slower = scored.some((t) => t.ratio > 1.05);
    const lossDiff = rmsG.meanLoss - ln.meanLoss;
    const comparable = Number.isFinite(lossDiff) && Math.abs(lossDiff) <= 0.05 * ln.meanLoss;
    const verdict = cheaper && comparable ? "reproduced" : !slower && !cheaper && comparable ? "inconclusive" : "not reproduced";
    const shape = (t: { rows: number; D: number }) => `[${t.rows}, ${t.D}]`;
    const ratiosOn = (b: string) => timings.filter((t) => t.backend === b).map((t) => `${formatNumber(t.ratio)} at ${shape(t)}`).join(", ");

    const charts: ChartSpec[] = [
      {
        id: "norm-timing", title: "normkit forward + backward time per call (median of alternating rounds), by backend", kind: "bar",
        x: { field: "shape", title: "input shape [rows, D]" }, y: { field: "us", title: "µs per forward + backward", scale: "log" }, series: "norm", facet: "backend",
        data: timings.flatMap((t) => [
          { shape: shape(t), us: sig(t.ln), norm: "LayerNorm", backend: t.backend },
          { shape: shape(t), us: sig(t.rms), norm: "RMSNorm", backend: t.backend },
        ]),
      },
      {
        id: "norm-time-ratio", title: "RMSNorm's time ÷ LayerNorm's, per shape and backend (below 1: RMSNorm is cheaper)", kind: "bar",
        x: { field: "shape", title: "input shape [rows, D]" }, y: { field: "ratio", title: "time ratio, RMSNorm ÷ LayerNorm" }, series: "backend",
        data: timings.map((t) => ({ shape: shape(t), ratio: sig(t.ratio), backend: t.backend })),
        caption: "Shapes under 65,536 elements are shown, not scored: per-call overhead (validation) is the same for both and dominates them.",
      },
      {
        id: "norm-step-share", title: "Share of the GPT's training step (forward + backward) spent in normkit's norms", kind: "bar",
        x: { field: "variant", title: "model" }, y: { field: "percent", title: "% of step time" },
        data: [ln, rmsG].map((g) => ({ variant: variantLabel(g.norm), percent: sig(100 * g.share) })),
      },
      {
        id: "gpt-final-loss", title: `Held-out loss of the char-level GPT after ${gst.steps} steps (${gst.seeds} seeds)`, kind: "point",
        x: { field: "variant", title: "model" }, y: { field: "loss", title: "held-out loss" }, series: "seed",
        data: [ln, rmsG].flatMap((g) => g.losses.map((l, s) => ({ variant: variantLabel(g.norm), loss: Number.isFinite(l) ? sig(l) : null, seed: `seed #${s}` }))),
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = { "Rounds per shape": plan.rounds, Backends: plan.backends.join(", ") };
    for (const t of timings) {
      evidence[`${t.backend}, ${shape(t)}: µs per call, LayerNorm · RMSNorm (ratio)`] = `${formatNumber(t.ln)} · ${formatNumber(t.rms)} (${formatNumber(t.ratio)})`;
    }
    Object.assign(evidence, {
      "GPT held-out loss, pre-LN (mean ± sd)": `${formatNumber(ln.meanLoss)} ± ${formatNumber(ln.sdLoss)}`,
      "GPT held-out loss, pre-RMSNorm (mean ± sd)": `${formatNumber(rmsG.meanLoss)} ± ${formatNumber(rmsG.sdLoss)}`,
      "Held-out loss, pre-RMSNorm − pre-LN": sig(lossDiff),
      "Norms' share of a GPT step, pre-LN · pre-RMSNorm": `${percent(ln.share)} · ${percent(rmsG.share)}`,
      "GPT ms per training step, pre-LN · pre-RMSNorm": `${formatNumber(ln.stepMs)} · ${formatNumber(rmsG.stepMs)}`,
    });
    return {
      id: ID,
      title: this.title,
      shortTitle: "RMSNorm is cheaper than LayerNorm with comparable quality",
      explanation:
        "RMSNorm skips the mean: one reduction fewer per row forward and backward, and no bias by default. We time normkit's LayerNorm (with bias) and RMSNorm (without) modules, forward plus backward into reused output buffers, " +
        `at shapes ${plan.shapes.map(([r, d]) => `[${r}, ${d}]`).join(", ")} on the ${plan.backends.join(" and ")} backends (${plan.rounds} alternating rounds, medians; wall-clock time on this machine, so noisy under load and not deterministic for a seed), measure their share of the ${gst.layers}-layer GPT's training step, ` +
        `and compare the held-out losses of pre-LN and pre-RMSNorm GPTs trained ${gst.steps} steps with the same seeds.`,
      verdict,
      rule:
        "Cheaper: on every backend, at every timed shape of at least 65,536 elements, the median over rounds of RMSNorm's time / LayerNorm's time is below 1. Comparable quality: the pre-RMSNorm GPT's mean held-out loss is within 5 % of the pre-LN GPT's. " +
        "Both → reproduced; comparable quality and no scored ratio above 1.05 but not all below 1 → inconclusive; otherwise not reproduced.",
      control: `The same timing on a second implementation, so that the verdict is about the operation rather than one backend's code: RMSNorm ÷ LayerNorm ${plan.backends.map((b) => `${b}: ${ratiosOn(b)}`).join("; ")}.`,
      evidence,
      charts,
      headline: `time ratio ${plan.backends.map((b) => `${b} ${scored.filter((t) => t.backend === b).map((t) => formatNumber(t.ratio)).join("/")}`).join(", ")}; held-out loss ${formatNumber(rmsG.meanLoss)} vs ${formatNumber(ln.meanLoss)}`,
      summary: `RMSNorm ÷ LayerNorm time ${plan.backends.map((b) => `${b} ${scored.filter((t) => t.backend === b).map((t) => formatNumber(t.ratio)).join("/")}`).join(", ")} (scored shapes); held-out loss pre-RMS ${formatNumber(rmsG.meanLoss)} vs pre-LN ${formatNumber(ln.meanLoss)}; norms are ${percent(ln.share)} of a pre-LN step`,
    };
  },
};
