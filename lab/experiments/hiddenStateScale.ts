/**
 * Claim 1 — hidden-state scale. Per-layer RMS of the residual stream and of each block's input,
 * and per-block weight-gradient norms, at initialization and after training, for residual MLPs of
 * several depths and the four variants, plus the char-level GPT's layers.
 */
import type { MlpNorm } from "../models/mlp.js";
import type { GptNorm } from "../models/gpt.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { gptRun, gptSettings, median, mlpTask, runMlp, sig } from "./common.js";

const ID = "hidden-state-scale";
const VARIANTS: MlpNorm[] = ["none", "post-ln", "pre-ln", "pre-rms"];
const GPT_VARIANTS: GptNorm[] = ["none", "post-ln", "pre-ln", "pre-rms"];

interface Snap { stream: number[]; input: number[]; grad: number[]; streamGrad?: number[] }

const within = (a: number[], lo: number, hi: number) => a.every((v) => v >= lo && v <= hi);
const spread = (a: number[]) => Math.max(...a) / Math.min(...a);

export const hiddenStateScale: Experiment = {
  id: ID,
  title: "Without normalization hidden states and gradients grow with depth; LayerNorm keeps them at RMS ≈ 1",
  run(ctx: ExperimentContext): ClaimResult {
    const depths = ctx.full ? [4, 16, 48, 96] : [4, 16, 48];
    const steps = ctx.full ? 200 : 60;
    const batch = ctx.full ? 32 : 16;
    const lr = 1e-3;
    const task = mlpTask(ctx.seed);
    const snaps = new Map<string, { init: Snap; trained: Snap | null; diverged: boolean }>();
    for (const depth of depths) {
      for (const norm of VARIANTS) {
        let init: Snap | null = null;
        let trained: Snap | null = null;
        const { result } = runMlp({
          ctx, experiment: ID, norm, depth, batch, lr, steps, logEvery: Math.max(1, steps / 20), seedIndex: 0, task,
          snapshot: (phase, m) => {
            const s = { stream: m.streamRms(), input: m.blockInputRms(), grad: m.blockGradNorms(), streamGrad: [...m.streamGradRms] };
            if (phase === "init") init = s;
            else trained = s;
          },
        });
        snaps.set(`${norm}/${depth}`, { init: init!, trained: result.diverged ? null : trained, diverged: result.diverged });
      }
    }
    const gst = gptSettings(ctx.full);
    const gpt = GPT_VARIANTS.map((norm) => gptRun(ctx, norm, 0, ID));

    // --- the rule ---
    const deepest = depths[depths.length - 1];
    const shallowest = depths[0];
    const none = snaps.get(`none/${deepest}`)!;
    const streamGrowth = none.init.stream[none.init.stream.length - 1] / none.init.stream[0];
    const gradSpreadDeep = spread(none.init.grad);
    const gradSpreadShallow = spread(snaps.get(`none/${shallowest}`)!.init.grad);
    // typical (median) per-block gradient norm at init, deepest over shallowest model
    const gradGrowth = (norm: MlpNorm) => median(snaps.get(`${norm}/${deepest}`)!.init.grad) / median(snaps.get(`${norm}/${shallowest}`)!.init.grad);
    const noneGradGrowth = gradGrowth("none");
    const preLnGradGrowth = gradGrowth("pre-ln");
    const growsOrShrinks = streamGrowth >= 10 || streamGrowth <= 0.1;
    const gradsDepthDependent = (noneGradGrowth >= 10 || noneGradGrowth <= 0.1) && preLnGradGrowth < 10 && preLnGradGrowth > 0.1;
    // what LayerNorm holds at ≈ 1: post-LN's stream; pre-norm's block inputs
    const held: string[] = [];
    const notHeld: string[] = [];
    for (const depth of depths) {
      for (const norm of ["post-ln", "pre-ln", "pre-rms"] as MlpNorm[]) {
        const s = snaps.get(`${norm}/${depth}`)!;
        const measured = (x: Snap) => (norm === "post-ln" ? x.stream.slice(1) : x.input);
        const ok = within(measured(s.init), 0.5, 2) && (s.trained === null || within(measured(s.trained), 0.5, 2)) && !s.diverged;
        (ok ? held : notHeld).push(`${norm}@${depth}`);
      }
    }
    for (const g of gpt) {
      if (g.norm === "none") continue;
      const measured = (x: Snap) => (g.norm === "post-ln" ? x.stream.slice(1) : x.input);
      const ok = within(measured(g.init), 0.5, 2) && g.trained !== null && within(measured(g.trained), 0.5, 2);
      (ok ? held : notHeld).push(`gpt-${g.norm}`);
    }
    const lnHolds = notHeld.length === 0;
    const verdict = growsOrShrinks && gradsDepthDependent && lnHolds ? "reproduced" : "not reproduced";

    // --- charts ---
    const layerRows = (phase: "init" | "trained", field: "stream" | "input" | "grad" | "streamGrad") => {
      const rows: Record<string, number | string | null>[] = [];
      for (const depth of depths) {
        for (const norm of VARIANTS) {
          const s = snaps.get(`${norm}/${depth}`)!;
          const snap = phase === "init" ? s.init : s.trained;
          if (!snap) continue;
          (snap[field] ?? []).forEach((v, layer) => rows.push({ layer, value: sig(v), variant: norm, depth: `depth ${depth}` }));
        }
      }
      return rows;
    };
    const gptRows = (field: "stream" | "grad") => {
      const rows: Record<string, number | string | null>[] = [];
      for (const g of gpt) {
        for (const [phase, snap] of [["init", g.init], ["trained", g.trained]] as const) {
          snap?.[field].forEach((v, layer) => rows.push({ layer, value: sig(v), variant: g.norm, phase: phase === "init" ? "at initialization" : `after ${gst.steps} steps` }));
        }
      }
      return rows;
    };
    const charts: ChartSpec[] = [
      {
        id: "mlp-stream-rms-init", title: "Residual MLP: hidden-state RMS per layer at initialization", kind: "line",
        x: { field: "layer", title: "layer (0 = after the input projection)" }, y: { field: "value", title: "RMS of the residual stream", scale: "log" },
        series: "variant", facet: "depth", data: layerRows("init", "stream"),
        caption: "Without normalization the stream compounds block after block; post-LN resets it to ≈ 1 after every block; pre-norm lets it grow slowly (each block adds a bounded update).",
      },
      {
        id: "mlp-block-input-rms", title: "Residual MLP: RMS of each block's input after training (pre-norm: the normalized input)", kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "RMS of block input", scale: "log" },
        series: "variant", facet: "depth", data: layerRows("trained", "input"),
      },
      {
        id: "mlp-grad-init", title: "Residual MLP: gradient norm of each block's weights at initialization", kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂(W1, W2)‖", scale: "log" },
        series: "variant", facet: "depth", data: layerRows("init", "grad"),
      },
      {
        id: "mlp-stream-grad-init", title: "Residual MLP: gradient of the loss with respect to each layer's hidden state, at initialization", kind: "line",
        x: { field: "layer", title: "layer" }, y: { field: "value", title: "RMS of ∂loss/∂h", scale: "log" },
        series: "variant", facet: "depth", data: layerRows("init", "streamGrad"),
      },
      {
        id: "mlp-grad-trained", title: `Residual MLP: gradient norm per block after ${steps} training steps`, kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂(W1, W2)‖", scale: "log" },
        series: "variant", facet: "depth", data: layerRows("trained", "grad"),
        caption: "Diverged runs have no 'after training' curve.",
      },
      {
        id: "gpt-stream-rms", title: "Char-level GPT: residual-stream RMS per layer", kind: "line",
        x: { field: "layer", title: "layer (0 = embeddings)" }, y: { field: "value", title: "RMS", scale: "log" },
        series: "variant", facet: "phase", data: gptRows("stream"),
      },
      {
        id: "gpt-grad", title: "Char-level GPT: gradient norm of each block's weights", kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂W‖", scale: "log" },
        series: "variant", facet: "phase", data: gptRows("grad"),
      },
    ];
    const preDeep = snaps.get(`pre-ln/${deepest}`)!;
    const postDeep = snaps.get(`post-ln/${deepest}`)!;
    const evidence = {
      depths: depths.join(", "),
      [`noNorm_streamRmsLastOverFirst_depth${deepest}_init`]: sig(streamGrowth),
      [`noNorm_medianBlockGrad_depth${deepest}_over_depth${shallowest}_init`]: sig(noneGradGrowth),
      [`preLN_medianBlockGrad_depth${deepest}_over_depth${shallowest}_init`]: sig(preLnGradGrowth),
      [`noNorm_blockGradMaxOverMin_depth${deepest}_init`]: sig(gradSpreadDeep),
      [`noNorm_blockGradMaxOverMin_depth${shallowest}_init`]: sig(gradSpreadShallow),
      [`postLN_streamRmsMax_depth${deepest}_init`]: sig(Math.max(...postDeep.init.stream.slice(1))),
      [`preLN_blockInputRmsMax_depth${deepest}_init`]: sig(Math.max(...preDeep.init.input)),
      [`preLN_rawStreamRmsLast_depth${deepest}_init`]: sig(preDeep.init.stream[preDeep.init.stream.length - 1]),
      [`noNorm_diverged_depth${deepest}`]: none.diverged,
      gptNoNorm_streamRmsLastOverFirst_trained: gpt[0].trained ? sig(gpt[0].trained.stream[gpt[0].trained.stream.length - 1] / gpt[0].trained.stream[0]) : null,
      normalizedWithin0_5to2: held.join(" "),
      normalizedOutside0_5to2: notHeld.join(" ") || "none",
    };
    const parts = [
      `no-norm stream RMS ×${sig(streamGrowth)} over ${deepest} layers`,
      `no-norm block gradients ×${sig(noneGradGrowth)} from depth ${shallowest} to ${deepest} (pre-LN ×${sig(preLnGradGrowth)})`,
      lnHolds ? "all LN/RMSNorm-normalized states within [0.5, 2]" : `normalized states outside [0.5, 2]: ${notHeld.join(", ")}`,
    ];
    return {
      id: ID,
      title: this.title,
      explanation:
        `Residual MLPs (width 32, GELU blocks, He/LeCun init) of depth ${depths.join(", ")} on a synthetic classification task, trained ${steps} steps with AdamW (lr ${lr}), and the ${gst.layers}-layer char-level GPT. ` +
        "For each layer we measure the RMS of the hidden state and the gradient norm of the block's weights, at step 0 and at the last step. " +
        "Post-LN normalizes the residual stream itself; pre-LN and pre-RMSNorm normalize each block's input and leave the stream to grow, so for them the quantity held at ≈ 1 is the block input.",
      verdict,
      rule:
        `Reproduced when all three hold: (a) without normalization, at depth ${deepest} at initialization, the last layer's hidden-state RMS is ≥ 10× or ≤ 0.1× the first's; ` +
        `(b) at initialization the median per-block weight-gradient norm of the depth-${deepest} model is ≥ 10× (or ≤ 0.1×) that of the depth-${shallowest} model without normalization, and within 0.1×–10× with pre-LN; ` +
        "(c) every LayerNorm/RMSNorm-normalized hidden state (post-LN: the stream after each block; pre-LN/pre-RMSNorm: each block's normalized input), at every depth and in the GPT, has RMS within [0.5, 2] at initialization and after training, without divergence. Otherwise not reproduced.",
      evidence,
      charts,
      summary: `${verdict}: ${parts.join("; ")}`,
    };
  },
};
