/**
 * The lab's models: analytic gradients (explicit backward, normkit's norm modules inside) against
 * central finite differences of the loss, per parameter tensor along a random unit direction, on
 * tiny configurations of every variant. float32 forward → step 1e-2 and a relative+absolute tolerance.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GPT, type GptNorm } from "../../lab/models/gpt.js";
import { ResidualMLP, type MlpNorm } from "../../lab/models/mlp.js";
import { Rng } from "../../lab/train/rng.js";
import { zeroGrads, type Param } from "../../lab/train/params.js";

interface Model {
  params: Param[];
  backward(): void;
}

/** For each parameter tensor: (L(θ+εd) − L(θ−εd))/2ε vs ∇L·d, d a random unit vector in that tensor. */
function checkGrads(model: Model, loss: () => number, what: string, rng: Rng): number {
  zeroGrads(model.params);
  loss();
  model.backward();
  const eps = 1e-2;
  let checked = 0;
  for (const p of model.params) {
    const d = new Float32Array(p.value.length);
    rng.fillNormal(d, 1);
    let nd = 0;
    for (const v of d) nd += v * v;
    nd = Math.sqrt(nd);
    let analytic = 0;
    for (let i = 0; i < d.length; i++) {
      d[i] /= nd;
      analytic += p.grad[i] * d[i];
    }
    const saved = p.value.slice();
    for (let i = 0; i < d.length; i++) p.value[i] = saved[i] + eps * d[i];
    const lp = loss();
    for (let i = 0; i < d.length; i++) p.value[i] = saved[i] - eps * d[i];
    const lm = loss();
    p.value.set(saved);
    const numeric = (lp - lm) / (2 * eps);
    const err = Math.abs(numeric - analytic);
    assert.ok(
      err <= 2e-2 * Math.abs(analytic) + 5e-4,
      `${what} ${p.name}: analytic ${analytic}, numeric ${numeric} (err ${err})`,
    );
    checked++;
  }
  return checked;
}

for (const norm of ["pre-ln", "post-ln", "pre-rms", "none"] as GptNorm[]) {
  test(`GPT ${norm}: backward matches finite differences`, () => {
    const rng = new Rng(7);
    const cfg = { vocab: 7, T: 5, C: 8, heads: 2, layers: 2, norm, maxBatch: 2 };
    const model = new GPT(cfg, rng);
    // norm gains/biases away from 1/0 so their gradients are exercised non-trivially
    for (const p of model.params) if (p.name.includes("ln")) for (let i = 0; i < p.value.length; i++) p.value[i] += 0.3 * rng.normal();
    // embeddings at std 0.5 rather than 0.02: a stream of RMS ~0.03 would make LayerNorm so curved at
    // that scale that the ε = 1e-2 central difference itself is off by several percent
    for (const p of model.params) if (p.name === "wte" || p.name === "wpe") for (let i = 0; i < p.value.length; i++) p.value[i] *= 25;
    const B = 2;
    const tokens = new Int32Array(B * cfg.T).map(() => rng.int(cfg.vocab));
    const targets = new Int32Array(B * cfg.T).map(() => rng.int(cfg.vocab));
    const n = checkGrads(model, () => model.forward(tokens, targets, B), `GPT ${norm}`, rng);
    assert.equal(n, model.params.length);
    // every tensor checked, norm gains/biases included: 3 + 8 per layer, plus 2 norms per layer (+ final for pre-norm)
    const norms = norm === "none" ? 0 : norm === "post-ln" ? 4 : 5;
    assert.equal(n, 19 + norms * (norm === "pre-rms" ? 1 : 2));
  });
}

for (const norm of ["none", "pre-ln", "post-ln", "pre-rms", "pre-bn"] as MlpNorm[]) {
  test(`ResidualMLP ${norm}: backward matches finite differences`, () => {
    const rng = new Rng(11);
    const cfg = { din: 5, width: 6, hidden: 9, depth: 3, classes: 4, norm, maxBatch: 8 };
    const model = new ResidualMLP(cfg, rng);
    const B = 6; // fewer rows than the buffers hold: the views must be used, not the whole buffer
    const x = new Float32Array(B * cfg.din);
    rng.fillNormal(x, 1);
    const y = new Int32Array(B).map(() => rng.int(cfg.classes));
    checkGrads(model, () => model.forward(x, y, B), `MLP ${norm}`, rng);
  });
}

test("the check can fail: a corrupted gradient is caught", () => {
  const rng = new Rng(3);
  const model = new ResidualMLP({ din: 4, width: 4, hidden: 6, depth: 2, classes: 3, norm: "pre-ln", maxBatch: 4 }, rng);
  const x = new Float32Array(16);
  rng.fillNormal(x, 1);
  const y = new Int32Array([0, 1, 2, 0]);
  const broken: Model = {
    params: model.params,
    backward() {
      model.backward();
      const g = model.params.find((p) => p.name === "block1.w2")!.grad;
      for (let i = 0; i < g.length; i++) g[i] *= 1.5;
    },
  };
  assert.throws(() => checkGrads(broken, () => model.forward(x, y, 4), "broken", rng), /block1\.w2/);
});
