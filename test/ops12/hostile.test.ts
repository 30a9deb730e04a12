/**
 * Issue #12's entry points as a hostile user calls them, on every synchronous backend:
 * misspelled keys (UNKNOWN_OPTION with the closest key), polluted prototypes (nothing read from
 * Object.prototype), every aliasing pair of the add ops (residualOut = residual exactly is the one
 * allowed alias), dtype mismatches and half data with a wrong dtype tag, bad option values,
 * getters that run once, mutation between a module's forward and backward. The answer is the
 * right result or a NormError naming the argument; inputs are never modified.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { eachBackend } from "../helpers.js";
import { t, throwsNorm, unchanged, wave, withPolluted } from "../core/hostile.js";

const R = 4, D = 6;
const x = t([R, D], wave), res = t([R, D], (i) => wave(i + 5)), dy = t([R, D], (i) => wave(i + 3)), dh = t([R, D], (i) => wave(i + 7) / 3);
const w = t([D], (i) => 0.5 + i / 10), b = t([D], (i) => i / 7 - 0.3), ib = t([D], (i) => (i - 2) / 9);
const hx = nk.cast(x, "float16"), hres = nk.cast(res, "float16"), hdy = nk.cast(dy, "float16");
// [N, C, H, W] = [2, 4, 3, 4]: 4 channels first, and 4 channels last too
const x4 = t([2, 4, 3, 4], wave), dy4 = t([2, 4, 3, 4], (i) => wave(i + 1));
const w4 = t([4], (i) => 1 + i / 3), b4 = t([4], (i) => -i / 5);
const bitsOf = (a: nk.AnyTensor) => [...new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)];
const sameBits = (a: nk.AnyTensor, c: nk.AnyTensor, what: string) => assert.deepEqual(bitsOf(a), bitsOf(c), what);
/** Runs fn and asserts no tensor of any dtype changed, bit for bit. */
async function unchangedAll(ts: nk.AnyTensor[], fn: () => unknown): Promise<void> {
  const before = ts.map(bitsOf);
  try {
    await fn();
  } finally {
    ts.forEach((a, i) => assert.deepEqual(bitsOf(a), before[i], `input ${i} was modified`));
  }
}

const typos: Array<[() => unknown, string, string]> = [
  [() => nk.addLayerNorm(x, res, D, { residualOutt: t([R, D]) } as never), "residualOutt", "residualOut"],
  [() => nk.addRmsNorm(x, res, D, { input_bias: ib } as never), "input_bias", "inputBias"],
  [() => nk.addRmsNorm(x, res, D, { weight_offset: 1 } as never), "weight_offset", "weightOffset"],
  [() => nk.addLayerNormBackward(dy, x, D, { dH: dh } as never), "dH", "dh"],
  [() => nk.addRmsNormBackward(dy, x, D, { inputBias: ib, into: { dinputbias: t([D]) } } as never), "into.dinputbias", "dinputBias"],
  [() => nk.layerNorm(x, D, { offset: 1 } as never), "offset", "weightOffset"],
  [() => nk.rmsNorm(x, D, { casting_mode: "llama" } as never), "casting_mode", "castingMode"],
  [() => nk.rmsNormBackward(dy, x, D, { castingmode: "none" } as never), "castingmode", "castingMode"],
  [() => nk.groupNorm(x4, 2, { channelLast: true } as never), "channelLast", "channelsLast"],
  [() => nk.groupNormForward(x4, 2, { activaton: "silu" } as never), "activaton", "activation"],
  [() => nk.groupNormBackward(dy4, x4, 2, { Mean: t([2, 2]) } as never), "Mean", "mean"],
  [() => nk.instanceNorm(x4, { use_input_stats: false } as never), "use_input_stats", "useInputStats"],
  [() => nk.instanceNormBackward(dy4, x4, { runningMaen: t([4]) } as never), "runningMaen", "runningMean"],
  [() => new nk.InstanceNorm(3, { track_running_stats: true } as never), "track_running_stats", "trackRunningStats"],
  [() => new nk.RMSNorm(D, { weightoffset: 1 } as never), "weightoffset", "weightOffset"],
  [() => new nk.GroupNorm(2, 4, { act: "silu" } as never), "act", "activation"],
];

eachBackend((backend) => {
  test(`[${backend}] #12 options: misspelled keys are UNKNOWN_OPTION with the closest key; nothing is modified`, async () => {
    nk.setBackend(backend);
    for (const [call, key, want] of typos) {
      await unchanged([x, res, dy, dh, w, b, ib, x4, dy4], async () => {
        const e = await throwsNorm(call, "UNKNOWN_OPTION", key);
        assert.ok(e.message.includes(`did you mean "${want}"`), e.message);
      });
    }
  });

  test(`[${backend}] #12 options: bad values are NormErrors naming the option`, async () => {
    nk.setBackend(backend);
    await throwsNorm(() => nk.layerNorm(x, D, { weightOffset: NaN }), "BAD_ARGUMENT", "weightOffset");
    await throwsNorm(() => nk.rmsNorm(x, D, { weightOffset: "1" } as never), "BAD_ARGUMENT", "weightOffset");
    await throwsNorm(() => nk.rmsNorm(hx, D, { castingMode: "fp32" } as never), "BAD_ARGUMENT", "castingMode", ['"gemma", "llama" or "none"']);
    await throwsNorm(() => nk.groupNorm(x4, 2, { activation: "relu" } as never), "BAD_ARGUMENT", "activation");
    await throwsNorm(() => nk.groupNorm(x4, 2, { channelsLast: "true" } as never), "BAD_ARGUMENT", "channelsLast");
    await throwsNorm(() => nk.groupNorm(t([2, 3, 4, 6]), 4, { channelsLast: true }), "BAD_NUM_GROUPS", "numGroups", ["6 channels"]);
    await throwsNorm(() => nk.groupNorm(t([2, 3, 4, 6]), 2, { channelsLast: true, weight: w4 }), "BAD_PARAM_SHAPE", "weight", ["[6]"]);
    await throwsNorm(() => nk.groupNorm(t([5]), 1, { channelsLast: true }), "BAD_RANK", "x");
    await throwsNorm(() => nk.instanceNorm(x4, { useInputStats: 0 } as never), "BAD_ARGUMENT", "useInputStats");
    await throwsNorm(() => nk.instanceNorm(t([2, 3]), {}), "TOO_FEW_VALUES", "x");
    await throwsNorm(() => nk.instanceNorm(x4, { useInputStats: false }), "MISSING_RUNNING_STATS", "runningMean");
    await throwsNorm(() => nk.instanceNorm(x4, { momentum: null, runningMean: t([4], 0), runningVar: t([4]) }), "BAD_ARGUMENT", "numBatchesTracked");
    await throwsNorm(() => nk.instanceNorm(x4, { momentum: 2 }), "BAD_MOMENTUM", "momentum");
    await throwsNorm(() => nk.addLayerNorm(x, t([R, D + 1]), D), "SHAPE_MISMATCH", "residual");
    await throwsNorm(() => nk.addLayerNorm(x, res, D, { inputBias: t([D + 1]) }), "BAD_PARAM_SHAPE", "inputBias");
    await throwsNorm(() => nk.addRmsNormBackward(dy, x, D, { dh: t([R + 1, D]) }), "SHAPE_MISMATCH", "dh");
    await throwsNorm(() => nk.addRmsNormBackward(dy, x, D, { into: { dinputBias: t([D]) } }), "BAD_ARGUMENT", "into.dinputBias", ["no inputBias"]);
    await throwsNorm(() => nk.addLayerNormBackward(dy, x, D, { rstd: t([R]) }), "BAD_ARGUMENT", "mean");
    await throwsNorm(() => nk.cast(x, "float64" as never), "BAD_DTYPE", "dtype");
    await throwsNorm(() => nk.tensor([1, 2], [2], "half" as never), "BAD_DTYPE", "dtype");
  });

  test(`[${backend}] half data with a wrong dtype tag, and dtype mismatches between arguments: BAD_DTYPE naming the argument`, async () => {
    nk.setBackend(backend);
    const u16 = new Uint16Array(R * D);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: x.data, dtype: "float16" } as never, D), "BAD_DTYPE", "x.dtype", ["Float32Array"]);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: u16 } as never, D), "BAD_DTYPE", "x.dtype", ["Uint16Array"]);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: u16, dtype: "float32" } as never, D), "BAD_DTYPE", "x.data", ["Float32Array"]);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: u16, dtype: "fp16" } as never, D), "BAD_DTYPE", "x.dtype", ['"fp16"']);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: new Int16Array(R * D), dtype: "bfloat16" } as never, D), "BAD_DTYPE", "x.dtype", ["Int16Array"]);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D], data: new Proxy(u16, {}), dtype: "float16" } as never, D), "BAD_DTYPE", "x.data", ["Proxy"]);
    await throwsNorm(() => nk.layerNorm({ shape: [R, D + 1], data: u16, dtype: "float16" } as never, D + 1), "SHAPE_MISMATCH", "x");
    const gone = new Uint16Array(R * D);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    await throwsNorm(() => nk.rmsNorm({ shape: [R, D], data: gone, dtype: "bfloat16" }, D), "DETACHED_BUFFER", "x.data", ["Uint16Array"]);
    // mismatches between arguments
    await throwsNorm(() => nk.layerNormBackward(dy, hx, D), "BAD_DTYPE", "dy", ['x\'s dtype "float16"', "float32"]);
    await throwsNorm(() => nk.addRmsNorm(hx, res, D), "BAD_DTYPE", "residual", ["float16"]);
    await throwsNorm(() => nk.addRmsNormBackward(hdy, hx, D, { dh }), "BAD_DTYPE", "dh", ["h's dtype"]);
    await throwsNorm(() => nk.rmsNorm(hx, D, { out: t([R, D]) }), "BAD_DTYPE", "out");
    await throwsNorm(() => nk.addLayerNorm(hx, hres, D, { residualOut: t([R, D]) }), "BAD_DTYPE", "residualOut");
    await throwsNorm(() => nk.layerNormBackward(hdy, hx, D, { weight: nk.cast(w, "bfloat16"), into: { dweight: t([D]) } }), "BAD_DTYPE", "into.dweight", ["weight's dtype"]);
    await throwsNorm(() => nk.addLayerNormBackward(hdy, hx, D, { inputBias: ib, into: { dinputBias: nk.cast(ib, "float16") } }), "BAD_DTYPE", "into.dinputBias");
    await throwsNorm(() => nk.batchNorm(x4, { training: true, runningMean: nk.cast(t([4], 0), "float16") as never, runningVar: t([4]) }), "BAD_DTYPE", "runningMean");
    await throwsNorm(() => nk.layerNormBackward(dy, x, D, { mean: nk.cast(t([R]), "bfloat16") as never, rstd: t([R]) }), "BAD_DTYPE", "mean");
    await throwsNorm(() => nk.groupNormBackward(nk.cast(dy4, "bfloat16"), nk.cast(x4, "float16"), 2), "BAD_DTYPE", "dy");
  });

  test(`[${backend}] add ops aliasing: residualOut = residual (exactly) writes h in place; every other overlap names the written array`, async () => {
    nk.setBackend(backend);
    for (const [fwd, rms] of [[nk.addLayerNorm, false], [nk.addRmsNorm, true]] as const) {
      const want = fwd(x, res, D, { weight: w, bias: b, inputBias: ib });
      // in place, float32 and float16
      const r32 = { shape: [R, D], data: res.data.slice() };
      const got = fwd(x, r32, D, { weight: w, bias: b, inputBias: ib, residualOut: r32 });
      assert.equal(got.h.data, r32.data, "h is a view of residual's data");
      sameBits(got.h, want.h, `${rms} h in place`);
      sameBits(got.y, want.y, `${rms} y with h in place`);
      const r16 = nk.cast(res, "float16");
      const want16 = fwd(hx, nk.cast(res, "float16"), D, { weight: w });
      const got16 = fwd(hx, r16, D, { weight: w, residualOut: r16 });
      sameBits(r16, want16.h, "float16 h in place");
      sameBits(got16.y, want16.y, "float16 y with h in place");
      // the forbidden ones; nothing modified
      const inputs = [x, res, w, b, ib];
      const shared = new Float32Array(R * D);
      const view = (n: number, shape: number[]) => ({ shape, data: shared.subarray(0, n) });
      const bad: Array<[Record<string, unknown>, string, string]> = [
        [{ residualOut: x }, "residualOut", "overlapping x"],
        [{ out: res }, "out", "overlapping residual"],
        [{ out: x }, "out", "overlapping x"],
        [{ weight: view(D, [D]), out: view(R * D, [R, D]) }, "out", "overlapping weight"],
        [{ inputBias: view(D, [D]), residualOut: view(R * D, [R, D]) }, "residualOut", "overlapping inputBias"],
        [{ residualOut: view(R * D, [R, D]), out: view(R * D, [R, D]) }, "residualOut", "overlapping out"],
      ];
      for (const [o, who, msg] of bad) await unchanged(inputs, () => throwsNorm(() => fwd(x, res, D, o as never), "BAD_ARGUMENT", who, [msg]));
      // residual's memory, but shifted by a row: an overlap, not the same memory
      const big = new Float32Array(R * D + D);
      big.set(res.data);
      const resBig = { shape: [R, D], data: big.subarray(0, R * D) };
      const shiftedOut = { shape: [R, D], data: big.subarray(D, R * D + D) };
      await unchanged([resBig], () => throwsNorm(() => fwd(x, resBig, D, { residualOut: shiftedOut }), "BAD_ARGUMENT", "residualOut", ["residual itself, exactly"]));
      // residualOut = residual, and a failed call: residual untouched
      const rr = { shape: [R, D], data: res.data.slice() };
      await unchanged([rr], () => throwsNorm(() => fwd(x, rr, D, { residualOut: rr, weight: t([D + 1]) }), "BAD_PARAM_SHAPE", "weight"));
    }
    // backward: written (out, into.*) against read (dy, h, dh, weight, bias, inputBias)
    const h = nk.addLayerNorm(x, res, D).h;
    const dw = t([D], 0), db = t([D], 0), dib = t([D], 0);
    const base = { weight: w, bias: b, inputBias: ib, dh };
    await unchanged([dy, h, dh, w, b, ib], async () => {
      await throwsNorm(() => nk.addLayerNormBackward(dy, h, D, { ...base, out: dh }), "BAD_ARGUMENT", "out", ["overlapping dh"]);
      await throwsNorm(() => nk.addLayerNormBackward(dy, h, D, { ...base, into: { dinputBias: ib } }), "BAD_ARGUMENT", "into.dinputBias", ["overlapping inputBias"]);
      await throwsNorm(() => nk.addRmsNormBackward(dy, h, D, { ...base, into: { dweight: dw, dinputBias: dw } }), "BAD_ARGUMENT", "into.dinputBias", ["overlapping into.dweight"]);
      await throwsNorm(() => nk.addRmsNormBackward(dy, h, D, { ...base, into: { dbias: w } }), "BAD_ARGUMENT", "into.dbias", ["overlapping weight"]);
    });
    // into adds (+=) into all three (the float64 sums added to what is there, rounded once)
    const g = nk.addLayerNormBackward(dy, h, D, base);
    dw.data.fill(1), db.data.fill(2), dib.data.fill(3);
    const r = nk.addLayerNormBackward(dy, h, D, { ...base, into: { dweight: dw, dbias: db, dinputBias: dib } });
    assert.ok(r.dweight!.data === dw.data && r.dbias!.data === db.data && r.dinputBias!.data === dib.data, "the results are the into tensors");
    for (const [got, fresh, start] of [[dw, g.dweight!, 1], [db, g.dbias!, 2], [dib, g.dinputBias!, 3]] as const) {
      for (let i = 0; i < D; i++) {
        const want = start + fresh.data[i]!;
        assert.ok(Math.abs(got.data[i]! - want) <= 2 ** -23 * Math.abs(want), `${start}: ${got.data[i]} vs ${want}`);
      }
    }
  });

  test(`[${backend}] polluted Object.prototype (#12 keys and dtype) changes nothing`, async () => {
    nk.setBackend(backend);
    const run = () => [
      nk.layerNorm(x, D, { weight: w }), nk.rmsNorm(hx, D), nk.addRmsNorm(x, res, D).y, nk.addLayerNorm(x, res, D).h,
      nk.addRmsNormBackward(dy, x, D).dx, nk.groupNorm(x4, 2), nk.instanceNorm(x4), nk.groupNormBackward(dy4, x4, 2).dx,
      nk.cast(x, "bfloat16"), nk.tensor([1, 2, 3], [3]),
    ];
    const clean = run();
    const r2 = t([R, D], 0);
    await withPolluted({
      weightOffset: 5, castingMode: "none", residualOut: r2, inputBias: ib, dh, channelsLast: true, activation: "silu",
      useInputStats: false, dtype: "float16", type: "bfloat16", mean: t([2, 2]), runningMean: t([4]), numBatchesTracked: 3, momentum: null,
    }, async () => {
      const polluted = run();
      polluted.forEach((p, i) => sameBits(p, clean[i]!, `call ${i}`));
      assert.ok(r2.data.every((v) => v === 0), "the polluted residualOut was not written");
    });
  });

  test(`[${backend}] options getters run once; a module keeps x (half too): mutating it between forward and backward changes nothing`, async () => {
    nk.setBackend(backend);
    let reads = 0;
    const o = { get weightOffset() { reads++; return 1; }, get inputBias() { reads++; return ib; }, weight: w };
    nk.addRmsNorm(x, res, D, o);
    assert.equal(reads, 2);
    for (const [M, input] of [[new nk.RMSNorm(D, { weightOffset: 1 }), hx], [new nk.LayerNorm(D, { castingMode: "llama" }), nk.cast(x, "bfloat16")]] as const) {
      const copy = { ...input, data: input.data.slice() };
      M.forward(copy);
      const dyh = nk.cast(dy, input.dtype);
      const dx1 = M.backward(dyh);
      const g1 = M.weight!.grad.data.slice();
      M.zeroGrad();
      M.forward(copy);
      copy.data.fill(0x3c00); // x changed after forward
      sameBits(M.backward(dyh), dx1, "dx");
      assert.deepEqual([...M.weight!.grad.data], [...g1]);
    }
    const gn = new nk.GroupNorm(2, 4, { channelsLast: true, activation: "silu" });
    const xc = nk.tensor(x4.data.slice(), [2, 4, 3, 4]);
    const y1 = gn.forward(xc);
    const dx1 = gn.backward(dy4);
    gn.forward(xc);
    xc.data.fill(7);
    sameBits(gn.backward(dy4), dx1, "groupNorm module dx");
    sameBits(y1, nk.groupNorm(t([2, 4, 3, 4], wave), 2, { channelsLast: true, activation: "silu", weight: gn.weight!.value, bias: gn.bias!.value }), "module y = functional y");
  });

  test(`[${backend}] inputs are never modified (running statistics only where documented)`, async () => {
    nk.setBackend(backend);
    const rm = t([4], 0.5), rv = t([4], 2);
    await unchangedAll([x, res, dy, dh, w, b, ib, hx, hres, hdy], () => {
      nk.addLayerNorm(hx, hres, D, { weight: w, bias: b, inputBias: ib, weightOffset: 1, castingMode: "none" });
      nk.addRmsNormBackward(hdy, hx, D, { weight: w, inputBias: ib, dh: nk.cast(dh, "float16"), castingMode: "llama" });
    });
    await unchanged([x4, dy4, w4, b4, rm, rv], () => {
      nk.groupNormBackward(dy4, x4, 2, { weight: w4, bias: b4, channelsLast: true, activation: "silu" });
      nk.instanceNorm(x4, { runningMean: rm, runningVar: rv, useInputStats: false, weight: w4, bias: b4 });
      nk.instanceNormBackward(dy4, x4, { runningMean: rm, runningVar: rv, weight: w4, bias: b4 });
    });
    const before = [...rm.data];
    nk.instanceNorm(x4, { runningMean: rm, runningVar: rv });
    assert.notDeepEqual([...rm.data], before, "useInputStats updates the running statistics in place");
  });
});
