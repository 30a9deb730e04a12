/**
 * Claim 5 — RMSNorm is cheaper with comparable quality. Times normkit's RMSNorm and LayerNorm
 * modules (forward + backward, PyTorch-default configurations) at several shapes, alternating the
 * two and taking medians; their share of the GPT's training step; and the final held-out losses of
 * pre-LN and pre-RMSNorm GPTs trained with the same seeds.
 */
import { LayerNorm, RMSNorm, tensor } from "../../src/index.js";
import { deriveSeed, Rng } from "../train/rng.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { gptRun, gptSettings, mean, median, sig, std } from "./common.js";

const ID = "rmsnorm-cost";

/**
 * Median µs per forward+backward of each module over alternating rounds of ~targetMs each, and the
 * median of the per-round ratios (each round's pair runs back to back, so a load change between
 * rounds cancels out of its ratio).
 */
function timeNorms(rows: number, D: number, rounds: number, targetMs: number, rng: Rng): { ln: number; rms: number; ratio: number } {
  const x = tensor(rng.fillNormal(new Float32Array(rows * D), 1), [rows, D]);
  const dy = tensor(rng.fillNormal(new Float32Array(rows * D), 1), [rows, D]);
  const mods = { ln: new LayerNorm(D), rms: new RMSNorm(D) };
  // y and dx into reused buffers: without them each call allocates (and zero-fills) 2 arrays of
  // x's size, and the garbage collector's pauses land on whichever norm runs, drowning the difference
  const y = tensor(new Float32Array(rows * D), [rows, D]), dx = tensor(new Float32Array(rows * D), [rows, D]);
  const once = (m: LayerNorm | RMSNorm) => {
    m.forward(x, { out: y });
    m.backward(dy, { out: dx });
  };
  // warm up (JIT) and size the inner loop so one round takes about targetMs
  let t0 = performance.now();
  let iters = 0;
  while (performance.now() - t0 < targetMs) {
    once(mods.ln);
    once(mods.rms);
    iters++;
  }
  // at least 3 calls per round, so one stall does not decide a round
  iters = Math.max(3, Math.ceil(iters / 2));
  const ln: number[] = [];
  const rms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which goes first, so drift in machine load hits both alike
    const order = r % 2 === 0 ? (["ln", "rms"] as const) : (["rms", "ln"] as const);
    for (const k of order) {
      t0 = performance.now();
      for (let i = 0; i < iters; i++) once(mods[k]);
      (k === "ln" ? ln : rms).push(((performance.now() - t0) * 1000) / iters);
    }
  }
  return { ln: median(ln), rms: median(rms), ratio: median(rms.map((v, i) => v / ln[i])) };
}

export const rmsnormCost: Experiment = {
  id: ID,
  title: "RMSNorm is cheaper than LayerNorm with comparable quality",
  run(ctx: ExperimentContext): ClaimResult {
    const rng = new Rng(deriveSeed(ctx.seed, ID));
    const shapes: [number, number][] = ctx.full ? [[256, 32], [2048, 256], [4096, 1024], [1024, 4096]] : [[256, 32], [2048, 256], [4096, 1024]];
    const rounds = ctx.full ? 21 : 11;
    const targetMs = ctx.full ? 40 : 20;
    const timings = shapes.map(([rows, D]) => {
      ctx.progress.log(`timing LayerNorm vs RMSNorm forward+backward at [${rows}, ${D}]`);
      return { rows, D, ...timeNorms(rows, D, rounds, targetMs, rng) };
    });
    const gst = gptSettings(ctx.full);
    const gpts = (["pre-ln", "pre-rms"] as const).map((norm) => {
      const runs = Array.from({ length: gst.seeds }, (_, s) => gptRun(ctx, norm, s, ID));
      const losses = runs.map((r) => r.result.evalLoss ?? Infinity);
      const share = mean(runs.map((r) => r.normMs / r.stepMs));
      return { norm, runs, losses, meanLoss: mean(losses), sdLoss: std(losses), share, normMs: mean(runs.map((r) => r.normMs / r.result.stepsDone)), stepMs: mean(runs.map((r) => r.stepMs / r.result.stepsDone)) };
    });
    const [ln, rmsG] = gpts;

    // the rule looks at shapes big enough to be compute-bound; at tiny ones the per-call overhead
    // (validation, output allocation) is the same for both and dominates
    const scored = timings.filter((t) => t.rows * t.D >= 1 << 16);
    const ratios = timings.map((t) => t.ratio);
    const cheaper = scored.every((t) => t.ratio < 1);
    const slower = scored.some((t) => t.ratio > 1.05);
    const lossDiff = rmsG.meanLoss - ln.meanLoss;
    const comparable = Number.isFinite(lossDiff) && Math.abs(lossDiff) <= 0.05 * ln.meanLoss;
    const verdict = cheaper && comparable ? "reproduced" : !slower && !cheaper && comparable ? "inconclusive" : "not reproduced";

    const charts: ChartSpec[] = [
      {
        id: "norm-timing", title: "normkit forward + backward time per call (median of alternating rounds)", kind: "bar",
        x: { field: "shape", title: "input shape [rows, D]" }, y: { field: "us", title: "µs per forward+backward", scale: "log" }, series: "norm",
        data: timings.flatMap((t) => [
          { shape: `[${t.rows}, ${t.D}]`, us: sig(t.ln), norm: "LayerNorm" },
          { shape: `[${t.rows}, ${t.D}]`, us: sig(t.rms), norm: "RMSNorm" },
        ]),
      },
      {
        id: "norm-step-share", title: "Share of the GPT's training step (forward + backward) spent in normkit's norms", kind: "bar",
        x: { field: "variant", title: "model" }, y: { field: "percent", title: "% of step time" },
        data: gpts.map((g) => ({ variant: g.norm, percent: sig(100 * g.share) })),
      },
      {
        id: "gpt-final-loss", title: `Held-out loss of the char-level GPT after ${gst.steps} steps (${gst.seeds} seeds)`, kind: "point",
        x: { field: "variant", title: "model" }, y: { field: "loss", title: "held-out loss" }, series: "seed",
        data: gpts.flatMap((g) => g.losses.map((l, s) => ({ variant: g.norm, loss: Number.isFinite(l) ? sig(l) : null, seed: `seed #${s}` }))),
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = { rounds };
    for (const t of timings) {
      evidence[`LayerNorm_us_[${t.rows},${t.D}]`] = sig(t.ln);
      evidence[`RMSNorm_us_[${t.rows},${t.D}]`] = sig(t.rms);
      evidence[`ratio_RMS_over_LN_[${t.rows},${t.D}]`] = sig(t.ratio);
    }
    Object.assign(evidence, {
      gpt_preLN_heldOut_mean: sig(ln.meanLoss), gpt_preLN_heldOut_sd: sig(ln.sdLoss),
      gpt_preRMS_heldOut_mean: sig(rmsG.meanLoss), gpt_preRMS_heldOut_sd: sig(rmsG.sdLoss),
      gpt_heldOut_RMS_minus_LN: sig(lossDiff),
      gpt_preLN_normShareOfStep_percent: sig(100 * ln.share), gpt_preRMS_normShareOfStep_percent: sig(100 * rmsG.share),
      gpt_preLN_ms_per_step: sig(ln.stepMs), gpt_preRMS_ms_per_step: sig(rmsG.stepMs),
    });
    return {
      id: ID,
      title: this.title,
      explanation:
        "RMSNorm skips the mean: one reduction fewer per row forward and backward, and no bias by default. We time normkit's LayerNorm (with bias) and RMSNorm (without) modules, forward plus backward into reused output buffers, " +
        `at shapes ${shapes.map(([r, d]) => `[${r}, ${d}]`).join(", ")} (${rounds} alternating rounds, medians; wall-clock on this machine, so noisy under load), measure their share of the ${gst.layers}-layer GPT's training step, ` +
        `and compare the held-out losses of pre-LN and pre-RMSNorm GPTs trained ${gst.steps} steps with the same seeds.`,
      verdict,
      rule:
        "Cheaper: at every timed shape of at least 65,536 elements (smaller ones are shown, not scored: per-call overhead dominates them), the median over rounds of RMSNorm's time / LayerNorm's time is below 1. Comparable quality: the pre-RMSNorm GPT's mean held-out loss is within 5% of the pre-LN GPT's. " +
        "Both → reproduced; comparable quality and no scored ratio above 1.05 but not all below 1 → inconclusive; otherwise not reproduced.",
      evidence,
      charts,
      summary: `${verdict}: RMSNorm/LayerNorm time ${ratios.map((r) => sig(r)).join(", ")} at ${timings.map((t) => `[${t.rows},${t.D}]`).join(", ")}; held-out loss pre-RMS ${sig(rmsG.meanLoss)} vs pre-LN ${sig(ln.meanLoss)}; norms are ${sig(100 * ln.share)}% of a pre-LN step`,
    };
  },
};
