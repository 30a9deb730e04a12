/**
 * Gradient checks of every issue #12 backward through the public API, on every backend: for
 * random directions v of each input p, the API's ⟨∂L/∂p, v⟩ (float32 kernels) equals the central
 * difference (L(p + hv) − L(p − hv))/2h of the float64 reference forward (reference.*, itself
 * checked against PyTorch by test/core/reference-ops.test.ts), L = Σ dy·y (+ Σ dh·h for the add
 * ops). Fused add (dx shared by x and residual, dinputBias, dh), weightOffset, channels-last
 * GroupNorm with and without SiLU, InstanceNorm (both modes), BatchNorm on the kernels.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { reference as ref } from "../../src/index.js";
import { eachBackend, rng } from "../helpers.js";

const H = 1e-6;
const r = rng(1212);
/** float32-representable values as float64 (the API and the reference see the same inputs) */
const vec = (n: number, scale = 1, offset = 0) => Float64Array.from(r.tensor([n], scale, offset).data);
const f32 = (p: Float64Array, shape: number[]): nk.Tensor => ({ shape, data: Float32Array.from(p) });
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

type Inputs = Record<string, { p: Float64Array; grad: ArrayLike<number> | null | undefined }>;

/** ⟨grad, v⟩ = directional central difference of loss, for 3 random directions of each input. */
function checkDirectional(what: string, inputs: Inputs, loss: () => number): void {
  for (const [name, { p, grad }] of Object.entries(inputs)) {
    assert.ok(grad, `${what}: no gradient for ${name}`);
    assert.equal(grad.length, p.length, `${what}: ${name} gradient length`);
    for (let t = 0; t < 3; t++) {
      const v = vec(p.length);
      const at = (s: number) => {
        const saved = Float64Array.from(p);
        for (let i = 0; i < p.length; i++) p[i] += s * v[i]!;
        const l = loss();
        p.set(saved);
        return l;
      };
      const numeric = (at(H) - at(-H)) / (2 * H);
      const analytic = dot(grad, v);
      assert.ok(Math.abs(numeric - analytic) <= 1e-4 * Math.max(1, Math.abs(numeric)), `${what}: ${name}: analytic ${analytic} vs numeric ${numeric}`);
    }
  }
}

eachBackend((backend) => {
  for (const rms of [false, true]) {
    const op = rms ? "addRmsNorm" : "addLayerNorm";
    test(`[${backend}] gradcheck ${op}Backward: dx for x and residual (with dh), dinputBias, dweight (weightOffset 1), dbias`, () => {
      nk.setBackend(backend);
      const rows = 4, D = 9, shape = [rows, D];
      const x = vec(rows * D, 1.5, 0.3), residual = vec(rows * D), inputBias = vec(D, 0.5), dy = vec(rows * D), dh = vec(rows * D);
      const weight = vec(D, 0.3), bias = vec(D);
      const o = { weight: f32(weight, [D]), bias: f32(bias, [D]), weightOffset: 1, inputBias: f32(inputBias, [D]) };
      const fwd = rms ? nk.addRmsNorm : nk.addLayerNorm;
      const bwd = rms ? nk.addRmsNormBackward : nk.addLayerNormBackward;
      const { h } = fwd(f32(x, shape), f32(residual, shape), D, o);
      const g = bwd(f32(dy, shape), h, D, { ...o, dh: f32(dh, shape) });
      const ro = { weight, bias, eps: rms ? 2 ** -23 : 1e-5, weightOffset: 1 };
      // the loss on the exact sum: the float32 rounding of h is not differentiable
      const loss = () => {
        const hh = Float64Array.from(x, (v, k) => v + residual[k]! + inputBias[k % D]!);
        return dot(dy, ref.rowNormModeRef(rms, hh, rows, D, ro)) + dot(dh, hh);
      };
      checkDirectional(op, {
        x: { p: x, grad: g.dx.data }, residual: { p: residual, grad: g.dx.data }, inputBias: { p: inputBias, grad: g.dinputBias?.data },
        weight: { p: weight, grad: g.dweight?.data }, bias: { p: bias, grad: g.dbias?.data },
      }, loss);
    });

    test(`[${backend}] gradcheck ${rms ? "rmsNorm" : "layerNorm"}Backward with weightOffset 1`, () => {
      nk.setBackend(backend);
      const rows = 3, D = 7, shape = [rows, D];
      const x = vec(rows * D, 2, 0.5), dy = vec(rows * D), weight = vec(D, 0.2), bias = vec(D);
      const o = { weight: f32(weight, [D]), bias: f32(bias, [D]), weightOffset: 1 };
      const g = (rms ? nk.rmsNormBackward : nk.layerNormBackward)(f32(dy, shape), f32(x, shape), D, o);
      const ro = { weight, bias, eps: rms ? 2 ** -23 : 1e-5, weightOffset: 1 };
      checkDirectional("offset", { x: { p: x, grad: g.dx.data }, weight: { p: weight, grad: g.dweight?.data }, bias: { p: bias, grad: g.dbias?.data } },
        () => dot(dy, ref.rowNormModeRef(rms, x, rows, D, ro)));
    });
  }

  for (const [channelsLast, activation] of [[true, "silu"], [true, null], [false, "silu"]] as const) {
    test(`[${backend}] gradcheck groupNormBackward channelsLast=${channelsLast} activation=${activation}`, () => {
      nk.setBackend(backend);
      const N = 2, C = 6, S = 5, G = 3;
      const shape = channelsLast ? [N, S, C] : [N, C, S];
      const x = vec(N * C * S, 1.5, -0.3), dy = vec(N * C * S), weight = vec(C, 1, 1), bias = vec(C);
      const o = { weight: f32(weight, [C]), bias: f32(bias, [C]), channelsLast, activation };
      const g = nk.groupNormBackward(f32(dy, shape), f32(x, shape), G, o);
      checkDirectional("groupNorm", { x: { p: x, grad: g.dx.data }, weight: { p: weight, grad: g.dweight?.data }, bias: { p: bias, grad: g.dbias?.data } },
        () => dot(dy, ref.groupNormModeRef(x, N, C, S, G, { weight, bias, eps: 1e-5, channelsLast, activation })));
    });
  }

  for (const [useInputStats, affine] of [[true, true], [true, false], [false, true]] as const) {
    test(`[${backend}] gradcheck instanceNormBackward useInputStats=${useInputStats} affine=${affine}`, () => {
      nk.setBackend(backend);
      const N = 3, C = 2, S = 5, shape = [N, C, S];
      const x = vec(N * C * S, 1.3, 0.2), dy = vec(N * C * S);
      const weight = vec(C, 1, 1), bias = vec(C);
      const runningMean = vec(C, 0.3), runningVar = vec(C).map((v) => Math.abs(v) + 0.5);
      const running = { runningMean: f32(runningMean, [C]), runningVar: f32(runningVar, [C]) };
      const params = affine ? { weight: f32(weight, [C]), bias: f32(bias, [C]) } : {};
      const g = nk.instanceNormBackward(f32(dy, shape), f32(x, shape), { ...params, ...running, useInputStats });
      const ro = () => ({ weight: affine ? weight : null, bias: affine ? bias : null, runningMean, runningVar, useInputStats, momentum: 0.1, eps: 1e-5 });
      const inputs: Inputs = { x: { p: x, grad: g.dx.data } };
      if (affine) Object.assign(inputs, { weight: { p: weight, grad: g.dweight?.data }, bias: { p: bias, grad: g.dbias?.data } });
      checkDirectional("instanceNorm", inputs, () => dot(dy, ref.instanceNormRef(x, N, C, S, ro()).y));
    });
  }

  for (const training of [true, false]) {
    test(`[${backend}] gradcheck batchNormBackward on the kernels, training=${training}`, () => {
      nk.setBackend(backend);
      const N = 4, C = 3, S = 5, shape = [N, C, S];
      const x = vec(N * C * S, 1.2, 0.4), dy = vec(N * C * S), weight = vec(C, 1, 1), bias = vec(C);
      const runningMean = vec(C, 0.3), runningVar = vec(C).map((v) => Math.abs(v) + 0.5);
      const o = { weight: f32(weight, [C]), bias: f32(bias, [C]), runningMean: f32(runningMean, [C]), runningVar: f32(runningVar, [C]), training };
      const g = nk.batchNormBackward(f32(dy, shape), f32(x, shape), o);
      const ro = () => ({ weight, bias, runningMean, runningVar, training, momentum: 0.1, eps: 1e-5 });
      checkDirectional("batchNorm", { x: { p: x, grad: g.dx.data }, weight: { p: weight, grad: g.dweight?.data }, bias: { p: bias, grad: g.dbias?.data } },
        () => dot(dy, ref.batchNormRef(x, N, C, S, ro()).y));
    });
  }
});
