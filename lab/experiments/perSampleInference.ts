/**
 * Claim 4 — per-sample normalization at inference. One sample's output computed alone and inside
 * batches of other samples, compared bitwise: normkit's LayerNorm and RMSNorm modules, BatchNorm
 * in training mode (batch statistics) and eval mode (running statistics), and whole pre-LN and
 * pre-BatchNorm MLPs — on every synchronous backend (js, wasm). Control: the same check in the
 * worker pool at 1, 2 and 4 threads, whose rows are split between threads differently for every
 * batch size, and the pool's rows against the synchronous wasm backend's.
 */
import { BatchNorm, createPool, getBackend, LayerNorm, listBackends, NormError, RMSNorm, setBackend, tensor, type Tensor } from "../../src/index.js";
import { ResidualMLP } from "../models/mlp.js";
import { formatNumber } from "../report/format.js";
import { exp } from "../train/math.js";
import { deriveSeed, Rng } from "../train/rng.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext } from "../types.js";
import { MLP_CLASSES, MLP_DIN, sig } from "./common.js";

const ID = "per-sample-inference";
const POOL_THREADS = [1, 2, 4];
/**
 * The pool hands threads whole chunks of 16,384 values (256 rows at width 64): batches of 1,000 and
 * 4,096 rows span 4 and 16 chunks, so at 2 and 4 threads each thread gets part of them.
 */
const POOL_BATCHES = [2, 64, 1000, 4096];

interface Diff { maxAbs: number; bitsDiffer: number }

function compare(a: Float32Array, b: Float32Array): Diff {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let maxAbs = 0;
  let bitsDiffer = 0;
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i]) bitsDiffer++;
    const d = Math.abs(a[i] - b[i]);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  return { maxAbs, bitsDiffer };
}

const merge = (a: Diff, b: Diff): Diff => ({ maxAbs: Math.max(a.maxAbs, b.maxAbs), bitsDiffer: a.bitsDiffer + b.bitsDiffer });

/** A subject maps rows × D inputs to rows × width outputs (sync or async). */
type Subject = { name: string; D: number; width: number; out: (x: Float32Array, rows: number) => Float32Array | Promise<Float32Array> };

/** The trials: a fixed sample at a random row of random batches whose other rows vary in scale. */
interface Trial { B: number; x: Float32Array; at: number }

function trialsFor(seed: number, name: string, D: number, batches: readonly number[], trials: number): { x0: Float32Array; list: Trial[] } {
  // one stream per subject, so every backend (and the pool) sees the same inputs
  const rng = new Rng(deriveSeed(seed, ID, name));
  const x0 = new Float32Array(D);
  for (let i = 0; i < D; i++) x0[i] = 0.7 + 2 * rng.normal();
  const list: Trial[] = [];
  for (const B of batches) {
    for (let t = 0; t < trials; t++) {
      const x = new Float32Array(B * D);
      for (let r = 0; r < B; r++) {
        const scale = exp(rng.normal());
        for (let i = 0; i < D; i++) x[r * D + i] = scale * rng.normal() + rng.normal();
      }
      const at = rng.int(B);
      x.set(x0, at * D);
      list.push({ B, x, at });
    }
  }
  return { x0, list };
}

interface SubjectResult {
  /** worst difference alone vs in a batch, over all trials, and per batch size */
  worst: Diff;
  perBatch: Map<number, number>;
  /** the sample's outputs, alone then in each trial (for comparisons across backends) */
  outputs: Float32Array[];
  aloneNote: string | null;
}

async function checkSubject(s: Subject, seed: number, batches: readonly number[], trials: number): Promise<SubjectResult> {
  const { x0, list } = trialsFor(seed, s.name, s.D, batches, trials);
  let ref: Float32Array | null = null;
  let aloneNote: string | null = null;
  try {
    ref = (await s.out(x0, 1)).slice();
  } catch (e) {
    // BatchNorm in training mode has no statistics for a single value per channel
    if (!(e instanceof NormError)) throw e;
    aloneNote = `not computable alone: ${e.code}`;
  }
  const outputs: Float32Array[] = ref ? [ref] : [];
  let worst: Diff = { maxAbs: 0, bitsDiffer: 0 };
  const perBatch = new Map<number, number>();
  for (const t of list) {
    const y = (await s.out(t.x, t.B)).slice(t.at * s.width, (t.at + 1) * s.width);
    outputs.push(y);
    // without an "alone" output (BatchNorm train), compare against the sample's output in the first batch tried
    ref ??= y;
    const d = compare(y, ref);
    worst = merge(worst, d);
    perBatch.set(t.B, Math.max(perBatch.get(t.B) ?? 0, d.maxAbs));
  }
  return { worst, perBatch, outputs, aloneNote };
}

export const perSampleInference: Experiment = {
  id: ID,
  title: "A sample's LayerNorm/RMSNorm output is bitwise the same alone or in any batch; BatchNorm in training mode changes it",
  async run(ctx: ExperimentContext): Promise<ClaimResult> {
    const rng = new Rng(deriveSeed(ctx.seed, ID));
    const D = 64;
    const batches = ctx.full ? [2, 3, 8, 31, 64, 256, 1024] : [2, 8, 64, 256];
    const trials = ctx.full ? 10 : 4;
    const ln = new LayerNorm(D);
    const rms = new RMSNorm(D);
    const bn = new BatchNorm(D);
    // affine parameters away from their 1/0 init, as after training
    for (const m of [ln, rms, bn]) {
      const w = m.weight?.value.data;
      if (w) for (let i = 0; i < w.length; i++) w[i] = 1 + 0.5 * rng.normal();
      if (m.bias) rng.fillNormal(m.bias.value.data, 0.5);
    }
    // running statistics as after some training, so eval mode is not the identity
    rng.fillNormal(bn.runningMean!.data, 1);
    bn.runningVar!.data.forEach((_, i, a) => (a[i] = 0.5 + rng.uniform() * 2));
    const bnEval = new BatchNorm(D);
    bnEval.loadStateDict(bn.stateDict());
    bnEval.eval();
    const maxB = Math.max(...batches);
    const mlpLn = new ResidualMLP({ din: MLP_DIN, width: 32, hidden: 64, depth: 4, classes: MLP_CLASSES, norm: "pre-ln", maxBatch: maxB }, new Rng(deriveSeed(ctx.seed, ID, "mlp-ln")));
    const mlpBn = new ResidualMLP({ din: MLP_DIN, width: 32, hidden: 64, depth: 4, classes: MLP_CLASSES, norm: "pre-bn", maxBatch: maxB }, new Rng(deriveSeed(ctx.seed, ID, "mlp-bn")));
    const K = MLP_CLASSES;
    const dummyY = new Int32Array(maxB);
    const moduleOut = (m: LayerNorm | RMSNorm | BatchNorm) => (x: Float32Array, rows: number) => m.forward(tensor(x.slice(0, rows * D), [rows, D])).data;
    const mlpOut = (m: ResidualMLP) => (x: Float32Array, rows: number) => {
      m.forward(x, dummyY, rows);
      return m.logits.slice(0, rows * K);
    };
    const subjects: Subject[] = [
      { name: "LayerNorm", D, width: D, out: moduleOut(ln) },
      { name: "RMSNorm", D, width: D, out: moduleOut(rms) },
      { name: "BatchNorm (eval)", D, width: D, out: moduleOut(bnEval) },
      { name: "BatchNorm (train)", D, width: D, out: moduleOut(bn) },
      { name: "pre-LN MLP", D: MLP_DIN, width: K, out: mlpOut(mlpLn) },
      { name: "pre-BN MLP (train)", D: MLP_DIN, width: K, out: mlpOut(mlpBn) },
    ];
    const perSample = ["LayerNorm", "RMSNorm", "pre-LN MLP"];

    // --- every synchronous backend ---
    const backends = listBackends();
    const before = getBackend();
    const results = new Map<string, Map<string, SubjectResult>>();
    try {
      for (const b of backends) {
        setBackend(b);
        const m = new Map<string, SubjectResult>();
        for (const s of subjects) m.set(s.name, await checkSubject(s, ctx.seed, batches, trials));
        results.set(b, m);
      }
    } finally {
      setBackend(before);
    }
    const zero = (b: string, n: string) => results.get(b)!.get(n)!.worst.bitsDiffer === 0;
    const perSampleSame = backends.every((b) => perSample.every((n) => zero(b, n)));
    const bnChanges = backends.every((b) => !zero(b, "BatchNorm (train)") && !zero(b, "pre-BN MLP (train)"));
    // the same inputs on two backends: not part of the claim (their sums may round differently), shown
    const across = (n: string) => {
      const outs = backends.map((b) => results.get(b)!.get(n)!.outputs);
      let d: Diff = { maxAbs: 0, bitsDiffer: 0 };
      for (let k = 1; k < outs.length; k++) for (let i = 0; i < outs[0].length; i++) d = merge(d, compare(outs[0][i], outs[k][i]));
      return d;
    };

    // --- control: the worker pool at several thread counts ---
    const wasm = backends.includes("wasm") ? "wasm" : null;
    const poolTrials = ctx.full ? 4 : 2;
    // the synchronous wasm backend on the pool's inputs, to compare the pool's rows with
    const wasmOnPoolInputs = new Map<string, Float32Array[]>();
    if (wasm !== null) {
      try {
        setBackend("wasm");
        for (const [name, m] of [["LayerNorm", ln], ["RMSNorm", rms]] as const) {
          wasmOnPoolInputs.set(name, (await checkSubject({ name, D, width: D, out: moduleOut(m) }, ctx.seed, POOL_BATCHES, poolTrials)).outputs);
        }
      } finally {
        setBackend(before);
      }
    }
    const pool: { threads: number; bitsDiffer: number; vsWasm: number | null; maxAbs: number }[] = [];
    // without SharedArrayBuffer (a page without cross-origin isolation) the pool runs every call on
    // the calling thread: there are no thread counts to compare
    let poolNote: string | null = typeof SharedArrayBuffer === "undefined" ? "the worker pool runs on the calling thread here (no SharedArrayBuffer), so thread counts were not compared" : null;
    for (const threads of poolNote === null ? POOL_THREADS : []) {
      let p;
      try {
        p = await createPool({ threads, minElements: 0 });
      } catch (e) {
        poolNote = `the worker pool is not available here (${(e as Error).message})`;
        break;
      }
      try {
        const opsOf = (name: string) =>
          name === "LayerNorm"
            ? (x: Float32Array, rows: number) => p.layerNorm(tensor(x.slice(0, rows * D), [rows, D]), D, { weight: ln.weight!.value, bias: ln.bias!.value }).then((t: Tensor) => t.data)
            : (x: Float32Array, rows: number) => p.rmsNorm(tensor(x.slice(0, rows * D), [rows, D]), D, { weight: rms.weight!.value }).then((t: Tensor) => t.data);
        let bits = 0;
        let vsWasm: number | null = null;
        let maxAbs = 0;
        for (const name of ["LayerNorm", "RMSNorm"]) {
          const r = await checkSubject({ name, D, width: D, out: opsOf(name) }, ctx.seed, POOL_BATCHES, poolTrials);
          bits += r.worst.bitsDiffer;
          maxAbs = Math.max(maxAbs, r.worst.maxAbs);
          const w = wasmOnPoolInputs.get(name);
          if (w !== undefined) for (let i = 0; i < w.length; i++) vsWasm = (vsWasm ?? 0) + compare(r.outputs[i], w[i]).bitsDiffer;
        }
        pool.push({ threads, bitsDiffer: bits, vsWasm, maxAbs });
      } finally {
        await p.close();
      }
    }
    const poolSame = pool.every((r) => r.bitsDiffer === 0 && (r.vsWasm ?? 0) === 0);
    const verdict = perSampleSame && bnChanges && poolSame ? "reproduced" : "not reproduced";

    // --- report ---
    const shown = backends.includes("wasm") ? "wasm" : backends[0];
    const rows: Record<string, number | string | null>[] = [];
    for (const s of subjects) {
      const r = results.get(shown)!.get(s.name)!;
      for (const B of batches) {
        const v = r.perBatch.get(B) ?? 0;
        rows.push(v > 0 ? { batch: String(B), maxAbsDiff: sig(v), layer: s.name } : { batch: String(B), maxAbsDiff: null, layer: s.name, why: "0 · bitwise" });
      }
    }
    const charts: ChartSpec[] = [
      {
        id: "per-sample-diff", title: `Largest |difference| of one sample's output inside a batch vs alone (${shown} backend)`, kind: "bar",
        x: { field: "batch", title: "batch size" }, y: { field: "maxAbsDiff", title: "max |difference|", scale: "log" },
        series: "layer", marker: "why", data: rows,
        caption: "\"0 · bitwise\": the sample's output is bitwise identical to its output alone in every batch of that size. BatchNorm in training mode cannot normalize a batch of one (normkit raises TOO_FEW_VALUES, as PyTorch does), so its reference is the sample's output in the first batch tried.",
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = {
      "Batch sizes, trials per size, width": `${batches.join(", ")}; ${trials}; ${D}`,
      Backends: backends.join(", "),
    };
    for (const b of backends) {
      for (const s of subjects) {
        const r = results.get(b)!.get(s.name)!;
        evidence[`${b}: ${s.name}, elements not bitwise equal (max |Δ|)`] = `${r.worst.bitsDiffer} (${formatNumber(r.worst.maxAbs)})${r.aloneNote ? `; ${r.aloneNote}` : ""}`;
      }
    }
    for (const n of ["LayerNorm", "RMSNorm"]) {
      const d = across(n);
      evidence[`${n}: js vs wasm on the same inputs, max |Δ| (not part of the claim)`] = backends.length > 1 ? `${formatNumber(d.maxAbs)} (${d.bitsDiffer} elements differ)` : "one backend only";
    }
    for (const r of pool) {
      evidence[`Pool, ${r.threads} thread${r.threads > 1 ? "s" : ""}: elements not bitwise equal alone vs in batch · vs the wasm backend`] = `${r.bitsDiffer} · ${r.vsWasm ?? "no wasm backend"}`;
    }
    if (poolNote) evidence["Pool"] = poolNote;
    const bnTrain = results.get(shown)!.get("BatchNorm (train)")!.worst.maxAbs;
    const bnEvalD = results.get(shown)!.get("BatchNorm (eval)")!.worst.maxAbs;
    const poolText = poolNote ? "pool not available here" : `pool at ${pool.map((r) => r.threads).join("/")} threads ${poolSame ? "bitwise identical, and equal to wasm" : "differs"}`;
    return {
      id: ID,
      title: this.title,
      shortTitle: "A sample's LayerNorm output is bitwise the same in any batch; BatchNorm's not",
      explanation:
        `A fixed sample (width ${D}) is put at a random position in ${trials} random batches of each size (${batches.join(", ")}), whose other rows have varied scales, and its output row is compared bit for bit with its output alone. ` +
        `Subjects: normkit's LayerNorm, RMSNorm and BatchNorm modules (random affine parameters; BatchNorm with non-trivial running statistics), and whole depth-4 residual MLPs with pre-LN or BatchNorm, on each synchronous backend (${backends.join(", ")}).`,
      verdict,
      rule:
        "Reproduced when, on every synchronous backend, the LayerNorm, RMSNorm and pre-LN-MLP outputs of the sample are bitwise identical to its output alone in every batch, BatchNorm in training mode (module and MLP) changes the sample's output in at least one batch, " +
        `and (control) in the worker pool at ${POOL_THREADS.join(", ")} threads, over batches of ${POOL_BATCHES.join(", ")} rows, LayerNorm's and RMSNorm's outputs are bitwise identical alone and in every batch and equal to the wasm backend's, bit for bit. Otherwise not reproduced. Where the pool cannot run (no SharedArrayBuffer), its part is reported as not available.`,
      control: poolNote ?? `The worker pool at ${POOL_THREADS.join(", ")} threads, batches of ${POOL_BATCHES.join(", ")} rows: it hands threads whole chunks of 256 rows (at width 64), so the larger batches are split between 2 and 4 threads. Elements of the sample's row that differ from its output alone or from the synchronous wasm backend's: ${pool.map((r) => `${r.bitsDiffer + (r.vsWasm ?? 0)} at ${r.threads} thread${r.threads > 1 ? "s" : ""}`).join(", ")}.`,
      evidence,
      charts,
      headline: `${perSampleSame ? "bitwise identical" : "differs"} on ${backends.join(" and ")}${poolNote ? "" : ` and in the pool at ${POOL_THREADS.join("/")} threads`}; BatchNorm (train) max |Δ| ${formatNumber(bnTrain)}`,
      summary: `LayerNorm/RMSNorm/pre-LN MLP ${perSampleSame ? "bitwise identical in every batch" : "differ"} on ${backends.join(" and ")}; ${poolText}; BatchNorm (train) max |Δ| ${formatNumber(bnTrain)}, eval ${formatNumber(bnEvalD)}`,
    };
  },
};
