/** Helpers shared by the experiments: statistics, loss-curve bands, and the MLP/GPT run drivers. */
import { GPT, type GptConfig, type GptNorm } from "../models/gpt.js";
import { ResidualMLP, type MlpConfig, type MlpInit, type MlpNorm } from "../models/mlp.js";
import { normTimer } from "../models/norm.js";
import { CharData, TeacherTask } from "../train/data.js";
import { AdamW } from "../train/params.js";
import { deriveSeed, Rng } from "../train/rng.js";
import { train, type TrainResult } from "../train/trainer.js";
import type { ExperimentContext } from "../types.js";

export const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN);
export const median = (a: number[]) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const std = (a: number[]) => {
  const m = mean(a);
  return a.length > 1 ? Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1)) : 0;
};
/** How variants are named in charts and evidence. */
const NORM_LABELS: Record<string, string> = { none: "no norm", "post-ln": "post-LN", "pre-ln": "pre-LN", "pre-rms": "pre-RMSNorm", "pre-bn": "BatchNorm" };
export const variantLabel = (norm: string, init?: MlpInit | "scaled") => (init === "scaled" ? "no norm, scaled init" : NORM_LABELS[norm] ?? norm);

/** Rounds for evidence/JSON: 4 significant digits. */
export const sig = (v: number | null) => (v === null || !Number.isFinite(v) ? v === null ? null : String(v) : Number(v.toPrecision(4)));

/**
 * Rows {step, loss, lossLo, lossHi, ...extra} per logged step: mean over the seeds still running,
 * band = min..max across them; a diverged seed drops out where it stopped.
 */
export function curveRows(runs: TrainResult[], logEvery: number, extra: Record<string, string | number>) {
  const rows: Record<string, number | string | null>[] = [];
  const n = Math.max(...runs.map((r) => r.losses.length));
  for (let i = 0; i < n; i++) {
    const vals = runs.map((r) => r.losses[i]).filter((v) => v !== undefined && Number.isFinite(v));
    if (!vals.length) continue;
    rows.push({ step: (i + 1) * logEvery, loss: sig(mean(vals)), lossLo: sig(Math.min(...vals)), lossHi: sig(Math.max(...vals)), ...extra });
  }
  return rows;
}

export interface MlpTask {
  task: TeacherTask;
  evalX: Float32Array;
  evalY: Int32Array;
  evalN: number;
}

export const MLP_DIN = 16;
export const MLP_CLASSES = 8;

/** The synthetic task (teacher + fixed held-out set), the same for every run of a given --seed. */
export function mlpTask(seed: number): MlpTask {
  const task = new TeacherTask(MLP_DIN, MLP_CLASSES, new Rng(deriveSeed(seed, "teacher")));
  const evalN = 512;
  const evalX = new Float32Array(evalN * MLP_DIN);
  const evalY = new Int32Array(evalN);
  task.sample(evalX, evalY, evalN, new Rng(deriveSeed(seed, "heldout")));
  return { task, evalX, evalY, evalN };
}

/** Mean held-out loss in eval mode, in chunks of the model's batch capacity. */
export function mlpEval(model: ResidualMLP, t: MlpTask): number {
  model.setTraining(false);
  const B = model.cfg.maxBatch;
  let s = 0;
  for (let i = 0; i < t.evalN; i += B) {
    const b = Math.min(B, t.evalN - i);
    s += b * model.forward(t.evalX.subarray(i * MLP_DIN, (i + b) * MLP_DIN), t.evalY.subarray(i, i + b), b);
  }
  model.setTraining(true);
  return s / t.evalN;
}

export interface MlpRunSpec {
  ctx: ExperimentContext;
  experiment: string;
  norm: MlpNorm;
  depth: number;
  batch: number;
  lr: number;
  steps: number;
  logEvery: number;
  seedIndex: number;
  task: MlpTask;
  width?: number;
  clip?: number;
  /** "scaled": the fair no-norm baseline's init (residual branches ×1/√(2L)); default "standard" */
  init?: MlpInit;
  /** called after backward at step 0 and at the last step (per-layer snapshots) */
  snapshot?: (phase: "init" | "trained", model: ResidualMLP) => void;
}

/** Builds and trains one MLP; returns the trained model with the run's result. */
export function runMlp(s: MlpRunSpec): { model: ResidualMLP; result: TrainResult } {
  const width = s.width ?? 32;
  const init = s.init ?? "standard";
  const cfg: MlpConfig = { din: MLP_DIN, width, hidden: 2 * width, depth: s.depth, classes: MLP_CLASSES, norm: s.norm, maxBatch: Math.max(s.batch, 64), init };
  // the standard init keeps the seeds it always had; the scaled one draws the same weights, scaled
  const seed = deriveSeed(s.ctx.seed, s.experiment, s.norm, s.depth, s.batch, s.lr, s.seedIndex);
  const rng = new Rng(seed);
  const model = new ResidualMLP(cfg, rng);
  const opt = new AdamW(model.params, { lr: s.lr, clip: s.clip });
  const x = new Float32Array(s.batch * MLP_DIN);
  const y = new Int32Array(s.batch);
  const result = train({
    ctx: s.ctx, experiment: s.experiment, label: `mlp ${s.norm}${init === "scaled" ? " (scaled init)" : ""} depth=${s.depth} batch=${s.batch} lr=${s.lr} seed#${s.seedIndex}`,
    config: { model: "residual-mlp", norm: s.norm, init, depth: s.depth, width, batch: s.batch, seedIndex: s.seedIndex },
    seed, steps: s.steps, logEvery: s.logEvery, params: model.params, opt,
    forward: () => {
      s.task.task.sample(x, y, s.batch, rng);
      return model.forward(x, y, s.batch);
    },
    backward: () => model.backward(),
    afterBackward: s.snapshot ? (step) => {
      if (step === 0) s.snapshot!("init", model);
      if (step === s.steps - 1) s.snapshot!("trained", model);
    } : undefined,
    evaluate: () => mlpEval(model, s.task),
  });
  return { model, result };
}

export interface GptSettings {
  steps: number;
  logEvery: number;
  lr: number;
  batch: number;
  T: number;
  C: number;
  heads: number;
  layers: number;
  seeds: number;
}

export function gptSettings(full: boolean): GptSettings {
  return full
    ? { steps: 300, logEvery: 20, lr: 3e-3, batch: 4, T: 32, C: 48, heads: 4, layers: 3, seeds: 3 }
    : { steps: 150, logEvery: 10, lr: 3e-3, batch: 4, T: 32, C: 32, heads: 4, layers: 2, seeds: 2 };
}

export interface GptRun {
  norm: GptNorm;
  seedIndex: number;
  result: TrainResult;
  /** per-block stream RMS (index 0..layers), block-input RMS, block grad norms: at step 0 and at the end */
  init: { stream: number[]; input: number[]; grad: number[] };
  trained: { stream: number[]; input: number[]; grad: number[] } | null;
  /** ms in normkit's norm forward/backward, and total ms, over the run's training steps */
  normMs: number;
  stepMs: number;
}

/**
 * The GPT runs, shared by claims 1, 2 and 5 (they train the same configurations): each
 * (variant, seed) is trained once per process and reused.
 */
const gptCache = new Map<string, GptRun>();
let charDataCache: { text: string; data: CharData } | null = null;

/** The claims that read the GPT runs (recorded with each run). */
const GPT_USED_BY = "hidden-state-scale, stable-training, rmsnorm-cost";

/** The corpus as character tokens (built once per corpus text). */
export function charData(ctx: ExperimentContext): CharData {
  if (charDataCache?.text !== ctx.corpus) charDataCache = { text: ctx.corpus, data: new CharData(ctx.corpus) };
  return charDataCache.data;
}

/** Mean loss over `nb` held-out batches, from a fixed stream (the same windows for every model of a run). */
export function gptHeldOut(ctx: ExperimentContext, model: GPT, data: CharData, tokens: Int32Array, targets: Int32Array, batch: number, T: number, nb = 8): number {
  const er = new Rng(deriveSeed(ctx.seed, "gpt-heldout"));
  let s = 0;
  for (let i = 0; i < nb; i++) {
    data.batch(tokens, targets, batch, T, er, true);
    s += model.forward(tokens, targets, batch);
  }
  return s / nb;
}

/** `caller`: the experiment that asked first; the run is recorded and shown under it. */
export function gptRun(ctx: ExperimentContext, norm: GptNorm, seedIndex: number, caller: string): GptRun {
  const st = gptSettings(ctx.full);
  const data = charData(ctx);
  const key = JSON.stringify([ctx.seed, ctx.full, ctx.corpusName, ctx.corpus.length, norm, seedIndex]);
  const hit = gptCache.get(key);
  if (hit) return hit;
  const seed = deriveSeed(ctx.seed, "gpt", norm, seedIndex);
  const rng = new Rng(seed);
  const cfg: GptConfig = { vocab: data.vocab.length, T: st.T, C: st.C, heads: st.heads, layers: st.layers, norm, maxBatch: st.batch };
  const model = new GPT(cfg, rng);
  const opt = new AdamW(model.params, { lr: st.lr, beta2: 0.95, weightDecay: 0.1 });
  const tokens = new Int32Array(st.batch * st.T);
  const targets = new Int32Array(st.batch * st.T);
  const snap = () => ({ stream: model.streamRms(), input: model.blockInputRms(), grad: model.blockGradNorms() });
  let init: GptRun["init"] | null = null;
  let trained: GptRun["trained"] = null;
  normTimer.ms = 0;
  normTimer.enabled = true;
  let stepMs = 0;
  let t0 = 0;
  const result = train({
    ctx, experiment: caller, label: `char-gpt ${norm} seed#${seedIndex}`,
    config: { model: "char-gpt", norm, layers: st.layers, C: st.C, T: st.T, batch: st.batch, seedIndex, usedBy: GPT_USED_BY, corpus: ctx.corpusName },
    seed, steps: st.steps, logEvery: st.logEvery, params: model.params, opt,
    forward: () => {
      data.batch(tokens, targets, st.batch, st.T, rng);
      t0 = performance.now();
      return model.forward(tokens, targets, st.batch);
    },
    backward: () => {
      model.backward();
      stepMs += performance.now() - t0;
    },
    afterBackward: (step) => {
      if (step === 0) init = snap();
      if (step === st.steps - 1) trained = snap();
    },
    evaluate: () => {
      normTimer.enabled = false;
      return gptHeldOut(ctx, model, data, tokens, targets, st.batch, st.T);
    },
  });
  normTimer.enabled = false;
  const run: GptRun = {
    norm, seedIndex, result, init: init ?? { stream: [], input: [], grad: [] }, trained, normMs: normTimer.ms, stepMs,
  };
  gptCache.set(key, run);
  return run;
}
