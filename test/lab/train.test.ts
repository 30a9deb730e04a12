/** The lab's training machinery: kernels, AdamW, the trainer's divergence handling, data, determinism. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { matmulBackward, matmulForward } from "../../lab/train/kernels.js";
import { AdamW, param } from "../../lab/train/params.js";
import { Rng } from "../../lab/train/rng.js";
import { train } from "../../lab/train/trainer.js";
import { CharData } from "../../lab/train/data.js";
import { DEFAULT_CORPUS_NAME, DEFAULT_CORPUS_PATH, loadDefaultCorpus } from "../../lab/corpus/index.js";
import { experiments } from "../../lab/experiments/index.js";
import { mlpTask, runMlp } from "../../lab/experiments/common.js";
import type { ExperimentContext, Progress, RunRecord } from "../../lab/types.js";
import { assertBitwise, assertClose } from "../helpers.js";

const silent: Progress = { start: () => ({ update() {}, end() {} }), log() {} };
const context = (records: RunRecord[] = []): ExperimentContext => ({ full: false, seed: 5, corpus: "", corpusName: "", progress: silent, record: (r) => records.push(r) });

test("matmul forward/backward match a float64 triple loop (sizes not multiples of 4)", () => {
  const rng = new Rng(1);
  const [N, C, OC] = [7, 11, 5];
  const x = rng.fillNormal(new Float32Array(N * C), 1);
  const w = rng.fillNormal(new Float32Array(C * OC), 1);
  const b = rng.fillNormal(new Float32Array(OC), 1);
  const dout = rng.fillNormal(new Float32Array(N * OC), 1);
  const out = new Float32Array(N * OC);
  matmulForward(out, x, w, b, N, C, OC);
  const want = new Float64Array(N * OC);
  const dxWant = new Float64Array(N * C);
  const dwWant = new Float64Array(C * OC);
  const dbWant = new Float64Array(OC);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < OC; j++) {
      let s = b[j];
      for (let k = 0; k < C; k++) {
        s += x[i * C + k] * w[k * OC + j];
        dxWant[i * C + k] += dout[i * OC + j] * w[k * OC + j];
        dwWant[k * OC + j] += x[i * C + k] * dout[i * OC + j];
      }
      want[i * OC + j] = s;
      dbWant[j] += dout[i * OC + j];
    }
  }
  assertClose(out, want, 1e-5, "out");
  const dx = new Float32Array(N * C);
  const dw = new Float32Array(C * OC);
  const db = new Float32Array(OC);
  matmulBackward(dx, dw, db, dout, x, w, N, C, OC);
  assertClose(dx, dxWant, 1e-5, "dx");
  assertClose(dw, dwWant, 1e-5, "dw");
  assertClose(db, dbWant, 1e-5, "db");
  // a row's output and input gradient depend only on that row: bitwise the same alone, whether the
  // row sat in a block of four (row 3), a pair (row 5) or the tail (row 6)
  for (const r of [3, 5, 6]) {
    const one = new Float32Array(OC);
    matmulForward(one, x.subarray(r * C, (r + 1) * C), w, b, 1, C, OC);
    assertBitwise(one, out.subarray(r * OC, (r + 1) * OC), `row ${r} alone vs in batch`);
    const dxOne = new Float32Array(C);
    matmulBackward(dxOne, new Float32Array(C * OC), null, dout.subarray(r * OC, (r + 1) * OC), x.subarray(r * C, (r + 1) * C), w, 1, C, OC);
    assertBitwise(dxOne, dx.subarray(r * C, (r + 1) * C), `dx row ${r} alone vs in batch`);
  }
});

test("AdamW: one step equals torch.optim.AdamW's formula", () => {
  const p = param("w", 2, true);
  p.value.set([1, -2]);
  p.grad.set([0.5, -0.1]);
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.01 });
  opt.step();
  // step 1: m̂ = g, v̂ = g², update = lr·(g/(|g| + eps) + wd·θ)
  const want = [1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01 * 1), -2 - 0.1 * (-0.1 / (0.1 + 1e-8) + 0.01 * -2)];
  assertClose(p.value, want, 1e-6, "θ after one step");
  p.grad.set([30, 40]); // norm 50
  const clipped = new AdamW([p], { lr: 0.1, clip: 1 });
  assert.equal(clipped.step(), 50);
  assert.equal(clipped.clipped, 1);
});

test("trainer: a NaN loss or a blow-up is reported as divergence, not thrown", () => {
  const records: RunRecord[] = [];
  const p = param("w", 1, false);
  const base = { ctx: context(records), experiment: "t", label: "t", config: {}, seed: 0, steps: 50, logEvery: 5, params: [p], backward() {} };
  const nan = train({ ...base, opt: new AdamW([p], { lr: 0.1 }), forward: (s) => (s === 12 ? NaN : 1) });
  assert.equal(nan.diverged, true);
  assert.equal(nan.divergedAt, 12);
  assert.match(nan.reason!, /NaN/);
  assert.equal(nan.finalLoss, null);
  const blow = train({ ...base, opt: new AdamW([p], { lr: 0.1 }), forward: (s) => 1 + s });
  assert.equal(blow.diverged, true);
  assert.match(blow.reason!, /blew up/);
  const fine = train({ ...base, opt: new AdamW([p], { lr: 0.1 }), forward: (s) => 2 - s / 50 });
  assert.equal(fine.diverged, false);
  assert.equal(fine.losses.length, 10);
  assert.deepEqual(records.map((r) => r.diverged), [true, true, false]);
});

test("same seed, same numbers; another seed index, other numbers", () => {
  const task = mlpTask(5);
  const go = (seedIndex: number) => runMlp({ ctx: context(), experiment: "t", norm: "pre-ln", depth: 3, batch: 8, lr: 1e-2, steps: 20, logEvery: 5, seedIndex, task }).result;
  const a = go(0);
  const b = go(0);
  const c = go(1);
  assert.deepEqual(a.losses, b.losses);
  assert.equal(a.evalLoss, b.evalLoss);
  assert.notDeepEqual(a.losses, c.losses);
});

test("default corpus: shipped, at most 2 MB, with its source and license next to it", () => {
  const text = loadDefaultCorpus();
  assert.ok(statSync(DEFAULT_CORPUS_PATH).size <= 2 * 1024 * 1024);
  assert.ok(text.startsWith("CHAPTER 1. Loomings."));
  assert.match(DEFAULT_CORPUS_NAME, /Moby-Dick/);
  assert.ok(existsSync(new URL("SOURCE.md", `file://${DEFAULT_CORPUS_PATH}`)));
});

test("CharData: targets are the next characters, held-out windows come from the tail", () => {
  const text = "abcdefghij".repeat(20);
  const d = new CharData(text);
  assert.equal(d.vocab.join(""), "abcdefghij");
  const T = 6;
  const tok = new Int32Array(3 * T);
  const tgt = new Int32Array(3 * T);
  d.batch(tok, tgt, 3, T, new Rng(1), true);
  for (let i = 0; i < tok.length; i++) if ((i + 1) % T) assert.equal(tgt[i], tok[i + 1]);
  for (let i = 0; i < tok.length; i++) assert.equal(tgt[i], (tok[i] + 1) % 10);
});

test("experiments: the claims in order, then the papers", () => {
  assert.deepEqual(experiments.map((e) => e.id), [
    "hidden-state-scale", "stable-training", "batchnorm-batch-dependence", "per-sample-inference", "rmsnorm-cost", "layernorm-memory-access",
    "xiong-2020", "wu-he-2018", "zhang-sennrich-2019",
  ]);
});

test("per-sample-inference runs end to end and decides from its measurements", async () => {
  const e = experiments.find((x) => x.id === "per-sample-inference")!;
  const r = await e.run(context());
  assert.equal(r.verdict, "reproduced");
  for (const b of ["js", "wasm"]) {
    assert.equal(r.evidence[`${b}: LayerNorm, elements not bitwise equal (max |Δ|)`], "0 (0)");
    assert.equal(r.evidence[`${b}: pre-LN MLP, elements not bitwise equal (max |Δ|)`], "0 (0)");
    assert.match(String(r.evidence[`${b}: BatchNorm (train), elements not bitwise equal (max |Δ|)`]), /^[1-9]\d* \(.*\); not computable alone: TOO_FEW_VALUES$/);
  }
  for (const t of [1, 2, 4]) assert.equal(r.evidence[`Pool, ${t} thread${t > 1 ? "s" : ""}: elements not bitwise equal alone vs in batch · vs the wasm backend`], "0 · 0");
  assert.ok(r.charts.every((c) => c.data.length > 0));
});

test("memory-efficiency claim: the verdict follows its rule on a hardware GPU's numbers, and without one is inconclusive", async () => {
  const e = experiments.find((x) => x.id === "layernorm-memory-access")!;
  // a made-up GPU result, only to exercise the rule: LayerNorm 2× slower than RMSNorm, then as fast
  const gpu = (lnMs: number) => ({
    adapter: "test GPU", cpu: false, shape: [8192, 1024] as [number, number], timing: "timestamps", copyMs: 1, copyBufferMs: 1,
    ms: { layerNormForward: lnMs, rmsNormForward: 1, layerNormBackward: 1.5 * lnMs, rmsNormBackward: 1.5 },
  });
  const run = (lnMs: number | null) =>
    e.run({ ...context(), env: lnMs === null ? undefined : { gpuBandwidth: async () => ({ results: [gpu(lnMs)] }) } });
  const slow = await run(2);
  assert.equal(slow.verdict, "reproduced", slow.summary);
  assert.match(String(slow.evidence["GPU: LayerNorm is"]), /^less efficient/);
  const same = await run(1);
  assert.equal(same.verdict, "not reproduced", same.summary);
  const none = await run(null);
  assert.equal(none.verdict, "inconclusive");
  assert.match(none.summary, /no hardware GPU/);
  assert.equal(none.evidence["WebGPU"], "this front end offers no WebGPU");
});
