/**
 * Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture": at initialization
 * the post-LN Transformer's gradients are large near the output and pre-LN's are the same at every
 * layer; so post-LN needs a learning-rate warm-up while pre-LN trains without one. Here: a 6-layer
 * char-level GPT (Xavier init, as in the paper), post-LN with and without warm-up and pre-LN
 * without, and the per-layer gradient norm of W^{FFN,2} at initialization.
 */
import { GPT, type GptNorm } from "../models/gpt.js";
import { formatNumber, times } from "../report/format.js";
import { AdamW, zeroGrads } from "../train/params.js";
import { deriveSeed, Rng } from "../train/rng.js";
import { train, type TrainResult } from "../train/trainer.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { charData, curveRows, gptHeldOut, mean, sig } from "./common.js";

const ID = "xiong-2020";

interface Setting {
  layers: number;
  C: number;
  T: number;
  batch: number;
  steps: number;
  warmup: number;
  lr: number;
  seeds: number;
  logEvery: number;
  /** batches the gradient at initialization is averaged over */
  gradBatches: number;
}

const setting = (full: boolean): Setting =>
  full
    ? { layers: 6, C: 32, T: 32, batch: 4, steps: 300, warmup: 100, lr: 3e-3, seeds: 3, logEvery: 20, gradBatches: 8 }
    : { layers: 6, C: 32, T: 32, batch: 4, steps: 120, warmup: 40, lr: 3e-3, seeds: 1, logEvery: 10, gradBatches: 4 };

type Arm = { norm: GptNorm; warmup: boolean; label: string };
const ARMS: Arm[] = [
  { norm: "post-ln", warmup: false, label: "post-LN, no warm-up" },
  { norm: "post-ln", warmup: true, label: "post-LN, warm-up" },
  { norm: "pre-ln", warmup: false, label: "pre-LN, no warm-up" },
];

interface ArmRun { result: TrainResult; ffn2: number[] }

function runArm(ctx: ExperimentContext, st: Setting, arm: Arm, seedIndex: number): ArmRun {
  const data = charData(ctx);
  // the same initial weights and batches for both post-LN arms: only the schedule differs
  const seed = deriveSeed(ctx.seed, ID, arm.norm, seedIndex);
  const rng = new Rng(seed);
  const model = new GPT({ vocab: data.vocab.length, T: st.T, C: st.C, heads: 4, layers: st.layers, norm: arm.norm, maxBatch: st.batch, init: "xavier" }, rng);
  const tokens = new Int32Array(st.batch * st.T);
  const targets = new Int32Array(st.batch * st.T);
  // gradient norms at initialization, averaged over a few batches of their own stream
  const gr = new Rng(deriveSeed(ctx.seed, ID, "grad-batches", seedIndex));
  const ffn2 = new Array<number>(st.layers).fill(0);
  for (let k = 0; k < st.gradBatches; k++) {
    zeroGrads(model.params);
    data.batch(tokens, targets, st.batch, st.T, gr);
    model.forward(tokens, targets, st.batch);
    model.backward();
    model.ffnOutGradNorms().forEach((v, l) => (ffn2[l] += v / st.gradBatches));
  }
  // Adam with the paper's β2 = 0.98, no weight decay; warm-up: linear from lr/warmup to lr
  const opt = new AdamW(model.params, { lr: st.lr, beta1: 0.9, beta2: 0.98, weightDecay: 0 });
  const result = train({
    ctx, experiment: ID, label: `char-gpt ${arm.label} ${st.layers} layers seed#${seedIndex}`,
    config: { model: "char-gpt", norm: arm.norm, warmup: arm.warmup ? st.warmup : 0, init: "xavier", layers: st.layers, C: st.C, T: st.T, batch: st.batch, seedIndex },
    seed, steps: st.steps, logEvery: st.logEvery, params: model.params, opt,
    lrAt: arm.warmup ? (step) => st.lr * Math.min(1, (step + 1) / st.warmup) : undefined,
    forward: () => {
      data.batch(tokens, targets, st.batch, st.T, rng);
      return model.forward(tokens, targets, st.batch);
    },
    backward: () => model.backward(),
    evaluate: () => gptHeldOut(ctx, model, data, tokens, targets, st.batch, st.T),
  });
  return { result, ffn2 };
}

export const xiong2020: Experiment = {
  id: ID,
  title: "Xiong et al. 2020: post-LN needs a learning-rate warm-up and pre-LN does not, because post-LN's gradients at initialization are large near the output",
  run(ctx: ExperimentContext): ClaimResult {
    const st = setting(ctx.full);
    const runs = ARMS.map((arm) => ({ arm, runs: Array.from({ length: st.seeds }, (_, s) => runArm(ctx, st, arm, s)) }));
    const [postNo, postWarm, preNo] = runs;
    // a diverged run has no held-out loss: it counts as +∞ (worse than any finished run)
    const heldOut = (r: (typeof runs)[number]) => mean(r.runs.map((x) => x.result.evalLoss ?? Infinity));
    const perLayer = (r: (typeof runs)[number]) => Array.from({ length: st.layers }, (_, l) => mean(r.runs.map((x) => x.ffn2[l])));
    const post = perLayer(postNo); // both post-LN arms start from the same weights
    const pre = perLayer(preNo);
    const postRise = post[st.layers - 1] / post[0];
    const preSpread = Math.max(...pre) / Math.min(...pre);
    const gradsReproduced = postRise >= 1.5 && preSpread <= 1.5;
    const lPostNo = heldOut(postNo);
    const lPostWarm = heldOut(postWarm);
    const lPre = heldOut(preNo);
    const warmupHelps = !Number.isFinite(lPostNo) ? Number.isFinite(lPostWarm) : lPostNo >= 1.01 * lPostWarm;
    const preFine = lPre <= 1.01 * lPostWarm;
    const trainingReproduced = warmupHelps && preFine;
    const verdict = gradsReproduced && trainingReproduced ? "reproduced" : gradsReproduced || trainingReproduced ? "inconclusive" : "not reproduced";

    const gradRows = [
      ...post.map((v, l) => ({ layer: l + 1, norm: sig(v), variant: "post-LN" })),
      ...pre.map((v, l) => ({ layer: l + 1, norm: sig(v), variant: "pre-LN" })),
    ];
    const charts: ChartSpec[] = [
      {
        id: "xiong-grad-init", title: `Gradient norm of each layer's W^{FFN,2} at initialization (${st.layers}-layer GPT, Xavier init, mean over ${st.gradBatches} batches${st.seeds > 1 ? ` and ${st.seeds} seeds` : ""})`, kind: "line",
        x: { field: "layer", title: "layer (1 = nearest the input)" }, y: { field: "norm", title: "‖∂loss/∂W^{FFN,2}‖", scale: "log" }, series: "variant", data: gradRows,
        caption: "The paper: post-LN's grows toward the output layer, pre-LN's stays level.",
      },
      {
        id: "xiong-loss", title: `Training loss of the ${st.layers}-layer GPT at lr ${st.lr} (warm-up: linear over the first ${st.warmup} steps)`, kind: "line",
        x: { field: "step", title: "step" }, y: { field: "loss", title: "training loss" }, series: "variant", band: st.seeds > 1, marker: "why",
        data: runs.flatMap((r) => {
          const rows = curveRows(r.runs.map((x) => x.result), st.logEvery, { variant: r.arm.label });
          return rows.length > 0 ? rows : [{ step: st.logEvery, loss: null, variant: r.arm.label, why: "diverged before its first logged window" }];
        }),
      },
      {
        id: "xiong-heldout", title: "Held-out loss after training", kind: "bar",
        x: { field: "variant", title: "" }, y: { field: "loss", title: "held-out loss" }, marker: "why",
        data: runs.map((r) => {
          const v = heldOut(r);
          return { variant: r.arm.label, loss: Number.isFinite(v) ? sig(v) : null, why: Number.isFinite(v) ? null : "diverged" };
        }),
      },
    ];
    const pct = (a: number, b: number) => `${formatNumber(Number((100 * (a / b - 1)).toPrecision(2)))} %`;
    const evidence: Record<string, number | string | boolean | null> = {
      "Model, steps, learning rate, warm-up, seeds": `${st.layers} layers, width ${st.C}, ${st.steps} steps, lr ${st.lr}, ${st.warmup} warm-up steps, ${st.seeds} seed${st.seeds > 1 ? "s" : ""}`,
      "Post-LN: W^{FFN,2} gradient, last layer ÷ first, at init": sig(postRise),
      "Pre-LN: W^{FFN,2} gradient, largest ÷ smallest layer, at init": sig(preSpread),
      "Post-LN, per layer (first → last)": post.map((v) => formatNumber(v)).join(", "),
      "Pre-LN, per layer (first → last)": pre.map((v) => formatNumber(v)).join(", "),
      "Held-out loss, post-LN without warm-up": sig(lPostNo),
      "Held-out loss, post-LN with warm-up": sig(lPostWarm),
      "Held-out loss, pre-LN without warm-up": sig(lPre),
      "Post-LN without warm-up vs with": pct(lPostNo, lPostWarm),
      "Pre-LN without warm-up vs post-LN with": pct(lPre, lPostWarm),
    };
    return {
      id: ID,
      title: this.title,
      shortTitle: "Xiong et al. 2020: post-LN needs warm-up, pre-LN does not",
      kind: "paper",
      source: "Ruibin Xiong, Yunchang Yang, Di He, Kai Zheng, Shuxin Zheng, Chen Xing, Huishuai Zhang, Yanyan Lan, Liwei Wang, Tie-Yan Liu: On Layer Normalization in the Transformer Architecture, ICML 2020",
      explanation:
        "The paper shows that at initialization the gradients of a post-LN Transformer's parameters are large near the output (so a large learning rate destabilizes training unless it is warmed up), while a pre-LN Transformer's are the same at every layer (so it trains without warm-up). " +
        `We train the lab's char-level GPT with ${st.layers} layers of width ${st.C} (Xavier init, as in the paper; Adam with β2 = 0.98) for ${st.steps} steps at lr ${st.lr}, the lab's GPT learning rate: post-LN without and with a linear warm-up over the first ${st.warmup} steps, and pre-LN without warm-up. ` +
        `Before training, we measure the gradient norm of each layer's second feed-forward matrix W^{FFN,2}, the quantity the paper plots. Our model is about ${times(512 / st.C)} narrower and far shorter-trained than the paper's.`,
      verdict,
      rule:
        "(gradients) At initialization post-LN's W^{FFN,2} gradient norm at the last layer is at least 1.5× the first layer's, and pre-LN's largest is at most 1.5× its smallest; " +
        "(training) post-LN without warm-up ends with a held-out loss at least 1 % above post-LN with warm-up (or diverges), and pre-LN without warm-up ends no more than 1 % above post-LN with warm-up. " +
        "Both → reproduced; one → inconclusive; neither → not reproduced.",
      evidence,
      charts,
      headline: `gradients at init: post-LN last ÷ first ${times(postRise)}, pre-LN spread ${times(preSpread)}; held-out post-LN ${formatNumber(lPostNo)} without warm-up, ${formatNumber(lPostWarm)} with; pre-LN ${formatNumber(lPre)}`,
      summary: `post-LN gradient last ÷ first layer ${times(postRise)}, pre-LN spread ${times(preSpread)}; held-out: post-LN ${formatNumber(lPostNo)} without warm-up, ${formatNumber(lPostWarm)} with; pre-LN ${formatNumber(lPre)} without`,
    };
  },
};
