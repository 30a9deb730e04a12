/**
 * The lab's models: analytic gradients (explicit backward, normkit's norm modules inside) against
 * central finite differences of the loss, per parameter tensor along a random unit direction, on
 * tiny configurations of every variant. float32 forward → step 1e-2 and a relative+absolute tolerance.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GPT, type GptNorm } from "../../lab/models/gpt.js";
import { ResidualMLP, type MlpNorm } from "../../lab/models/mlp.js";
import { ConvNet, type ConvNorm } from "../../lab/models/convnet.js";
import { col2im, im2col, patchIndex, type ConvShape } from "../../lab/train/conv.js";
import { Rng } from "../../lab/train/rng.js";
import { zeroGrads, type Param } from "../../lab/train/params.js";

interface Model {
  params: Param[];
  backward(): void;
}

/** For each parameter tensor: (L(θ+εd) − L(θ−εd))/2ε vs ∇L·d, d a random unit vector in that tensor. */
function checkGrads(model: Model, loss: () => number, what: string, rng: Rng, eps = 1e-2): number {
  zeroGrads(model.params);
  loss();
  model.backward();
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

test("GPT with Xavier init (Xiong et al.'s setting), post-LN: backward matches finite differences", () => {
  const rng = new Rng(9);
  const cfg = { vocab: 7, T: 5, C: 8, heads: 2, layers: 2, norm: "post-ln" as GptNorm, maxBatch: 2, init: "xavier" as const };
  const model = new GPT(cfg, rng);
  const tokens = new Int32Array(2 * cfg.T).map(() => rng.int(cfg.vocab));
  const targets = new Int32Array(2 * cfg.T).map(() => rng.int(cfg.vocab));
  assert.equal(checkGrads(model, () => model.forward(tokens, targets, 2), "GPT xavier", rng), model.params.length);
});

for (const init of ["standard", "scaled"] as const) {
  test(`ResidualMLP without norm, ${init} init: the scaled init is the same draws with W2 ×1/√(2L)`, () => {
    const cfg = { din: 5, width: 6, hidden: 9, depth: 8, classes: 4, norm: "none" as MlpNorm, maxBatch: 4 };
    const a = new ResidualMLP(cfg, new Rng(2));
    const b = new ResidualMLP({ ...cfg, init }, new Rng(2));
    for (let k = 0; k < a.params.length; k++) {
      const f = init === "scaled" && /\.w2$/.test(a.params[k].name) ? 1 / Math.sqrt(2 * cfg.depth) : 1;
      for (let i = 0; i < a.params[k].value.length; i++) assert.equal(b.params[k].value[i], Math.fround(a.params[k].value[i] * f), a.params[k].name);
    }
  });
}

test("im2col and col2im are adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ (stride 2, padding, several channels)", () => {
  const rng = new Rng(4);
  const s: ConvShape = { B: 2, Cin: 3, H: 5, W: 5, K: 3, stride: 2, pad: 1 };
  const positions = 2 * 3 * 3;
  const x = rng.fillNormal(new Float32Array(2 * 3 * 25), 1);
  const c = rng.fillNormal(new Float32Array(positions * 27), 1);
  const cols = new Float32Array(positions * 27);
  const idx = patchIndex(s);
  im2col(cols, x, s, idx);
  const back = new Float32Array(x.length);
  col2im(back, c, s, idx);
  let lhs = 0;
  let rhs = 0;
  for (let i = 0; i < cols.length; i++) lhs += cols[i] * c[i];
  for (let i = 0; i < x.length; i++) rhs += x[i] * back[i];
  assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.abs(lhs), `${lhs} vs ${rhs}`);
  // the centre tap of the first output position reads pixel (0, 0) of each channel
  assert.equal(cols[4], x[0]);
  assert.equal(cols[0], 0, "padding reads zero");
});

for (const norm of ["batchnorm", "groupnorm", "layernorm"] as ConvNorm[]) {
  test(`ConvNet ${norm}: backward matches finite differences`, () => {
    const rng = new Rng(13);
    const cfg = { size: 6, channels: [4, 4] as [number, number], convs: 3 as const, groups: 2, classes: 3, norm, maxBatch: 4 };
    const model = new ConvNet(cfg, rng);
    const B = 3;
    const x = rng.fillNormal(new Float32Array(B * 36), 1);
    const y = new Int32Array(B).map(() => rng.int(cfg.classes));
    // ε = 3e-3: ReLU kinks within ±1e-2 of a pre-activation make the wider difference cross them
    // (with BatchNorm, conv0.w's difference quotient reads −1.8e-3 at ε = 3e-2, −3.3e-3 at 1e-2, and
    // settles at the analytic −3.89e-3 from 3e-3 down)
    assert.equal(checkGrads(model, () => model.forward(x, y, B), `ConvNet ${norm}`, rng, 3e-3), model.params.length);
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
