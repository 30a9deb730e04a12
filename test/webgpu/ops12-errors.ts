/**
 * The WebGPU suite's issue #12 misuse and lifecycle tests, as a hostile user would write them:
 * bad options and dtypes, the one allowed alias (h over residual) and every other one refused,
 * half tensors wrapped in a caller's buffer (neighbouring bytes kept), the fused add on a device
 * that binds only 8 storage buffers, failed calls leaving no buffer and no caller array changed,
 * and no leak over many calls. Browser-safe; run by runGpuSuite in Chromium and on Dawn.
 */
import * as nk from "../../src/index.js";
import { createGpuBackend, type AnyGpuTensor, type GpuBackend } from "../../src/backends/webgpu/index.js";
import { f32ToF16BitsArray } from "../../src/dtype.js";
import { NormError } from "../../src/errors.js";
import { check, instrumentedDevice, throwsNorm } from "./gpu-helpers.js";
import { held, randomOf, readValues, type AnyT } from "./ops12-props.js";
import type { SuiteEnv, T } from "./suite.js";

const noErrors = (gpu: GpuBackend) => check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);
const sameBits = async (a: AnyGpuTensor, b: AnyGpuTensor, what: string) => {
  const [x, y] = [(await a.read()).data, (await b.read()).data];
  if (x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) throw new Error(`${what}: not bitwise equal`);
};

export function ops12ErrorTests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  const add = (name: string, fn: () => Promise<void>) => list.push({ name, fn });
  const D = 16, rows = 3;

  add("#12 errors: gpu.cpu.* and the CPU ops give the same NormError (code, argument) for the same misuse (one validation core)", async () => {
    const x = randomOf(1, [rows, D], "float16").t, r = randomOf(2, [rows, D], "float16").t, x32 = randomOf(3, [rows, D], "float32").t;
    const w = randomOf(4, [D], "bfloat16").t, w16 = randomOf(5, [D], "float16").t, rm = randomOf(6, [D], "float32").t, rv = randomOf(7, [D], "float32").t;
    const rstd = { shape: [rows], data: new Float32Array(rows).fill(1) };
    const x4 = { shape: [4], data: new Float32Array(4) }, x14 = { shape: [1, 4], data: new Float32Array(4) }, x231 = { shape: [2, 3, 1], data: new Float32Array(6) };
    type Api = Record<string, (...a: unknown[]) => unknown>;
    const cases: [string, (api: Api) => unknown][] = [
      ["unknown key", (a) => a.layerNorm!(x, D, { weightOfset: 1 })],
      ["castingMode", (a) => a.rmsNorm!(x, D, { castingMode: "fast" })],
      ["weightOffset NaN", (a) => a.rmsNorm!(x, D, { weight: w, weightOffset: NaN })],
      ["out's dtype", (a) => a.layerNorm!(x, D, { out: x32 })],
      ["dy's dtype", (a) => a.layerNormBackward!(x32, x, D)],
      ["half mean", (a) => a.layerNormBackward!(x, x, D, { mean: x, rstd })],
      ["rstd's shape", (a) => a.rmsNormBackward!(x, x, D, { rstd: x4 })],
      ["into.dweight's shape", (a) => a.rmsNormBackward!(x, x, D, { weight: w, into: { dweight: x32 } })],
      ["into.dweight's dtype", (a) => a.rmsNormBackward!(x, x, D, { weight: w, into: { dweight: w16 } })],
      ["into.dbias without bias", (a) => a.layerNormBackward!(x, x, D, { into: { dbias: w } })],
      ["residual's dtype", (a) => a.addRmsNorm!(x, x32, D)],
      ["residualOut's dtype", (a) => a.addRmsNorm!(x, r, D, { residualOut: x32 })],
      ["inputBias's shape", (a) => a.addRmsNorm!(x, r, D, { inputBias: x })],
      ["out over residual", (a) => a.addLayerNorm!(x, r, D, { out: r })],
      ["dh's dtype", (a) => a.addRmsNormBackward!(x, r, D, { dh: x32 })],
      ["into.dinputBias without inputBias", (a) => a.addRmsNormBackward!(x, r, D, { into: { dinputBias: w } })],
      ["into key", (a) => a.addRmsNormBackward!(x, r, D, { into: { dinputbias: w } })],
      ["activation", (a) => a.groupNorm!(x, 4, { activation: "gelu" })],
      ["groups", (a) => a.groupNorm!(x, 3, { channelsLast: true })],
      ["channels-last rank", (a) => a.groupNorm!(x4, 2, { channelsLast: true })],
      ["groupNorm weight's shape", (a) => a.groupNorm!(x, 4, { channelsLast: true, weight: randomOf(8, [3], "float16").t })],
      ["eval without running stats", (a) => a.batchNorm!(x)],
      ["one value per channel", (a) => a.batchNorm!(x14, { training: true })],
      ["momentum null", (a) => a.batchNorm!(x, { training: true, momentum: null, runningMean: rm })],
      ["half running mean", (a) => a.batchNorm!(x32, { training: true, runningMean: w })],
      ["running stats aliasing (training)", (a) => a.batchNorm!(x32, { training: true, runningMean: rm, runningVar: rm })],
      ["running stats aliasing (backward, eval)", (a) => a.batchNormBackward!(x32, x32, { runningMean: rm, runningVar: rm })],
      ["running var's shape (backward)", (a) => a.batchNormBackward!(x32, x32, { training: true, runningMean: rm, runningVar: x4 })],
      ["useInputStats false", (a) => a.instanceNorm!(x, { useInputStats: false })],
      ["one spatial element", (a) => a.instanceNorm!(x231)],
      ["useInputStats string", (a) => a.instanceNorm!(x, { useInputStats: "yes" })],
      ["instance running mean's shape (backward)", (a) => a.instanceNormBackward!(x, x, { runningMean: x4 })],
      ["cast dtype", (a) => a.cast!(x, "float64")],
      ["cast Uint16Array without dtype", (a) => a.cast!({ shape: [2], data: new Uint16Array(2) }, "float32")],
      ["half bits in a Float32Array", (a) => a.rmsNorm!({ shape: [2], data: new Float32Array(2), dtype: "bfloat16" }, 2)],
    ];
    const caught = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        if (e instanceof NormError) return `${e.code} ${e.argument}`;
        return `not a NormError: ${String(e)}`;
      }
      return "no error";
    };
    const before = gpu.liveBuffers();
    const diffs: string[] = [];
    for (const [what, fn] of cases) {
      const [cpu, onGpu] = [await caught(() => fn(nk as unknown as Api)), await caught(() => fn(gpu.cpu as unknown as Api))];
      if (cpu !== onGpu || cpu === "no error" || cpu.startsWith("not")) diffs.push(`${what}: CPU ${cpu}, gpu.cpu ${onGpu}`);
    }
    check(diffs.length ? diffs.join("; ") : null);
    check(gpu.liveBuffers() === before ? null : `rejected calls left ${gpu.liveBuffers() - before} buffers`);
    noErrors(gpu);
  });

  add("#12 errors: options and dtypes are checked at the call (NormError naming the argument), nothing left behind", async () => {
    await held(gpu, async (up) => {
      const x = up(randomOf(1, [rows, D], "float16").t)!, r = up(randomOf(2, [rows, D], "float16").t)!;
      const x32 = up(randomOf(3, [rows, D], "float32").t)!, w = up(randomOf(4, [D], "bfloat16").t)!;
      const f = gpu.layerNormForward(x, D);
      const x4 = up({ shape: [4], data: new Float32Array(4) })!, x14 = up({ shape: [1, 4], data: new Float32Array(4) })!;
      const rmD = up({ shape: [D], data: new Float32Array(D) })!, x231 = up({ shape: [2, 3, 1], data: new Float32Array(6) })!;
      const before = gpu.liveBuffers();
      const cases: [() => unknown, string, string][] = [
        [() => gpu.layerNorm(x, D, { weightOfset: 1 } as object), "UNKNOWN_OPTION", "weightOfset"],
        [() => gpu.rmsNorm(x, D, { castingMode: "fast" } as never), "BAD_ARGUMENT", "castingMode"],
        [() => gpu.rmsNorm(x, D, { weight: w, weightOffset: NaN }), "BAD_ARGUMENT", "weightOffset"],
        [() => gpu.layerNormBackward(x32, x, D), "BAD_DTYPE", "dy"],
        [() => gpu.layerNormBackward(x, x, D, { mean: x as never, rstd: f.rstd }), "BAD_DTYPE", "mean"],
        [() => gpu.addRmsNorm(x, x32 as never, D), "BAD_DTYPE", "residual"],
        [() => gpu.addRmsNorm(x, r, D, { residualOut: x32 }), "BAD_DTYPE", "residualOut"],
        [() => gpu.addRmsNorm(x, r, D, { inputBias: x }), "BAD_PARAM_SHAPE", "inputBias"],
        [() => gpu.addRmsNormBackward(x, r, D, { dh: x32 }), "BAD_DTYPE", "dh"],
        [() => gpu.addRmsNormBackward(x, r, D, { into: { dinputBias: w } }), "BAD_ARGUMENT", "into.dinputBias"],
        [() => gpu.addRmsNormBackward(x, r, D, { into: { dinputbias: w } } as object), "UNKNOWN_OPTION", "into.dinputbias"],
        [() => gpu.rmsNormBackward(x, x, D, { weight: w, into: { dweight: x32 as never } }), "BAD_PARAM_SHAPE", "into.dweight"],
        [() => gpu.groupNorm(x, 4, { activation: "gelu" } as never), "BAD_ARGUMENT", "activation"],
        [() => gpu.groupNorm(x, 3, { channelsLast: true }), "BAD_NUM_GROUPS", "numGroups"],
        [() => gpu.groupNorm(x4, 2, { channelsLast: true }), "BAD_RANK", "x"],
        [() => gpu.batchNorm(x), "MISSING_RUNNING_STATS", "runningMean"],
        [() => gpu.batchNorm(x14, { training: true }), "TOO_FEW_VALUES", "x"],
        [() => gpu.batchNorm(x, { training: true, momentum: null, runningMean: rmD as never }), "BAD_ARGUMENT", "numBatchesTracked"],
        [() => gpu.batchNorm(x32, { training: true, runningMean: w as never }), "BAD_DTYPE", "runningMean"],
        [() => gpu.instanceNorm(x, { useInputStats: false }), "MISSING_RUNNING_STATS", "runningMean"],
        [() => gpu.instanceNorm(x231), "TOO_FEW_VALUES", "x"],
        [() => gpu.instanceNorm(x, { useInputStats: "yes" } as never), "BAD_ARGUMENT", "useInputStats"],
        [() => gpu.cast(x, "float64" as never), "BAD_DTYPE", "dtype"],
        [() => gpu.layerNorm(x, D, { plan: { vec: 3 } } as never), "BAD_ARGUMENT", "plan"],
        [() => gpu.layerNorm(x, D, { weightOffset: 1, plan: { wgsum: true } } as never), "BAD_ARGUMENT", "plan.wgsum"],
        [() => gpu.upload({ shape: [2], data: new Uint16Array(2), dtype: "float8" } as never), "BAD_DTYPE", "tensor.dtype"],
        [() => gpu.upload({ shape: [2], data: new Float32Array(2), dtype: "bfloat16" } as never), "BAD_DTYPE", "tensor.dtype"],
        [() => gpu.upload({ shape: [2], data: new Proxy(new Uint16Array(2), {}), dtype: "float16" } as never), "BAD_DTYPE", "tensor.data"],
        [() => gpu.upload({ shape: [3], data: new Uint16Array(2), dtype: "float16" }), "SHAPE_MISMATCH", "tensor"],
      ];
      for (const [fn, code, arg] of cases) await throwsNorm(fn, code, undefined, arg);
      check(gpu.liveBuffers() === before ? null : `rejected calls left ${gpu.liveBuffers() - before} buffers`);
      for (const t of [f.y, f.mean, f.rstd]) t.destroy();
    });
    noErrors(gpu);
  });

  add("#12 aliasing: h over residual in place (the one alias), every other written tensor sharing a buffer refused", async () => {
    await held(gpu, async (up, keep) => {
      const xs = randomOf(5, [rows, D], "bfloat16"), rs = randomOf(6, [rows, D], "bfloat16"), ws = randomOf(7, [D], "bfloat16", 0.5, 1);
      const x = up(xs.t)!, w = up(ws.t)!;
      const plain = gpu.addRmsNorm(x, up(rs.t)!, D, { weight: w, weightOffset: 1 });
      const r = up(rs.t)!;
      const inPlace = gpu.addRmsNorm(x, r, D, { weight: w, weightOffset: 1, residualOut: r });
      keep(plain.y, plain.h, plain.rstd, inPlace.y, inPlace.rstd);
      if (inPlace.h !== r) throw new Error("residualOut: residual did not return residual as h");
      await sameBits(inPlace.h, plain.h, "h written over residual");
      await sameBits(inPlace.y, plain.y, "y with h in place");
      const other = up(rs.t)!;
      const into = gpu.addLayerNorm(x, r, D, { residualOut: other });
      keep(into.y, into.mean, into.rstd);
      if (into.h !== other) throw new Error("residualOut: the tensor given did not come back as h");
      const before = gpu.liveBuffers();
      const b = up(randomOf(8, [D], "float32").t)!;
      await throwsNorm(() => gpu.addRmsNorm(x, x, D, { residualOut: x }), "BAD_ARGUMENT", "x", "residual");
      await throwsNorm(() => gpu.addRmsNorm(x, r, D, { residualOut: x }), "BAD_ARGUMENT", "x", "residualOut");
      await throwsNorm(() => gpu.addRmsNormBackward(x, r, D, { weight: w, into: { dweight: w } }), "BAD_ARGUMENT", "weight", "into.dweight");
      await throwsNorm(() => gpu.addLayerNormBackward(x, r, D, { inputBias: b, into: { dinputBias: b } }), "BAD_ARGUMENT", "inputBias", "into.dinputBias");
      await throwsNorm(() => gpu.batchNorm(up({ shape: [4, D], data: new Float32Array(4 * D) })!, { training: true, runningMean: b as never, runningVar: b as never }), "BAD_ARGUMENT", "runningMean", "runningVar");
      check(gpu.liveBuffers() === before + 2 ? null : `rejected calls left ${gpu.liveBuffers() - before - 2} buffers`);
    });
    noErrors(gpu);
  });

  add("#12 gpu.cpu: h over residual, out, into and running statistics written only after success; inputs never modified", async () => {
    const x = randomOf(9, [rows, D], "float16"), r = randomOf(10, [rows, D], "float16"), w = randomOf(11, [D], "float16", 0.5, 1);
    const snap = (t: AnyT) => Array.from(t.data);
    const [x0, w0] = [snap(x.t), snap(w.t)];
    const rCopy = { ...r.t, data: r.t.data.slice() } as AnyT;
    const f = await gpu.cpu.addRmsNorm(x.t, rCopy, D, { weight: w.t, weightOffset: 1, residualOut: rCopy });
    const ref = await gpu.cpu.addRmsNorm(x.t, r.t, D, { weight: w.t, weightOffset: 1 });
    if (f.h!.data !== rCopy.data) throw new Error("h over residual: not the residual's array");
    if (Array.from(f.h!.data).some((v, i) => v !== ref.h!.data[i])) throw new Error("h over residual differs from h");
    if (snap(x.t).some((v, i) => v !== x0[i]) || snap(w.t).some((v, i) => v !== w0[i])) throw new Error("an input was modified");
    // a failing call (runningVar of the wrong shape) leaves runningMean as it was
    const rm = { shape: [D], data: new Float32Array(D).fill(0.5) };
    const xb = randomOf(12, [4, D], "bfloat16");
    await throwsNorm(() => gpu.cpu.batchNorm(xb.t, { training: true, runningMean: rm, runningVar: { shape: [3], data: new Float32Array(3) } }), "BAD_PARAM_SHAPE", undefined, "runningVar");
    if (rm.data.some((v) => v !== 0.5)) throw new Error("runningMean changed by a failed call");
    const rv = { shape: [D], data: new Float32Array(D).fill(1) };
    await gpu.cpu.batchNorm(xb.t, { training: true, runningMean: rm, runningVar: rv, momentum: 0.5 });
    if (rm.data.every((v) => v === 0.5)) throw new Error("runningMean not updated in training");
    await throwsNorm(() => gpu.cpu.addRmsNorm(x.t, r.t, D, { out: x.t }), "BAD_ARGUMENT", "x", "out");
    await throwsNorm(() => gpu.cpu.rmsNormBackward(x.t, x.t, D, { weight: w.t, into: { dweight: w.t } }), "BAD_ARGUMENT", "weight", "into.dweight");
    // into accumulates in the parameter's dtype, as on the GPU
    const acc = { shape: [D], data: f32ToF16BitsArray(new Float32Array(D).fill(1)), dtype: "float16" as const };
    const g = await gpu.cpu.rmsNormBackward(x.t, x.t, D, { weight: w.t, into: { dweight: acc } });
    if (g.dweight!.data !== acc.data) throw new Error("into.dweight not returned");
  });

  add("#12 wrap: a half tensor at an offset in a caller's buffer, odd size: the bytes around it are kept", async () => {
    const off = gpu.device.limits.minStorageBufferOffsetAlignment;
    const n = 7 * 5; // odd number of halves: the last word is shared with the caller's next bytes
    const buf = gpu.device.createBuffer({ size: off + 256, usage: 0x80 | 0x4 | 0x8 });
    const fill = new Uint16Array((off + 256) / 2).fill(0xbeef);
    const x = randomOf(13, [7, 5], "float16");
    fill.set(x.t.data as Uint16Array, off / 2);
    gpu.device.queue.writeBuffer(buf, 0, fill);
    try {
      await held(gpu, async (up, keep) => {
        const wx = gpu.wrap(buf, [7, 5], { byteOffset: off, dtype: "float16" });
        keep(wx);
        if (wx.dtype !== "float16") throw new Error("wrapped dtype");
        const y = gpu.rmsNorm(wx, 5);
        const z = gpu.rmsNorm(up(x.t)!, 5);
        keep(y, z);
        await sameBits(y, z, "rmsNorm of a wrapped half tensor");
        // written in place: h over the wrapped residual, the caller's neighbouring half untouched
        const h = gpu.addRmsNorm(up(x.t)!, wx, 5, { residualOut: wx });
        keep(h.y, h.rstd);
        await h.y.read();
        const st = gpu.device.createBuffer({ size: off + 256, usage: 0x1 | 0x8 });
        const enc = gpu.device.createCommandEncoder();
        enc.copyBufferToBuffer(buf, 0, st, 0, off + 256);
        gpu.device.queue.submit([enc.finish()]);
        await st.mapAsync(0x1);
        const back = new Uint16Array(st.getMappedRange().slice(0));
        st.destroy();
        if (back[off / 2 + n] !== 0xbeef || back[off / 2 - 1] !== 0xbeef) throw new Error("a caller's half next to the tensor was overwritten");
      });
    } finally {
      buf.destroy();
    }
    noErrors(gpu);
  });

  add("#12 a device with 8 storage buffers per stage: the fused add + LayerNorm runs in two passes, same bits", async () => {
    const inst = instrumentedDevice(gpu.device, { maxStorageBuffersPerShaderStage: 8 });
    const g = await createGpuBackend({ device: inst.device });
    try {
      const xs = randomOf(14, [5, 24], "float16"), rs = randomOf(15, [5, 24], "float16"), ws = randomOf(16, [24], "float16"), ib = randomOf(17, [24], "float32");
      const run = async (b: GpuBackend, inPlace: boolean) => {
        const ts = [b.upload(rs.t), b.upload(xs.t), b.upload(ws.t), b.upload(ib.t)];
        const [r, x, w, c] = ts as [AnyGpuTensor, AnyGpuTensor, AnyGpuTensor, AnyGpuTensor];
        const o = b.addLayerNorm(x, r, 24, { weight: w, bias: w, inputBias: c, residualOut: inPlace ? r : null });
        try {
          return [await readValues(o.y), await readValues(o.h)];
        } finally {
          for (const t of [...ts, o.y, o.h, o.mean, o.rstd]) t.destroy();
        }
      };
      for (const inPlace of [false, true]) {
        const [a, b] = [await run(g, inPlace), await run(gpu, inPlace)];
        for (let k = 0; k < 2; k++) if (a[k]!.some((v, i) => !Object.is(v, b[k]![i]))) throw new Error(`${k ? "h" : "y"} differs (inPlace ${inPlace})`);
      }
    } finally {
      g.destroy();
    }
  });

  add("#12 no buffer leak over 800 calls of the #12 ops, failing ones included; destroyed tensors refused", async () => {
    const before = gpu.liveBuffers();
    await held(gpu, async (up) => {
      const x = up(randomOf(18, [4, 12], "bfloat16").t)!, r = up(randomOf(19, [4, 12], "bfloat16").t)!, w = up(randomOf(20, [12], "float32").t)!;
      const xg = up(randomOf(21, [2, 3, 12], "float16").t)!;
      const rm = up({ shape: [3], data: new Float32Array(3) })!, rv = up({ shape: [3], data: new Float32Array(3).fill(1) })!;
      for (let i = 0; i < 800; i++) {
        const out: (AnyGpuTensor | null)[] = [];
        switch (i % 8) {
          case 0: { const o = gpu.addRmsNorm(x, r, 12, { weight: w, weightOffset: 1 }); out.push(o.y, o.h, o.rstd); break; }
          case 1: { const o = gpu.addLayerNormBackward(x, r, 12, { weight: w, inputBias: w }); out.push(o.dx, o.dweight, o.dinputBias); break; }
          case 2: out.push(gpu.groupNorm(xg, 4, { channelsLast: true, activation: "silu", weight: w })); break;
          case 3: { const o = gpu.groupNormBackward(xg, xg, 3, { weight: up({ shape: [3], data: new Float32Array(3).fill(1) }) }); out.push(o.dx, o.dweight); break; }
          case 4: out.push(gpu.batchNorm(xg, { training: true, runningMean: rm as never, runningVar: rv as never })); break;
          case 5: { const o = gpu.instanceNormBackward(xg, xg, {}); out.push(o.dx); break; }
          case 6: out.push(gpu.cast(x, "float16")); break;
          case 7: await throwsNorm(() => gpu.addRmsNorm(x, r, 12, { residualOut: x }), "BAD_ARGUMENT"); break;
        }
        for (const t of out) t?.destroy();
        if (i % 200 === 0) await gpu.cpu.addLayerNorm({ shape: [2, 4], data: new Float32Array(8) }, { shape: [2, 4], data: new Float32Array(8) }, 4);
      }
      x.destroy();
      await throwsNorm(() => gpu.addRmsNorm(x, r, 12), "DESTROYED_TENSOR", undefined, "x");
      await throwsNorm(() => gpu.cast(x, "float32"), "DESTROYED_TENSOR", undefined, "t");
    });
    check(gpu.liveBuffers() === before ? null : `live GPU buffers ${before} before, ${gpu.liveBuffers()} after`);
    noErrors(gpu);
  });
  return list;
}
