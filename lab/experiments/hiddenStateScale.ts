/**
 * Claim 1 — hidden-state scale. Per-layer RMS of the residual stream and of each block's input,
 * and per-block weight-gradient norms, at initialization and after training, for residual MLPs of
 * several depths and the four variants, plus the char-level GPT's layers. Control: the unnormalized
 * MLP with its residual branches scaled 1/√(2L) at init (GPT-2's), so that growth that comes from
 * the init alone is not credited to the missing normalization.
 */
import type { MlpInit, MlpNorm } from "../models/mlp.js";
import type { GptNorm } from "../models/gpt.js";
import { times } from "../report/format.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { gptRun, gptSettings, median, mlpTask, runMlp, sig, variantLabel } from "./common.js";

const ID = "hidden-state-scale";
const VARIANTS: [MlpNorm, MlpInit][] = [["none", "standard"], ["none", "scaled"], ["post-ln", "standard"], ["pre-ln", "standard"], ["pre-rms", "standard"]];
const GPT_VARIANTS: GptNorm[] = ["none", "post-ln", "pre-ln", "pre-rms"];

interface Snap { stream: number[]; input: number[]; grad: number[] }

const within = (a: number[], lo: number, hi: number) => a.every((v) => v >= lo && v <= hi);
const key = (norm: MlpNorm, init: MlpInit, depth: number) => `${norm}/${init}/${depth}`;

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
      for (const [norm, init] of VARIANTS) {
        let first: Snap | null = null;
        let trained: Snap | null = null;
        const { result } = runMlp({
          ctx, experiment: ID, norm, init, depth, batch, lr, steps, logEvery: Math.max(1, steps / 20), seedIndex: 0, task,
          snapshot: (phase, m) => {
            const s = { stream: m.streamRms(), input: m.blockInputRms(), grad: m.blockGradNorms() };
            if (phase === "init") first = s;
            else trained = s;
          },
        });
        snaps.set(key(norm, init, depth), { init: first!, trained: result.diverged ? null : trained, diverged: result.diverged });
      }
    }
    const gst = gptSettings(ctx.full);
    const gpt = GPT_VARIANTS.map((norm) => gptRun(ctx, norm, 0, ID));

    // --- the rule ---
    const deepest = depths[depths.length - 1];
    const shallowest = depths[0];
    const growth = (init: MlpInit) => {
      const s = snaps.get(key("none", init, deepest))!.init.stream;
      return s[s.length - 1] / s[0];
    };
    // typical (median) per-block gradient norm at init, deepest over shallowest model
    const gradGrowth = (norm: MlpNorm, init: MlpInit = "standard") =>
      median(snaps.get(key(norm, init, deepest))!.init.grad) / median(snaps.get(key(norm, init, shallowest))!.init.grad);
    const large = (r: number) => r >= 10 || r <= 0.1;
    const plainGrowth = growth("standard");
    const fairGrowth = growth("scaled");
    const plainGrad = gradGrowth("none");
    const fairGrad = gradGrowth("none", "scaled");
    const preLnGrad = gradGrowth("pre-ln");
    const grows = large(plainGrowth) && large(plainGrad) && !large(preLnGrad);
    const survivesControl = large(fairGrowth) || large(fairGrad);
    // what LayerNorm holds at ≈ 1: post-LN's stream; pre-norm's block inputs
    const held: string[] = [];
    const notHeld: string[] = [];
    for (const depth of depths) {
      for (const norm of ["post-ln", "pre-ln", "pre-rms"] as MlpNorm[]) {
        const s = snaps.get(key(norm, "standard", depth))!;
        const measured = (x: Snap) => (norm === "post-ln" ? x.stream.slice(1) : x.input);
        const ok = within(measured(s.init), 0.5, 2) && (s.trained === null || within(measured(s.trained), 0.5, 2)) && !s.diverged;
        (ok ? held : notHeld).push(`${variantLabel(norm)} at depth ${depth}`);
      }
    }
    for (const g of gpt) {
      if (g.norm === "none") continue;
      const measured = (x: Snap) => (g.norm === "post-ln" ? x.stream.slice(1) : x.input);
      const ok = within(measured(g.init), 0.5, 2) && g.trained !== null && within(measured(g.trained), 0.5, 2);
      (ok ? held : notHeld).push(`GPT ${variantLabel(g.norm)}`);
    }
    const lnHolds = notHeld.length === 0;
    const verdict = !grows || !lnHolds ? "not reproduced" : survivesControl ? "reproduced" : "inconclusive";

    // --- charts ---
    const layerRows = (phase: "init" | "trained", field: keyof Snap, variants = VARIANTS) => {
      const rows: Record<string, number | string | null>[] = [];
      for (const depth of depths) {
        for (const [norm, init] of variants) {
          const s = snaps.get(key(norm, init, depth))!;
          const snap = phase === "init" ? s.init : s.trained;
          const variant = variantLabel(norm, init);
          if (!snap) {
            rows.push({ layer: 0, value: null, variant, depth: `depth ${depth}`, why: "diverged in training" });
            continue;
          }
          snap[field].forEach((v, layer) => rows.push({ layer, value: sig(v), variant, depth: `depth ${depth}` }));
        }
      }
      return rows;
    };
    const gptRows = (field: "stream" | "grad") => {
      const rows: Record<string, number | string | null>[] = [];
      for (const g of gpt) {
        for (const [phase, snap] of [["init", g.init], ["trained", g.trained]] as const) {
          const p = phase === "init" ? "at initialization" : `after ${gst.steps} steps`;
          if (!snap) rows.push({ layer: 0, value: null, variant: variantLabel(g.norm), phase: p, why: "diverged in training" });
          snap?.[field].forEach((v, layer) => rows.push({ layer, value: sig(v), variant: variantLabel(g.norm), phase: p }));
        }
      }
      return rows;
    };
    const normed = VARIANTS.filter(([n]) => n !== "none");
    const charts: ChartSpec[] = [
      {
        id: "mlp-stream-rms-init", title: "Residual MLP: hidden-state RMS per layer at initialization", kind: "line",
        x: { field: "layer", title: "layer (0 = input projection)" }, y: { field: "value", title: "stream RMS", scale: "log" },
        series: "variant", facet: "depth", marker: "why", data: layerRows("init", "stream"),
        caption: "Without normalization and with the textbook init the stream compounds block after block; with the residual branches scaled 1/√(2L) (the control) it stays near its input's scale. Post-LN resets it to ≈ 1 after every block; pre-norm lets it grow slowly (each block adds a bounded update).",
      },
      {
        id: "mlp-block-input-rms", title: `Residual MLP: RMS of each block's normalized input after ${steps} training steps`, kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "block input RMS", scale: "log" },
        series: "variant", facet: "depth", marker: "why", data: layerRows("trained", "input", normed),
        caption: "Post-LN: the stream entering the block (normalized by the previous block); pre-LN and pre-RMSNorm: the normalized input the block computes on.",
      },
      {
        id: "mlp-grad-init", title: "Residual MLP: gradient norm of each block's weights at initialization", kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂(W1, W2)‖", scale: "log" },
        series: "variant", facet: "depth", marker: "why", data: layerRows("init", "grad"),
      },
      {
        id: "mlp-grad-trained", title: `Residual MLP: gradient norm per block after ${steps} training steps`, kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂(W1, W2)‖", scale: "log" },
        series: "variant", facet: "depth", marker: "why", data: layerRows("trained", "grad"),
      },
      {
        id: "gpt-stream-rms", title: `Char-level GPT (${gst.layers} layers): residual-stream RMS per layer`, kind: "line",
        x: { field: "layer", title: "layer (0 = embeddings)" }, y: { field: "value", title: "RMS", scale: "log" },
        series: "variant", facet: "phase", marker: "why", data: gptRows("stream"),
      },
      {
        id: "gpt-grad", title: `Char-level GPT (${gst.layers} layers): gradient norm of each block's weights`, kind: "line",
        x: { field: "layer", title: "block" }, y: { field: "value", title: "‖∂loss/∂W‖", scale: "log" },
        series: "variant", facet: "phase", marker: "why", data: gptRows("grad"),
      },
    ];
    const preDeep = snaps.get(key("pre-ln", "standard", deepest))!;
    const postDeep = snaps.get(key("post-ln", "standard", deepest))!;
    const gptNone = gpt[0].trained;
    const evidence: Record<string, number | string | boolean | null> = {
      Depths: depths.join(", "),
      [`No norm: stream RMS, last ÷ first layer, depth ${deepest}, at init`]: sig(plainGrowth),
      "No norm, scaled init (control): the same stream ratio": sig(fairGrowth),
      [`No norm: median block gradient, depth ${deepest} ÷ depth ${shallowest}, at init`]: sig(plainGrad),
      "No norm, scaled init (control): the same gradient ratio": sig(fairGrad),
      "Pre-LN: the same gradient ratio": sig(preLnGrad),
      [`Post-LN: largest stream RMS, depth ${deepest}, at init`]: sig(Math.max(...postDeep.init.stream.slice(1))),
      [`Pre-LN: largest block-input RMS, depth ${deepest}, at init`]: sig(Math.max(...preDeep.init.input)),
      [`Pre-LN: raw stream RMS at the last layer, depth ${deepest}, at init`]: sig(preDeep.init.stream[preDeep.init.stream.length - 1]),
      [`No norm diverged in training at depth ${deepest}`]: snaps.get(key("none", "standard", deepest))!.diverged,
      "GPT without norm: stream RMS, last ÷ first layer, after training": gptNone ? sig(gptNone.stream[gptNone.stream.length - 1] / gptNone.stream[0]) : null,
      "Normalized states within [0.5, 2]": held.join(", "),
      "Normalized states outside [0.5, 2]": notHeld.join(", ") || "none",
    };
    const parts = [
      `no-norm stream RMS ${times(plainGrowth)} over ${deepest} layers (scaled init: ${times(fairGrowth)})`,
      `block gradients ${times(plainGrad)} from depth ${shallowest} to ${deepest} (scaled init ${times(fairGrad)}, pre-LN ${times(preLnGrad)})`,
      lnHolds ? "every normalized state within [0.5, 2]" : `normalized states outside [0.5, 2]: ${notHeld.join(", ")}`,
    ];
    return {
      id: ID,
      title: this.title,
      shortTitle: "Without normalization hidden states grow with depth; LayerNorm holds ≈ 1",
      explanation:
        `Residual MLPs (width 32, GELU blocks, He/LeCun init) of depth ${depths.join(", ")} on a synthetic classification task, trained ${steps} steps with AdamW (lr ${lr}), and the ${gst.layers}-layer char-level GPT. ` +
        "For each layer we measure the RMS of the hidden state and the gradient norm of the block's weights, at step 0 and at the last step. " +
        "Post-LN normalizes the residual stream itself; pre-LN and pre-RMSNorm normalize each block's input and leave the stream to grow, so for them the quantity held at ≈ 1 is the block input.",
      verdict,
      rule:
        `(a) Without normalization (textbook init), at depth ${deepest} at initialization, the last layer's hidden-state RMS is ≥ 10× or ≤ 0.1× the first's, and the median per-block weight-gradient norm of the depth-${deepest} model is ≥ 10× (or ≤ 0.1×) the depth-${shallowest} model's, while with pre-LN that ratio stays within 0.1×–10×. ` +
        "(b) Every LayerNorm/RMSNorm-normalized hidden state (post-LN: the stream after each block; pre-LN/pre-RMSNorm: each block's normalized input), at every depth and in the GPT, has RMS within [0.5, 2] at initialization and after training, without divergence. " +
        `(c) Control: the growth in (a) survives scaling the residual branches 1/√(2L) at init (stream or gradient ratio still ≥ 10× or ≤ 0.1×). ` +
        "(a), (b) and (c) → reproduced; (a) and (b) without (c) → inconclusive (the growth comes from the init, not from the missing normalization); otherwise not reproduced.",
      control:
        `The unnormalized MLP again, with each residual branch's output weights scaled 1/√(2L) at init (GPT-2's rule; the same random draws, scaled). Its stream grows ${times(fairGrowth)} over ${deepest} layers and its block gradients ${times(fairGrad)} from depth ${shallowest} to ${deepest}.`,
      evidence,
      charts,
      headline: `stream RMS ${times(plainGrowth)} over ${deepest} layers, but ${times(fairGrowth)} with residual branches scaled 1/√(2L); normalized states ${lnHolds ? "within" : "not all within"} [0.5, 2]`,
      summary: parts.join("; "),
    };
  },
};
