/**
 * The WebGPU suite's lifecycle tests, as a hostile user would write them: shapes mutated after
 * upload, fake/copied/foreign tensors, gpu.destroy() on the backend's own device and on a caller's,
 * reads in flight, `into` aliasing every input, and failed calls that must leave no buffer behind.
 * Browser-safe; run by runGpuSuite in Chromium and on Dawn.
 */
import { NormError } from "../../src/errors.js";
import { GpuTensor, createGpuBackend, type GpuBackend } from "../../src/backends/webgpu/index.js";
import { bitwiseError, rng } from "../shared.js";
import { check, instrumentedDevice, problem, throwsNorm } from "./gpu-helpers.js";
import type { SuiteEnv, T } from "./suite.js";

const STORAGE_RW = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

const noErrors = (gpu: GpuBackend) => check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);

/** Everything a backend makes, for the destroy tests: inputs, outputs, statistics, gradients, a wrapped buffer. */
function populate(g: GpuBackend) {
  const p = problem(11, 6, 8, { w: true, b: true });
  const x = g.upload(p.x), dy = g.upload(p.dy), w = g.upload(p.weight!), b = g.upload(p.bias!);
  const f = g.layerNormForward(x, 8, { weight: w, bias: b });
  const grads = g.layerNormBackward(dy, x, 8, { weight: w, bias: b, mean: f.mean, rstd: f.rstd });
  const gn = g.groupNorm(g.upload({ shape: [2, 4, 3], data: new Float32Array(24).map((_, i) => Math.sin(i)) }), 2);
  const buf = g.device.createBuffer({ size: 256, usage: STORAGE_RW });
  const wrapped = g.wrap(buf, [8]);
  return { p, x, dy, w, b, f, grads, gn, buf, wrapped, all: [x, dy, w, b, f.y, f.mean, f.rstd, grads.dx, grads.dweight!, grads.dbias!, gn, wrapped] };
}

/** After gpu.destroy(): every tensor destroyed, every use a NormError, nothing held. */
async function checkDestroyed(g: GpuBackend, s: ReturnType<typeof populate>): Promise<void> {
  for (const t of s.all) if (!t.destroyed) throw new Error(`a tensor of shape [${t.shape}] does not report destroyed`);
  if (g.liveBuffers() !== 0) throw new Error(`${g.liveBuffers()} buffers still held`);
  await throwsNorm(() => g.layerNorm(s.x, 8), "DESTROYED_TENSOR", "gpu.destroy()", "x");
  await throwsNorm(() => g.rmsNormBackward(s.dy, s.x, 8, { weight: s.w }), "DESTROYED_TENSOR", undefined, "x");
  await throwsNorm(() => g.layerNorm(s.wrapped, 8), "DESTROYED_TENSOR", undefined, "x");
  await throwsNorm(() => g.groupNormBackward(s.gn, s.gn, 2), "DESTROYED_TENSOR");
  await throwsNorm(() => s.f.y.read(), "DESTROYED_TENSOR");
  await throwsNorm(() => s.grads.dweight!.ready(), "DESTROYED_TENSOR");
  await throwsNorm(() => s.x.buffer, "DESTROYED_TENSOR");
  await throwsNorm(() => g.upload(s.p.x), "DEVICE_LOST", "gpu.destroy()");
  await throwsNorm(() => g.wrap(s.buf, [8]), "DEVICE_LOST", "gpu.destroy()");
  await throwsNorm(() => g.cpu.layerNorm(s.p.x, 8), "DEVICE_LOST");
  for (const t of s.all) t.destroy(); // idempotent, also after gpu.destroy()
  g.destroy();
}

export function lifecycleTests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  const add = (name: string, fn: () => Promise<void> | void) => list.push({ name, fn: () => fn() });

  add("hostile shapes: a GpuTensor's shape is a frozen copy; later changes to the caller's arrays change nothing", async () => {
    const r = rng(21);
    const src = r.tensor([3, 8], 2, 1);
    const shape = [3, 8];
    const data = src.data.slice();
    const x = gpu.upload({ shape, data });
    const want = await gpu.cpu.layerNorm(src, 8);
    shape[0] = 1;
    shape.push(2);
    data.fill(1e6); // the upload copied the data too
    if (x.shape.join() !== "3,8" || x.size !== 24 || !Object.isFrozen(x.shape)) throw new Error(`shape ${x.shape} (frozen: ${Object.isFrozen(x.shape)})`);
    try {
      (x.shape as number[])[0] = 1;
    } catch {
      // a frozen array: the write throws in strict mode, and changes nothing either way
    }
    const ns = [8];
    const f = gpu.layerNormForward(x, ns);
    ns[0] = 4;
    try {
      if (f.y.shape.join() !== "3,8" || f.mean.shape.join() !== "3" || !Object.isFrozen(f.y.shape)) throw new Error(`outputs of shape ${f.y.shape} / ${f.mean.shape}`);
      check(bitwiseError((await f.y.read()).data, want.data, "y after the caller mutated shape, data and normalizedShape"));
      // a shape whose first element changes on every read: one read (a copy), then the checks
      let reads = 0;
      const lying = new Proxy([3, 8], { get: (t, p, rcv) => (p === "0" ? (reads++ === 0 ? 3 : 5) : Reflect.get(t, p, rcv)) });
      const y = gpu.upload({ shape: lying, data: src.data });
      if (y.shape.join() !== "3,8") throw new Error(`upload of a shifting shape gave [${y.shape}]`);
      y.destroy();
    } finally {
      for (const t of [x, f.y, f.mean, f.rstd]) t.destroy();
    }
  });

  add("hostile tensors: fake, copied, proxied and foreign GpuTensors are NormErrors, not TypeErrors", async () => {
    const x = gpu.upload({ shape: [2, 4], data: new Float32Array(8) });
    const other = await createGpuBackend({ device: gpu.device });
    const y = other.upload({ shape: [2, 4], data: new Float32Array(8) });
    try {
      const fake = Object.create(GpuTensor.prototype) as GpuTensor;
      await throwsNorm(() => gpu.layerNorm(fake, 4), "BAD_ARGUMENT", "GpuTensor", "x");
      await throwsNorm(() => fake.shape, "BAD_ARGUMENT");
      await throwsNorm(() => fake.read(), "BAD_ARGUMENT");
      await throwsNorm(() => new (GpuTensor as unknown as new () => GpuTensor)(), "BAD_ARGUMENT", "gpu.upload");
      await throwsNorm(() => gpu.layerNorm(new Proxy(x, {}), 4), "BAD_ARGUMENT", "Proxy", "x");
      await throwsNorm(() => gpu.layerNorm({ ...x, shape: x.shape } as GpuTensor, 4), "BAD_ARGUMENT", undefined, "x");
      await throwsNorm(() => gpu.layerNorm(y, 4), "BAD_ARGUMENT", "another GPU backend", "x");
      await throwsNorm(() => gpu.layerNorm(x, 4, { weight: other.upload({ shape: [4], data: new Float32Array(4) }) }), "BAD_ARGUMENT", "another GPU backend", "weight");
    } finally {
      x.destroy();
      other.destroy();
    }
    if (y.destroyed !== true) throw new Error("a tensor of a destroyed backend on a shared device is not destroyed");
    noErrors(gpu);
  });

  add("gpu.destroy() on its own device: every tensor destroyed, ops DESTROYED_TENSOR, other calls DEVICE_LOST", async () => {
    const g = await env.fresh();
    const s = populate(g);
    await s.f.y.read(); // it worked before
    g.destroy();
    await checkDestroyed(g, s);
  });

  add("gpu.destroy() on a caller's device: the same, not zeros; the device and its other users keep working", async () => {
    const g = await createGpuBackend({ device: gpu.device });
    const s = populate(g);
    const before = await s.f.y.read();
    const x1 = (await s.x.read()).data;
    g.destroy();
    await checkDestroyed(g, s);
    // the caller's buffer was detached, not destroyed; the main backend on the same device still runs
    const again = gpu.wrap(s.buf, [8]);
    try {
      if ((await again.read()).data.length !== 8) throw new Error("the wrapped buffer is unusable after gpu.destroy()");
      check(bitwiseError((await gpu.cpu.layerNorm({ shape: [6, 8], data: x1 }, 8, { weight: s.p.weight, bias: s.p.bias })).data, before.data, "same device, other backend"));
    } finally {
      again.destroy();
      s.buf.destroy();
    }
    noErrors(gpu);
  });

  add("reads in flight when gpu.destroy() runs reject with DEVICE_LOST (own device and a caller's; also the device destroyed by its user)", async () => {
    for (const make of [() => env.fresh(), () => createGpuBackend({ device: gpu.device })]) {
      const g = await make();
      const p = problem(12, 16, 32, { w: true, b: false });
      const x = g.upload(p.x);
      const y = g.layerNorm(x, 32);
      const r1 = y.read();
      const r2 = g.cpu.rmsNormBackward(p.dy, p.x, 32, { weight: p.weight });
      const r3 = y.ready();
      g.destroy();
      await throwsNorm(() => r1, "DEVICE_LOST", "gpu.destroy()");
      await throwsNorm(() => r2, "DEVICE_LOST", "gpu.destroy()");
      await r3.then(() => {}, (e) => {
        if (!(e instanceof NormError)) throw new Error(`ready() rejected with ${e}`);
      });
      if (g.liveBuffers() !== 0) throw new Error(`${g.liveBuffers()} buffers held after destroy`);
    }
    // the device destroyed by its user, under the backend: the same code, whatever the order of events
    const g = await env.fresh();
    const y = g.rmsNorm(g.upload({ shape: [3, 4], data: new Float32Array(12).fill(1) }), 4);
    const r = y.read();
    g.device.destroy();
    await throwsNorm(() => r, "DEVICE_LOST", "read in flight").catch((e: Error) => {
      throw new Error(`read in flight when the device was destroyed: ${e.message}`);
    });
    await g.device.lost; // the backend learns of the loss when the device says so
    await throwsNorm(() => g.layerNorm(y, 4), "DEVICE_LOST");
    g.destroy();
  });

  add("a read in flight survives destroy() of its tensor (the copy was already submitted)", async () => {
    const p = problem(13, 9, 20, { w: false, b: false });
    const want = await gpu.cpu.layerNorm(p.x, 20);
    const before = gpu.liveBuffers();
    const x = gpu.upload(p.x);
    const y = gpu.layerNorm(x, 20);
    const r = y.read();
    y.destroy();
    x.destroy();
    check(bitwiseError((await r).data, want.data, "read of a tensor destroyed mid-read"));
    if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers leaked`);
  });

  add("into aliasing: every output sharing a GPUBuffer with an input or the other output is a NormError; nothing written or leaked", async () => {
    const D = 4;
    const up = (d: Float32Array | number[], shape = [D]) => gpu.upload({ shape, data: Float32Array.from(d) });
    // x [4, 4]: statistics, parameters and gradients all have shape [4], so only aliasing can reject them
    const x = up(Array.from({ length: 16 }, (_, i) => Math.sin(i)), [4, 4]);
    const dy = up(Array.from({ length: 16 }, (_, i) => Math.cos(i)), [4, 4]);
    const w = up([1, 2, 3, 4]), b = up([0, 1, 0, 1]), acc1 = up([1, 1, 1, 1]), acc2 = up([2, 2, 2, 2]);
    const x1 = up([1, 2, 3, 5]), dy1 = up([1, -1, 1, -1]);
    const f = gpu.layerNormForward(x, D, { weight: w, bias: b });
    const shared = gpu.device.createBuffer({ size: 512, usage: STORAGE_RW });
    const wa = gpu.wrap(shared, [D]), wb = gpu.wrap(shared, [D], { byteOffset: 256 });
    const gx = up(Array.from({ length: 16 }, (_, i) => i % 5), [2, 4, 2]), gdy = up(Array.from({ length: 16 }, (_, i) => i % 3), [2, 4, 2]);
    const held = [x, dy, w, b, acc1, acc2, x1, dy1, f.y, f.mean, f.rstd, wa, wb, gx, gdy];
    const snapshot = async () => Promise.all([acc1, acc2, w, b, x1, dy1, f.mean, f.rstd, wa, wb].map(async (t) => (await t.read()).data));
    try {
      const before = gpu.liveBuffers();
      const bits = await snapshot();
      const opts = { weight: w, bias: b };
      const cases: [string, () => unknown, string, string][] = [
        ["dweight = weight", () => gpu.layerNormBackward(dy, x, D, { ...opts, into: { dweight: w } }), "into.dweight", "weight"],
        ["dbias = bias", () => gpu.layerNormBackward(dy, x, D, { ...opts, into: { dbias: b } }), "into.dbias", "bias"],
        ["dweight = dbias", () => gpu.layerNormBackward(dy, x, D, { ...opts, into: { dweight: acc1, dbias: acc1 } }), "into.dbias", "into.dweight"],
        ["dweight = bias", () => gpu.layerNormBackward(dy, x, D, { ...opts, into: { dweight: b } }), "into.dweight", "bias"],
        ["dweight = saved mean", () => gpu.layerNormBackward(dy, x, D, { ...opts, mean: f.mean, rstd: f.rstd, into: { dweight: f.mean } }), "into.dweight", "mean"],
        ["dbias = saved rstd", () => gpu.layerNormBackward(dy, x, D, { ...opts, mean: f.mean, rstd: f.rstd, into: { dbias: f.rstd } }), "into.dbias", "rstd"],
        ["dweight = x", () => gpu.layerNormBackward(dy1, x1, D, { ...opts, into: { dweight: x1 } }), "into.dweight", "x"],
        ["dbias = dy", () => gpu.layerNormBackward(dy1, x1, D, { ...opts, into: { dbias: dy1 } }), "into.dbias", "dy"],
        ["rms dweight = weight", () => gpu.rmsNormBackward(dy, x, D, { weight: w, into: { dweight: w } }), "into.dweight", "weight"],
        ["wrapped: dweight and dbias in one GPUBuffer", () => gpu.layerNormBackward(dy, x, D, { ...opts, into: { dweight: wa, dbias: wb } }), "into.dbias", "same GPUBuffer"],
        ["wrapped: weight and dweight in one GPUBuffer", () => gpu.layerNormBackward(dy, x, D, { weight: wa, into: { dweight: wb } }), "into.dweight", "weight"],
        ["groupNorm dweight = weight", () => gpu.groupNormBackward(gdy, gx, 2, { ...opts, into: { dweight: w } }), "into.dweight", "weight"],
        ["groupNorm dweight = dbias", () => gpu.groupNormBackward(gdy, gx, 2, { ...opts, into: { dweight: acc2, dbias: acc2 } }), "into.dbias", "into.dweight"],
      ];
      for (const [what, fn, arg, mentions] of cases) {
        await throwsNorm(fn, "BAD_ARGUMENT", mentions, arg).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
      if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers leaked by rejected calls`);
      const after = await snapshot();
      after.forEach((a, i) => check(bitwiseError(a, bits[i]!, `tensor ${i} after the rejected calls`)));
      // the CPU rejects the same pair, and a legal pair works
      const cw = { shape: [D], data: new Float32Array([1, 2, 3, 4]) };
      await throwsNorm(() => gpu.cpu.layerNormBackward({ shape: [1, D], data: new Float32Array(D) }, { shape: [1, D], data: new Float32Array(D) }, D, { weight: cw, into: { dweight: cw } }), "BAD_ARGUMENT", "weight", "into.dweight");
      const ok = gpu.layerNormBackward(dy, x, D, { ...opts, into: { dweight: acc1, dbias: acc2 } });
      held.push(ok.dx);
      if (ok.dweight !== acc1 || ok.dbias !== acc2) throw new Error("into not returned");
      await ok.dx.ready();
    } finally {
      for (const t of held) t.destroy();
      shared.destroy();
    }
    noErrors(gpu);
  });

  add("failed calls free every buffer they made: liveBuffers() unchanged over many failure kinds", async () => {
    const p = problem(14, 6, 8, { w: true, b: true });
    const x = gpu.upload(p.x), dy = gpu.upload(p.dy), w = gpu.upload(p.weight!), b = gpu.upload(p.bias!);
    const f = gpu.layerNormForward(x, 8, { weight: w, bias: b });
    const gone = gpu.upload(p.x);
    gone.destroy();
    const g3 = gpu.upload({ shape: [2, 4, 3], data: new Float32Array(24) });
    const noStorage = gpu.device.createBuffer({ size: 64, usage: 0x1 | 0x8 });
    const mapped = gpu.device.createBuffer({ size: 64, usage: STORAGE_RW, mappedAtCreation: true });
    const w4 = gpu.upload({ shape: [4], data: new Float32Array(4) });
    const held = [x, dy, w, b, f.y, f.mean, f.rstd, g3, w4];
    const D = 65535 * 64 + 4; // one row too wide for the column-sum grid of this backward
    const wide = gpu.maxBytes >= D * 4 ? gpu.upload({ shape: [1, D], data: new Float32Array(D) }) : null;
    const wideW = wide && gpu.upload({ shape: [D], data: new Float32Array(D) });
    if (wide) held.push(wide, wideW!);
    const fails: [string, () => unknown, string][] = [
      ["normalizedShape", () => gpu.layerNorm(x, 7), "BAD_NORMALIZED_SHAPE"],
      ["weight shape", () => gpu.rmsNormForward(x, 8, { weight: dy }), "BAD_PARAM_SHAPE"],
      ["eps", () => gpu.layerNormForward(x, 8, { eps: -1 }), "BAD_EPS"],
      ["destroyed x", () => gpu.layerNormBackward(dy, gone, 8), "DESTROYED_TENSOR"],
      ["dy shape", () => gpu.layerNormBackward(w, x, 8), "SHAPE_MISMATCH"],
      ["rstd without mean", () => gpu.layerNormBackward(dy, x, 8, { rstd: f.rstd }), "BAD_ARGUMENT"],
      ["mean of RMSNorm", () => gpu.rmsNormBackward(dy, x, 8, { mean: f.mean, rstd: f.rstd }), "BAD_ARGUMENT"],
      ["saved stats shape", () => gpu.layerNormBackward(dy, x, 8, { mean: w, rstd: w }), "BAD_PARAM_SHAPE"],
      ["into without weight", () => gpu.layerNormBackward(dy, x, 8, { into: { dweight: w } }), "BAD_ARGUMENT"],
      ["into shape", () => gpu.layerNormBackward(dy, x, 8, { weight: w, into: { dweight: f.mean } }), "BAD_PARAM_SHAPE"],
      ["into aliasing", () => gpu.layerNormBackward(dy, x, 8, { weight: w, bias: b, into: { dweight: w } }), "BAD_ARGUMENT"],
      ["plan T", () => gpu.layerNorm(x, 8, { plan: { T: 3 } }), "BAD_ARGUMENT"],
      ["plan unknown key", () => gpu.layerNormBackward(dy, x, 8, { plan: { Tee: 4 } as object }), "BAD_ARGUMENT"],
      ["plan not an object", () => gpu.groupNorm(g3, 2, { plan: "fast" as unknown as object }), "BAD_ARGUMENT"],
      ["numGroups", () => gpu.groupNormForward(g3, 3), "BAD_NUM_GROUPS"],
      ["groupNorm rank", () => gpu.groupNorm(w, 1), "BAD_RANK"],
      ["groupNorm into aliasing", () => gpu.groupNormBackward(g3, g3, 2, { weight: w4, into: { dweight: w4 } }), "BAD_ARGUMENT"],
      ["upload dtype", () => gpu.upload({ shape: [2], data: new Float64Array(2) } as never), "BAD_DTYPE"],
      ["upload size", () => gpu.upload({ shape: [3], data: new Float32Array(2) }), "SHAPE_MISMATCH"],
      ["upload negative dim", () => gpu.upload({ shape: [2, -1], data: new Float32Array(2) }), "BAD_SHAPE"],
      // eslint-disable-next-line no-sparse-arrays
      ["upload holes", () => gpu.upload({ shape: [, 2] as number[], data: new Float32Array(2) }), "BAD_SHAPE"],
      ["read destroyed", () => gone.read(), "DESTROYED_TENSOR"],
      ["cpu normalizedShape", () => gpu.cpu.layerNorm(p.x, 9), "BAD_NORMALIZED_SHAPE"],
      ["cpu out aliasing x", () => gpu.cpu.rmsNorm(p.x, 8, { out: p.x }), "BAD_ARGUMENT"],
      ["cpu into aliasing", () => gpu.cpu.layerNormBackward(p.dy, p.x, 8, { weight: p.weight, into: { dweight: p.weight } }), "BAD_ARGUMENT"],
      ["cpu groupNorm", () => gpu.cpu.groupNormBackward({ shape: [2, 4, 3], data: new Float32Array(24) }, { shape: [2, 4, 3], data: new Float32Array(24) }, 3), "BAD_NUM_GROUPS"],
      ["wrap without STORAGE", () => gpu.wrap(noStorage, [4]), "BAD_ARGUMENT"],
      ["wrap mapped", () => gpu.wrap(mapped, [4]), "BAD_ARGUMENT"],
      ["wrap unknown option", () => gpu.wrap(mapped, [4], { byteOfset: 0 } as object), "UNKNOWN_OPTION"],
      ["wrap normkit's buffer", () => gpu.wrap(x.buffer, [48]), "BAD_ARGUMENT"],
      ["createGpuBackend unknown option", () => createGpuBackend({ devcie: gpu.device } as object), "UNKNOWN_OPTION"],
      ...(wide ? [["backward too wide for the column sums", () => gpu.layerNormBackward(wide, wide, D, { weight: wideW }), "LIMIT_EXCEEDED"] as [string, () => unknown, string]] : []),
    ];
    const before = gpu.liveBuffers();
    try {
      for (const [what, fn, code] of fails) {
        const n = gpu.liveBuffers();
        const e = await throwsNorm(fn, code).catch((err: Error) => {
          throw new Error(`${what}: ${err.message}`);
        });
        if (!e.argument) throw new Error(`${what}: NormError without an argument`);
        if (gpu.liveBuffers() !== n) throw new Error(`${what}: ${gpu.liveBuffers() - n} buffers left by the failed call`);
      }
      if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers left by the failed calls`);
    } finally {
      for (const t of held) t.destroy();
      noStorage.destroy();
      mapped.unmap();
      mapped.destroy();
    }
    noErrors(gpu);
  });

  add("a call failing midway through its allocations frees the buffers it had made", async () => {
    // limits shrunk to 512 bytes through a device wrapper: dx, dweight and dbias (16 bytes each)
    // are made, then the partial sums (64 rows × 16 bytes, the plan forced) exceed the limit
    const inst = instrumentedDevice(gpu.device, { maxBufferSize: 512, maxStorageBufferBindingSize: 512 });
    const g = await createGpuBackend({ device: inst.device });
    try {
      const t = (d: number[], shape = [1, 4]) => g.upload({ shape, data: Float32Array.from(d) });
      const x = t([1, 2, 3, 4]), dy = t([1, 0, 0, -1]), w = t([1, 1, 1, 1], [4]), b = t([0, 0, 0, 0], [4]);
      const f = g.layerNormForward(x, 4, { weight: w, bias: b });
      const before = g.liveBuffers(), made = inst.created();
      await throwsNorm(() => g.layerNormBackward(dy, x, 4, { weight: w, bias: b, mean: f.mean, rstd: f.rstd, plan: { T: 4, sg: 0, wgsum: false } }), "LIMIT_EXCEEDED", "512", "partial dweight");
      if (inst.created() - made !== 3) throw new Error(`expected 3 buffers made before the failure, got ${inst.created() - made}`);
      if (g.liveBuffers() !== before) throw new Error(`${g.liveBuffers() - before} of them still held`);
      // and the same call within the limits works
      const ok = g.layerNormBackward(dy, x, 4, { weight: w, bias: b, mean: f.mean, rstd: f.rstd });
      await ok.dx.read();
    } finally {
      g.destroy();
    }
    noErrors(g);
  });

  add("options: own properties only, unknown keys are UNKNOWN_OPTION with a suggestion, null options rejected", async () => {
    const p = problem(5, 4, 8, { w: true, b: true });
    const x = gpu.upload(p.x), dy = gpu.upload(p.dy), w = gpu.upload(p.weight!);
    const before = gpu.liveBuffers();
    await throwsNorm(() => gpu.layerNorm(x, 8, { weigth: w } as object), "UNKNOWN_OPTION", "weight", "weigth");
    await throwsNorm(() => gpu.rmsNormBackward(dy, x, 8, { epsilon: 1e-3 } as object), "UNKNOWN_OPTION", "eps", "epsilon");
    await throwsNorm(() => gpu.groupNorm(x, 2, { affine: true } as object), "UNKNOWN_OPTION", undefined, "affine");
    await throwsNorm(() => gpu.layerNormBackward(dy, x, 8, { into: { dweigth: w } } as object), "UNKNOWN_OPTION", "dweight", "into.dweigth");
    await throwsNorm(() => gpu.layerNorm(x, 8, null as never), "BAD_ARGUMENT", undefined, "options");
    await throwsNorm(() => gpu.layerNorm(x, 8, { out: w } as object), "UNKNOWN_OPTION", undefined, "out");
    check(gpu.liveBuffers() === before ? null : `a rejected call left ${gpu.liveBuffers() - before} buffers`);
    // an inherited weight is never read: the result is the plain LayerNorm's
    const plain = (await gpu.layerNorm(x, 8).read()).data;
    const proto = Object.prototype as Record<string, unknown>;
    proto.weight = w;
    proto.plan = { T: 3 };
    let polluted: Float32Array;
    try {
      polluted = (await gpu.layerNorm(x, 8, {}).read()).data;
    } finally {
      delete proto.weight;
      delete proto.plan;
    }
    check(bitwiseError(polluted, plain, "y under a polluted Object.prototype"));
    for (const t of [x, dy, w]) t.destroy();
    noErrors(gpu);
  });

  return list;
}
