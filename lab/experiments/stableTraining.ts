/**
 * Claim 2 — stable, faster training. A learning-rate sweep of the residual MLP without
 * normalization (the textbook init, and the fair baseline: residual branches scaled 1/√(2L) at
 * init), and with pre-LN (full mode adds post-LN and pre-RMSNorm), several seeds each, counting
 * divergences and the steps to a target loss, each variant at its own best learning rate; plus
 * the GPT's loss curves. The verdict is judged against the fair baseline.
 */
import type { MlpInit, MlpNorm } from "../models/mlp.js";
import type { GptNorm } from "../models/gpt.js";
import { formatNumber } from "../report/format.js";
import { log } from "../train/math.js";
import { stepsToTarget, type TrainResult } from "../train/trainer.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { curveRows, gptRun, gptSettings, median, MLP_CLASSES, mlpTask, runMlp, sig, variantLabel } from "./common.js";

const ID = "stable-training";

type Variant = [MlpNorm, MlpInit];
const vkey = ([n, i]: Variant) => `${n}/${i}`;

export const stableTraining: Experiment = {
  id: ID,
  title: "With LayerNorm training is stable at learning rates where the unnormalized model diverges, and reaches a target loss sooner",
  run(ctx: ExperimentContext): ClaimResult {
    const full = ctx.full;
    const plain: Variant = ["none", "standard"];
    const fair: Variant = ["none", "scaled"];
    const preLn: Variant = ["pre-ln", "standard"];
    const variants: Variant[] = full ? [plain, fair, preLn, ["post-ln", "standard"], ["pre-rms", "standard"]] : [plain, fair, preLn];
    const lrs = full ? [1e-3, 3e-3, 1e-2, 3e-2, 1e-1] : [1e-3, 3e-3, 1e-2, 1e-1];
    const seeds = 3;
    const depth = full ? 16 : 8;
    const steps = full ? 200 : 120;
    const logEvery = 10;
    const batch = 32;
    const target = 0.5 * log(MLP_CLASSES);
    const task = mlpTask(ctx.seed);
    const results = new Map<string, TrainResult[]>();
    for (const lr of lrs) {
      for (const v of variants) {
        const rs: TrainResult[] = [];
        for (let s = 0; s < seeds; s++) rs.push(runMlp({ ctx, experiment: ID, norm: v[0], init: v[1], depth, batch, lr, steps, logEvery, seedIndex: s, task }).result);
        results.set(`${vkey(v)}@${lr}`, rs);
      }
    }
    const runs = (v: Variant, lr: number) => results.get(`${vkey(v)}@${lr}`)!;
    const diverged = (v: Variant, lr: number) => runs(v, lr).filter((r) => r.diverged).length;
    // a diverged run or one that never reaches the target counts as never (∞)
    const medSteps = (v: Variant, lr: number) =>
      median(runs(v, lr).map((r) => (r.diverged ? Infinity : stepsToTarget(r.losses, logEvery, target) ?? Infinity)));
    /** the variant at its own best learning rate: fewest median steps to the target */
    const best = (v: Variant) => {
      let lr = lrs[0];
      for (const l of lrs) if (medSteps(v, l) < medSteps(v, lr)) lr = l;
      return { lr, steps: medSteps(v, lr) };
    };
    const judge = (baseline: Variant) => {
      const unstableLrs = lrs.filter((lr) => diverged(baseline, lr) >= seeds / 2 && diverged(preLn, lr) === 0);
      const b = best(baseline);
      const p = best(preLn);
      const stable = unstableLrs.length > 0;
      const faster = p.steps < b.steps;
      return { unstableLrs, stable, faster, base: b, pre: p, verdict: stable && faster ? "reproduced" : stable || faster ? "inconclusive" : "not reproduced" } as const;
    };
    const vsFair = judge(fair);
    const vsPlain = judge(plain);
    const verdict = vsFair.verdict;

    // GPT: the same comparison at one learning rate, as supporting curves
    const gst = gptSettings(full);
    const gptVariants: GptNorm[] = ["none", "post-ln", "pre-ln"];
    const gptRuns = gptVariants.map((norm) => ({ norm, runs: Array.from({ length: gst.seeds }, (_, s) => gptRun(ctx, norm, s, ID)) }));

    const stepsText = (v: number) => (Number.isFinite(v) ? formatNumber(v) : "never");
    const label = (v: Variant) => variantLabel(v[0], v[1]);
    const curveData = lrs.flatMap((lr) =>
      variants.flatMap((v) => {
        const rows = curveRows(runs(v, lr), logEvery, { variant: label(v), lr: `lr ${lr}` });
        // every seed diverged before its first logged window: say so instead of drawing nothing
        if (rows.length === 0) return [{ step: logEvery, loss: null, variant: label(v), lr: `lr ${lr}`, why: `all ${seeds} seeds diverged within ${logEvery} steps` }];
        const d = runs(v, lr).filter((r) => r.diverged);
        if (d.length > 0) rows[0].why = `${d.length} of ${seeds} seeds diverged (by step ${Math.max(...d.map((r) => (r.divergedAt ?? 0) + 1))}); the curve averages the seeds still running`;
        return rows;
      }),
    );
    const divData = lrs.flatMap((lr) => variants.map((v) => ({ lr: String(lr), variant: label(v), diverged: diverged(v, lr) / seeds })));
    const stepsData = lrs.flatMap((lr) => variants.map((v) => {
      const m = medSteps(v, lr);
      return { lr: String(lr), variant: label(v), steps: Number.isFinite(m) ? m : null, why: Number.isFinite(m) ? null : diverged(v, lr) >= seeds / 2 ? "diverged" : "never" };
    }));
    const gptData = gptRuns.flatMap((g) => curveRows(g.runs.map((r) => r.result), gst.logEvery, { variant: variantLabel(g.norm) }));
    const charts: ChartSpec[] = [
      {
        id: "mlp-steps-to-target", title: `Residual MLP (depth ${depth}): median steps to reach loss ${target.toFixed(3)}, by learning rate`, kind: "bar",
        x: { field: "lr", title: "learning rate" }, y: { field: "steps", title: "median steps to the target" }, series: "variant", marker: "why", data: stepsData,
        caption: `"never": the median seed did not reach ${target.toFixed(3)} (½·ln ${MLP_CLASSES}) within ${steps} steps; "diverged": at least half the seeds diverged. Each variant is judged at its own best learning rate.`,
      },
      {
        id: "mlp-divergence", title: "Fraction of seeds that diverged (NaN/Inf, or loss above 3× its initial value)", kind: "bar",
        x: { field: "lr", title: "learning rate" }, y: { field: "diverged", title: "fraction diverged" }, series: "variant", data: divData,
      },
      {
        id: "mlp-loss-by-lr", title: `Residual MLP (depth ${depth}): training loss, mean and min–max over ${seeds} seeds`, kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss", scale: "log" },
        series: "variant", facet: "lr", band: true, marker: "why", data: curveData,
        caption: "A diverged seed's curve stops where divergence was detected.",
      },
      {
        id: "gpt-loss", title: `Char-level GPT (${gst.layers} layers, lr ${gst.lr}): training loss, mean and min–max over ${gst.seeds} seeds`, kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss" }, series: "variant", band: true, data: gptData,
      },
    ];
    const lrList = (a: readonly number[]) => a.join(", ") || "none";
    const evidence: Record<string, number | string | boolean | null> = {
      "Depth, seeds, steps": `${depth}, ${seeds}, ${steps}`,
      "Target loss": sig(target),
      "Verdict judged against": "the fair baseline (no norm, residual branches scaled 1/√(2L))",
      "Fair baseline: learning rates where it diverges and pre-LN does not": lrList(vsFair.unstableLrs),
      "Plain baseline: learning rates where it diverges and pre-LN does not": lrList(vsPlain.unstableLrs),
      "Pre-LN: fewest median steps to the target (its best lr)": `${stepsText(vsFair.pre.steps)} (lr ${vsFair.pre.lr})`,
      "Fair baseline: fewest median steps to the target (its best lr)": `${stepsText(vsFair.base.steps)} (lr ${vsFair.base.lr})`,
      "Plain baseline: fewest median steps to the target (its best lr)": `${stepsText(vsPlain.base.steps)} (lr ${vsPlain.base.lr})`,
      "Verdict against the plain baseline (shown, not used)": vsPlain.verdict,
    };
    for (const v of variants) evidence[`Diverged seeds, ${label(v)}, lr ${lrs.join(" / ")}`] = lrs.map((lr) => `${diverged(v, lr)}/${seeds}`).join(" · ");
    for (const g of gptRuns) {
      const ev = g.runs.map((r) => r.result.evalLoss).filter((v): v is number => v !== null);
      const meanLoss = ev.length ? formatNumber(ev.reduce((a, b) => a + b, 0) / ev.length) : "—";
      evidence[`GPT ${variantLabel(g.norm)}: mean held-out loss (seeds diverged)`] = `${meanLoss} (${g.runs.filter((r) => r.result.diverged).length}/${g.runs.length})`;
    }
    const say = (j: typeof vsFair) =>
      `diverges where pre-LN does not at lr ${lrList(j.unstableLrs)}; best steps to target: pre-LN ${stepsText(j.pre.steps)} vs ${stepsText(j.base.steps)}`;
    return {
      id: ID,
      title: this.title,
      shortTitle: "LayerNorm: stable at higher learning rates, reaches a target loss sooner",
      explanation:
        `Residual MLPs of depth ${depth} (width 32) trained ${steps} steps (batch ${batch}, AdamW, no warm-up, no gradient clipping) at learning rates ${lrs.join(", ")}, ${seeds} seeds each: ` +
        `without normalization with the textbook init (the plain baseline), without normalization with each residual branch's output weights scaled 1/√(2L) at init (the fair baseline: GPT-2's rule, which keeps the stream's scale bounded), and with ${variants.slice(2).map(label).join(", ")}. ` +
        `A run diverges when its loss or gradient becomes NaN/Inf or a logged (10-step mean) loss exceeds 3× its loss at step 0; it is stopped and reported. ` +
        `The char-level GPT runs (${gst.seeds} seeds, lr ${gst.lr}) are shown for comparison.`,
      verdict,
      rule:
        "Judged against the fair baseline. (stable) At some learning rate at least half of the baseline's seeds diverge while no pre-LN seed does; " +
        `(faster) pre-LN's fewest median steps to loss ${target.toFixed(3)}, at its own best learning rate, are fewer than the baseline's at its own best (a diverged or never-reaching seed counts as never). ` +
        "Both → reproduced; one → inconclusive; neither → not reproduced. The plain baseline is judged the same way and shown; the GPT curves are shown, not scored.",
      control: `The fair no-norm baseline: ${say(vsFair)} (its best lr ${vsFair.base.lr}). Against the plain baseline the verdict would be ${vsPlain.verdict}: ${say(vsPlain)}.`,
      evidence,
      charts,
      headline: `vs the fair baseline: ${vsFair.stable ? "more stable" : "not more stable"}; steps to target ${stepsText(vsFair.pre.steps)} (pre-LN) vs ${stepsText(vsFair.base.steps)} (fair), ${stepsText(vsPlain.base.steps)} (plain)`,
      summary: `vs the fair no-norm baseline: ${say(vsFair)}`,
    };
  },
};
