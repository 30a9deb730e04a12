/**
 * Zhang & Sennrich 2019, "Root Mean Square Layer Normalization": RMSNorm cut the running time of
 * their models by 7 %–64 % against LayerNorm. Here: the speed-up of normkit's RMSNorm over its
 * LayerNorm (forward + backward) on both CPU backends, and what it is worth in the lab's GPT step.
 * The timings are the ones claim 5 measured (timing.ts), not a second measurement.
 */
import { formatNumber, percent } from "../report/format.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { sig } from "./common.js";
import { normCostInputs } from "./rmsnormCost.js";
import { scoredShape } from "./timing.js";

const ID = "zhang-sennrich-2019";
const PAPER_LOW = 0.07;
const PAPER_HIGH = 0.64;

export const zhangSennrich2019: Experiment = {
  id: ID,
  title: "Zhang & Sennrich 2019: RMSNorm runs 7–64 % faster than LayerNorm",
  run(ctx: ExperimentContext): ClaimResult {
    const { plan, timings, gst, ln, rms } = normCostInputs(ctx, ID);
    const speedup = (ratio: number) => 1 - ratio;
    const scored = timings.filter(scoredShape);
    const inRange = scored.every((t) => speedup(t.ratio) >= PAPER_LOW);
    const faster = scored.every((t) => speedup(t.ratio) > 0);
    const verdict = inRange ? "reproduced" : faster ? "inconclusive" : "not reproduced";
    // what the operation's speed-up is worth in a whole training step: the norms' share times it
    const opSpeedup = (b: string) => {
      const big = scored.filter((t) => t.backend === b);
      return big.length ? big.reduce((s, t) => s + speedup(t.ratio), 0) / big.length : NaN;
    };
    const main = plan.backends[0];
    const stepEstimate = ln.share * opSpeedup(main);
    const stepMeasured = (ln.stepMs - rms.stepMs) / ln.stepMs;
    const shape = (t: { rows: number; D: number }) => `[${t.rows}, ${t.D}]`;
    const data: Record<string, number | string | null>[] = [
      { where: "paper's models", speedup: 100 * PAPER_LOW, source: "paper, lowest" },
      { where: "paper's models", speedup: 100 * PAPER_HIGH, source: "paper, highest" },
      ...scored.map((t) => ({ where: shape(t), speedup: sig(100 * speedup(t.ratio)), source: `normkit ${t.backend}` })),
      { where: "lab GPT step (estimate)", speedup: sig(100 * stepEstimate), source: `normkit ${main}` },
    ];
    const charts: ChartSpec[] = [
      {
        id: "rmsnorm-speedup", title: "Time saved by RMSNorm over LayerNorm: the paper's range beside normkit's, per shape and backend", kind: "bar",
        x: { field: "where", title: "" }, y: { field: "speedup", title: "% less time than LayerNorm" }, series: "source", data,
        caption: `The paper's numbers are whole models' running times; normkit's are the forward + backward of the operation at shapes of at least 65,536 elements, and the estimate for the lab's ${gst.layers}-layer GPT step is the norms' share of it (${percent(ln.share)}) times the ${main} speed-up.`,
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = { "The paper's range": "7 %–64 % less running time (whole models)" };
    for (const t of timings) evidence[`${t.backend}, ${shape(t)}: time saved by RMSNorm${scoredShape(t) ? "" : " (not scored)"}`] = percent(speedup(t.ratio));
    Object.assign(evidence, {
      "Norms' share of the pre-LN GPT's step": percent(ln.share),
      "GPT step: estimated time saved (share × speed-up)": percent(stepEstimate),
      "GPT step: measured time saved, pre-LN vs pre-RMSNorm runs (different runs, noisy)": percent(stepMeasured),
    });
    const range = (b: string) => scored.filter((t) => t.backend === b).map((t) => percent(speedup(t.ratio))).join(", ");
    return {
      id: ID,
      title: this.title,
      shortTitle: "Zhang & Sennrich 2019: RMSNorm 7–64 % faster",
      kind: "paper",
      source: "Biao Zhang and Rico Sennrich, Root Mean Square Layer Normalization, NeurIPS 2019",
      explanation:
        "The paper replaces LayerNorm by RMSNorm in RNN and Transformer models and reports 7 %–64 % less running time for the same quality. " +
        `Their models spent a large share of their time in normalization (RNNs normalize at every time step); the lab's GPT spends ${percent(ln.share)} of its step there, so the whole-model saving here is necessarily small. ` +
        `We therefore compare the operation itself — normkit's RMSNorm against its LayerNorm, forward + backward — on the ${plan.backends.join(" and ")} backends, and show what it is worth in the GPT's step. ` +
        "The timings are claim 5's; they are wall-clock times on this machine, so they vary between runs and under load.",
      verdict,
      rule:
        "Reproduced when, on every backend and at every timed shape of at least 65,536 elements, RMSNorm's time saved over LayerNorm (1 − the median time ratio) is at least the paper's lowest, 7 %; " +
        "inconclusive when RMSNorm is faster everywhere but saves less than 7 % somewhere; not reproduced when it is not faster at some shape. The whole-step saving of the lab's GPT is shown, not scored.",
      evidence,
      charts,
      headline: `op ${plan.backends.map((b) => `${b} ${range(b)}`).join("; ")}; GPT step ≈ ${percent(stepEstimate)}`,
      summary: `time saved ${plan.backends.map((b) => `${b} ${range(b)}`).join("; ")} vs the paper's 7–64 %; GPT step ≈ ${percent(stepEstimate)} (norms are ${percent(ln.share)} of it)`,
    };
  },
};
