/**
 * Wall-clock timing of normkit's LayerNorm and RMSNorm modules, shared by the RMSNorm-cost claim and
 * the Zhang & Sennrich reproduction: measured once per run (per backend) and reused, so the two read
 * the same numbers. Timing is the one thing in the lab that is not deterministic for a seed.
 */
import { getBackend, LayerNorm, listBackends, RMSNorm, setBackend, tensor } from "../../src/index.js";
import { deriveSeed, Rng } from "../train/rng.js";
import type { ExperimentContext } from "../types.js";
import { median } from "./common.js";

export interface NormTiming {
  backend: string;
  rows: number;
  D: number;
  /** median µs per forward + backward */
  ln: number;
  rms: number;
  /** median over rounds of RMSNorm's time / LayerNorm's in the same round */
  ratio: number;
}

/**
 * Median µs per forward+backward of each module over alternating rounds of ~targetMs each, and the
 * median of the per-round ratios (each round's pair runs back to back, so a load change between
 * rounds cancels out of its ratio).
 */
export function timeNorms(rows: number, D: number, rounds: number, targetMs: number, rng: Rng): { ln: number; rms: number; ratio: number } {
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
  // at least 3 calls per round, so one stall does not decide a round — unless one call already
  // takes longer than a round should (the js backend at [4096, 1024]: ~0.2 s), where a stall is
  // a small part of it and 3 calls would make that shape alone take ~13 s
  iters = iters <= 1 ? 1 : Math.max(3, Math.ceil(iters / 2));
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

export interface TimingPlan {
  shapes: [number, number][];
  rounds: number;
  targetMs: number;
  backends: string[];
}

export function timingPlan(full: boolean): TimingPlan {
  return {
    shapes: full ? [[256, 32], [2048, 256], [4096, 1024], [1024, 4096]] : [[256, 32], [2048, 256], [4096, 1024]],
    rounds: full ? 21 : 11,
    targetMs: full ? 40 : 20,
    // the synchronous backends, in a fixed order
    backends: ["wasm", "js"].filter((b) => listBackends().includes(b)),
  };
}

/** Shapes whose timing the verdicts score: at smaller ones per-call overhead (validation) dominates. */
export const scoredShape = (t: { rows: number; D: number }) => t.rows * t.D >= 1 << 16;

let cache: { key: string; timings: NormTiming[] } | null = null;

/** The timings of this run: every planned shape on every synchronous backend, measured on first use. */
export function normTimings(ctx: ExperimentContext): NormTiming[] {
  const key = JSON.stringify([ctx.seed, ctx.full]);
  if (cache?.key === key) return cache.timings;
  const plan = timingPlan(ctx.full);
  const rng = new Rng(deriveSeed(ctx.seed, "norm-timing"));
  const before = getBackend();
  const timings: NormTiming[] = [];
  try {
    for (const backend of plan.backends) {
      setBackend(backend);
      for (const [rows, D] of plan.shapes) {
        ctx.progress.log(`timing LayerNorm vs RMSNorm forward+backward at [${rows}, ${D}] on ${backend}`);
        timings.push({ backend, rows, D, ...timeNorms(rows, D, plan.rounds, plan.targetMs, rng) });
      }
    }
  } finally {
    setBackend(before);
  }
  cache = { key, timings };
  return timings;
}
