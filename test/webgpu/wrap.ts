/**
 * The WebGPU suite's tests of wrapped buffers and device errors: a caller's GPUBuffer used in
 * place (as another WebGPU engine's would be), what wrap checks, and calls the device rejects (a
 * wrapped buffer its owner destroyed, one of another device, an out-of-memory error) failing as
 * NormErrors at the call with nothing leaked and nothing silently wrong downstream.
 * Browser-safe; run by runGpuSuite in Chromium and on Dawn.
 */
import { createGpuBackend, type GpuBackend, type GpuTensor } from "../../src/backends/webgpu/index.js";
import { bitwiseError, closeError } from "../shared.js";
import { callerBuffer, check, instrumentedDevice, problem, readCallerBuffer, throwsNorm } from "./gpu-helpers.js";
import type { SuiteEnv, T } from "./suite.js";

const STORAGE = 0x80, COPY_SRC = 0x4, COPY_DST = 0x8, MAP_READ = 0x1;
const STORAGE_RW = STORAGE | COPY_SRC | COPY_DST;

const noErrors = (gpu: GpuBackend) => check(gpu.errors.length ? `GPU errors: ${gpu.errors.join("; ")}` : null);

export function wrapTests(env: SuiteEnv): T[] {
  const { gpu } = env;
  const list: T[] = [];
  const add = (name: string, fn: () => Promise<void>) => list.push({ name, fn });
  const align = () => gpu.device.limits.minStorageBufferOffsetAlignment;

  add("wrap: a caller's GPUBuffer runs in place without a copy; into accumulates in the caller's buffer; destroy() only detaches", async () => {
    const rows = 5, D = 16, off = align();
    const p = problem(31, rows, D, { w: true, b: true });
    const xb = callerBuffer(gpu.device, off + rows * D * 4 + 64, STORAGE_RW, p.x.data, off);
    const accb = callerBuffer(gpu.device, D * 4, STORAGE_RW, new Float32Array(D).fill(1));
    const w = gpu.upload(p.weight!), b = gpu.upload(p.bias!), dy = gpu.upload(p.dy);
    const held: GpuTensor[] = [w, b, dy];
    try {
      const before = gpu.liveBuffers();
      const shape = [rows, D];
      const x = gpu.wrap(xb, shape, { byteOffset: off });
      const acc = gpu.wrap(accb, [D]);
      shape[0] = 1;
      if (gpu.liveBuffers() !== before) throw new Error("wrap made a buffer (a copy?)");
      if (!x.wrapped || x.buffer !== xb || x.byteOffset !== off || x.shape.join() !== `${rows},${D}`) throw new Error("wrapped tensor's buffer, offset or shape");
      const y = gpu.layerNorm(x, D, { weight: w, bias: b });
      const g = gpu.layerNormBackward(dy, x, D, { weight: w, bias: b, into: { dweight: acc } });
      held.push(y, g.dx, g.dbias!);
      if (g.dweight !== acc) throw new Error("into.dweight not returned");
      const want = await gpu.cpu.layerNorm(p.x, D, { weight: p.weight, bias: p.bias });
      check(bitwiseError((await y.read()).data, want.data, "y of the wrapped x"));
      const wantG = await gpu.cpu.layerNormBackward(p.dy, p.x, D, { weight: p.weight, bias: p.bias });
      check(closeError(await readCallerBuffer(gpu.device, accb, 0, D * 4), wantG.dweight!.data.map((v) => 1 + v), 1e-6, "dweight added into the caller's buffer"));
      check(bitwiseError((await acc.read()).data, await readCallerBuffer(gpu.device, accb, 0, D * 4), "acc.read() = the caller's bytes"));
      // inputs are never modified, not even the bytes around the tensor
      check(bitwiseError(await readCallerBuffer(gpu.device, xb, off, rows * D * 4), p.x.data, "x in the caller's buffer"));
      check(bitwiseError(await readCallerBuffer(gpu.device, xb, 0, off), new Float32Array(off / 4), "bytes before byteOffset"));
      x.destroy();
      acc.destroy();
      if (!x.destroyed || !acc.destroyed) throw new Error("detached tensors do not report destroyed");
      await throwsNorm(() => gpu.layerNorm(x, D), "DESTROYED_TENSOR", "detached", "x");
      // the caller's buffers live on: normkit did not destroy them
      check(bitwiseError(await readCallerBuffer(gpu.device, xb, off, rows * D * 4), p.x.data, "x after detach"));
      const again = gpu.wrap(xb, [rows, D], { byteOffset: off });
      const y3 = gpu.layerNorm(again, D, { weight: w, bias: b });
      check(bitwiseError((await y3.read()).data, want.data, "a second wrap of the same buffer"));
      y3.destroy();
      again.destroy();
      if (gpu.liveBuffers() !== before + 3) throw new Error(`live buffers ${gpu.liveBuffers()} vs ${before + 3} (y, dx, dbias)`);
    } finally {
      for (const t of held) t.destroy();
      xb.destroy();
      accb.destroy();
    }
    noErrors(gpu);
  });

  add("wrap: read() of a wrapped buffer needs COPY_SRC, ops do not", async () => {
    const b = callerBuffer(gpu.device, 64, STORAGE | COPY_DST, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const x = gpu.wrap(b, [2, 4]);
    try {
      const y = gpu.rmsNorm(x, 4);
      const want = await gpu.cpu.rmsNorm({ shape: [2, 4], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) }, 4);
      check(bitwiseError((await y.read()).data, want.data, "rmsNorm of a wrapped buffer without COPY_SRC"));
      y.destroy();
      await throwsNorm(() => x.read(), "BAD_ARGUMENT", "COPY_SRC", "tensor");
    } finally {
      x.destroy();
      b.destroy();
    }
  });

  add("wrap: checked at the call (not a buffer, usage, alignment, size, shape, mapped, options, normkit's own buffer)", async () => {
    const b = gpu.device.createBuffer({ size: 1024, usage: STORAGE_RW });
    const mapOnly = gpu.device.createBuffer({ size: 64, usage: MAP_READ | COPY_DST });
    const mapped = gpu.device.createBuffer({ size: 64, usage: STORAGE_RW, mappedAtCreation: true });
    const own = gpu.upload({ shape: [4], data: new Float32Array(4) });
    const a = align();
    try {
      const before = gpu.liveBuffers();
      const w = (buf: unknown, shape: unknown, o?: unknown) => () => gpu.wrap(buf as GPUBuffer, shape as number[], o as object);
      for (const bad of [null, {}, new Float32Array(4), own, { usage: STORAGE, size: 64, mapState: "unmapped", destroy() {} }]) {
        await throwsNorm(w(bad, [4]), "BAD_ARGUMENT", "GPUBuffer", "buffer");
      }
      await throwsNorm(w(mapOnly, [4]), "BAD_ARGUMENT", "STORAGE", "buffer");
      for (const off of [4, a + 4, -a, 1.5, String(a), NaN]) await throwsNorm(w(b, [4], { byteOffset: off }), "BAD_ARGUMENT", String(a), "options.byteOffset");
      await throwsNorm(w(b, [257]), "BAD_ARGUMENT", "1028 bytes", "buffer");
      await throwsNorm(w(b, [4], { byteOffset: 1024 }), "BAD_ARGUMENT", "bytes", "buffer");
      // eslint-disable-next-line no-sparse-arrays
      for (const shape of [[, 4], [-1, 4], [2.5], "4", null, [4, "4"]]) await throwsNorm(w(b, shape), "BAD_SHAPE");
      await throwsNorm(w(b, [4], { byteOfset: 0 }), "UNKNOWN_OPTION", "did you mean", "byteOfset");
      await throwsNorm(w(b, [4], "256"), "BAD_ARGUMENT", "options");
      await throwsNorm(w(mapped, [4]), "BAD_ARGUMENT", "mapped", "buffer");
      mapped.unmap();
      const ok = gpu.wrap(mapped, [4]);
      await ok.ready();
      ok.destroy();
      await throwsNorm(w(own.buffer, [4]), "BAD_ARGUMENT", "normkit tensor", "buffer");
      const empty = gpu.wrap(b, [0, 4], { byteOffset: 1024 });
      if (empty.size !== 0 || (await empty.read()).data.length !== 0) throw new Error("an empty wrapped tensor");
      empty.destroy();
      if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers left by failed wraps`);
    } finally {
      own.destroy();
      for (const x of [b, mapOnly, mapped]) x.destroy();
    }
    noErrors(gpu);
  });

  add("device error: a wrapped buffer its owner destroyed fails the call at read/ready, frees its buffers, and poisons what used its output", async () => {
    const rows = 4, D = 8;
    const p = problem(32, rows, D, { w: true, b: false });
    const xb = callerBuffer(gpu.device, rows * D * 4, STORAGE_RW, p.x.data);
    const w = gpu.upload(p.weight!), dy = gpu.upload(p.dy), acc = gpu.upload({ shape: [D], data: new Float32Array(D) });
    const x = gpu.wrap(xb, [rows, D]);
    try {
      await x.ready();
      const before = gpu.liveBuffers();
      xb.destroy(); // by its owner, behind normkit's back
      const y = gpu.layerNorm(x, D, { weight: w }); // returns at once: the device answers later
      const z = gpu.rmsNorm(y, D); // chained before the answer
      const g = gpu.rmsNormBackward(dy, y, D, { weight: w, into: { dweight: acc } });
      await throwsNorm(() => y.read(), "BAD_ARGUMENT", "rejected layerNorm", "x");
      await throwsNorm(() => z.ready(), "BAD_ARGUMENT", "comes from a GPU call that failed", "x");
      await throwsNorm(() => g.dx.read(), "BAD_ARGUMENT", "comes from a GPU call that failed");
      // the accumulator got gradients of garbage: it says so instead of holding a wrong number
      await throwsNorm(() => acc.read(), "BAD_ARGUMENT", "comes from a GPU call that failed", "x");
      if (!y.destroyed || !z.destroyed) throw new Error("tensors of failed calls do not report destroyed");
      // once known, the failure is thrown at the next call that is given such a tensor
      await throwsNorm(() => gpu.layerNorm(y, D), "BAD_ARGUMENT", "comes from a GPU call that failed", "x");
      // the wrapped tensor itself is fine; each new call on the destroyed buffer fails the same way
      const y2 = gpu.layerNorm(x, D);
      await throwsNorm(() => y2.read(), "BAD_ARGUMENT", "rejected layerNorm", "x");
      if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers left by failed calls`);
    } finally {
      for (const t of [x, w, dy, acc]) t.destroy();
    }
    noErrors(gpu);
  });

  add("device error: a buffer of another device fails wrap (ready rejects) and every call fed by it; the buffer stays its owner's", async () => {
    const other = await env.fresh();
    const b = callerBuffer(other.device, 64, STORAGE_RW, new Float32Array([1, 2, 3, 4, 4, 3, 2, 1]));
    try {
      const before = gpu.liveBuffers();
      const x = gpu.wrap(b, [2, 4]);
      const y = gpu.layerNorm(x, 4);
      await throwsNorm(() => x.ready(), "BAD_ARGUMENT", "rejected wrap", "buffer");
      await throwsNorm(() => y.read(), "BAD_ARGUMENT", "comes from a GPU call that failed", "x");
      await throwsNorm(() => gpu.rmsNorm(x, 4), "BAD_ARGUMENT", "rejected wrap", "x");
      if (gpu.liveBuffers() !== before) throw new Error(`${gpu.liveBuffers() - before} buffers left`);
      const mine = other.wrap(b, [2, 4]);
      check(bitwiseError((await mine.read()).data, new Float32Array([1, 2, 3, 4, 4, 3, 2, 1]), "the buffer on its own device"));
    } finally {
      b.destroy();
      other.destroy();
    }
    noErrors(gpu);
  });

  add("device error: out of memory (injected through a device wrapper: SwiftShader cannot run out on demand) is LIMIT_EXCEEDED at the call, nothing leaked", async () => {
    const inst = instrumentedDevice(gpu.device);
    const g = await createGpuBackend({ device: inst.device });
    try {
      const D = 12;
      const p = problem(33, 7, D, { w: true, b: false });
      const x = g.upload(p.x), dy = g.upload(p.dy), w = g.upload(p.weight!), acc = g.upload({ shape: [D], data: new Float32Array(D) });
      await x.ready();
      const before = g.liveBuffers();
      inst.failNext("out-of-memory");
      const y = g.layerNorm(x, D, { weight: w });
      const z = g.rmsNorm(y, D);
      const gr = g.layerNormBackward(dy, y, D, { weight: w, into: { dweight: acc } });
      await throwsNorm(() => y.read(), "LIMIT_EXCEEDED", "ran out of memory in layerNorm", "device");
      await throwsNorm(() => z.read(), "LIMIT_EXCEEDED", "comes from a GPU call that failed");
      await throwsNorm(() => gr.dx.ready(), "LIMIT_EXCEEDED");
      await throwsNorm(() => acc.read(), "LIMIT_EXCEEDED", "comes from a GPU call that failed");
      if (g.liveBuffers() !== before) throw new Error(`${g.liveBuffers() - before} buffers left by failed calls`);
      // the async API reports it at the call
      inst.failNext("out-of-memory");
      await throwsNorm(() => g.cpu.layerNorm(p.x, D), "LIMIT_EXCEEDED", "out of memory");
      // a validation error that no wrapped buffer explains is reported as a bug, not as a number
      inst.failNext("validation");
      const y2 = g.rmsNorm(x, D);
      await throwsNorm(() => y2.read(), "BAD_ARGUMENT", "normkit bug", "device");
      if (g.liveBuffers() !== before) throw new Error(`${g.liveBuffers() - before} buffers left by failed calls`);
      // and the backend works on
      check(bitwiseError((await g.cpu.layerNorm(p.x, D, { weight: p.weight })).data, (await gpu.cpu.layerNorm(p.x, D, { weight: p.weight })).data, "after the failures"));
      noErrors(g);
    } finally {
      g.destroy();
    }
  });

  add("error scopes: normkit's calls leave the caller's own open scopes and errors alone", async () => {
    const x = gpu.upload({ shape: [2, 4], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 9]) });
    gpu.device.pushErrorScope("validation");
    const y = gpu.layerNorm(x, 4);
    gpu.device.createBuffer({ size: gpu.device.limits.maxBufferSize + 4, usage: STORAGE }); // the caller's own mistake
    const z = gpu.rmsNorm(y, 4);
    const e = await gpu.device.popErrorScope();
    try {
      if (e === null) throw new Error("the caller's scope lost its error");
      await z.ready();
      if ((await z.read()).data.some((v) => !Number.isFinite(v))) throw new Error("z");
    } finally {
      for (const t of [x, y, z]) t.destroy();
    }
    noErrors(gpu);
  });

  return list;
}
