/**
 * Resident tensors (wasmTensor: data in normkit's WebAssembly memory) on the synchronous backend:
 * allocation and free, the freed-tensor contract, growth with live views, the memory limit,
 * every mix of resident and plain arrays (bitwise the plain call's), modules on resident inputs,
 * and hostile misuse (double free, out aliasing a resident input across buffer objects, views of
 * resident memory passed as plain tensors).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { WasmHeap } from "../../src/backends/wasm/memory.js";
import { assertBitwise, onBackend, rng } from "../helpers.js";
import { throwsNorm } from "../core/hostile.js";

const sync = <T>(f: () => T): T => onBackend("wasm", f);
const resident = (t: nk.Tensor) => nk.wasmTensor(t.shape, t.data);

test("wasmTensor: zeros or a copy, a Float32Array view of wasm memory (the same object each read), frozen shape; bad input is a NormError", async () => {
  const z = nk.wasmTensor([2, 3]);
  assert.deepEqual(Array.from(z.data), [0, 0, 0, 0, 0, 0]);
  const t = nk.wasmTensor([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(t.data), [1, 2, 3, 4, 5, 6]);
  assert.ok(t.data instanceof Float32Array && t.data.buffer instanceof SharedArrayBuffer, "Node: shared memory");
  assert.equal(t.data, t.data);
  assert.ok(Object.isFrozen(t.shape));
  assert.equal(nk.wasmMemory().shared, true);
  assert.ok(["simd", "relaxed-simd"].includes(nk.wasmBuild()!));
  await throwsNorm(() => nk.wasmTensor([2, 3], [1, 2]), "SHAPE_MISMATCH", "data");
  await throwsNorm(() => nk.wasmTensor([-1]), "BAD_SHAPE", "shape");
  await throwsNorm(() => nk.wasmTensor([2], ["a", 1] as never), "BAD_DTYPE", "data");
  await throwsNorm(() => nk.wasmTensor([2], [1, , 2] as never), "BAD_DTYPE", "data"); // eslint-disable-line no-sparse-arrays
  z.free();
  t.free();
});

test("allocation and free: wasmMemory() counts tensors and bytes; free() is idempotent; freed memory is reused, zeroed", () => {
  const before = nk.wasmMemory();
  const a = nk.wasmTensor([1000], new Float32Array(1000).fill(7));
  const b = nk.wasmTensor([10]), c = nk.wasmTensor([3, 5]);
  let m = nk.wasmMemory();
  assert.equal(m.tensors, before.tensors + 3);
  assert.ok(m.tensorBytes >= before.tensorBytes + 4 * (1000 + 10 + 15));
  assert.ok(m.bytesInUse >= m.tensorBytes && m.reserved >= m.bytesInUse && m.maximum >= m.reserved);
  const where = a.byteOffset;
  a.free();
  assert.equal(a.freed, true);
  a.free(); // a second free does nothing (and frees nobody else's memory)
  m = nk.wasmMemory();
  assert.equal(m.tensors, before.tensors + 2);
  const again = nk.wasmTensor([1000]);
  assert.equal(again.byteOffset, where, "first fit reuses the freed block");
  assert.ok(again.data.every((v) => v === 0), "reused memory is zeroed");
  a.free(); // still nothing: `again` keeps its data
  assert.equal(again.data.length, 1000);
  for (const t of [again, b, c]) t.free();
  m = nk.wasmMemory();
  assert.equal(m.tensors, before.tensors);
  assert.equal(m.tensorBytes, before.tensorBytes);
});

test("a freed tensor: data is a FREED_TENSOR NormError, in any op too; a view kept from before free() is refused until its bytes are reused", async () => {
  const x = nk.wasmTensor([4, 8], rng(1).tensor([4, 8]).data);
  const kept = x.data;
  x.free();
  await throwsNorm(() => x.data, "FREED_TENSOR", "data", ["freed"]);
  await throwsNorm(() => nk.layerNorm(x, 8), "FREED_TENSOR", "x.data");
  await throwsNorm(() => nk.rmsNormBackward(nk.tensor(new Float32Array(32), [4, 8]), x, 8), "FREED_TENSOR", "x.data");
  await throwsNorm(() => nk.layerNorm({ shape: [4, 8], data: kept }, 8), "FREED_TENSOR", "x.data", ["no live tensor"]);
  await throwsNorm(() => nk.tensor(kept, [4, 8]), "FREED_TENSOR", "data");
  // once another tensor holds those bytes, the old view shows that tensor's data (TF.js's dispose()
  // contract, docs/resident.md): normkit cannot tell, which is why views must not outlive free()
  const y = nk.wasmTensor([4, 8], new Float32Array(32).fill(3));
  if (y.byteOffset === kept.byteOffset) assert.equal(kept[0], 3);
  y.free();
});

test("growth: views taken before the memory grows stay valid and are the same objects; ops on them after growth give the same bits", () => {
  const x0 = rng(2).tensor([16, 64]);
  const x = resident(x0);
  const view = x.data;
  const y0 = sync(() => nk.layerNorm(x, 64)).data;
  const before = nk.wasmMemory().reserved;
  const big = nk.wasmTensor([32 << 20]); // 128 MiB: the memory must grow
  assert.ok(nk.wasmMemory().reserved > before, "the memory grew");
  assert.equal(view.length, 16 * 64, "the old view is not detached");
  assertBitwise(view, x0.data, "the old view reads the values");
  assert.equal(x.data, view, "shared memory: data is the same view");
  assertBitwise(sync(() => nk.layerNorm(x, 64)).data, y0, "after growth");
  assertBitwise(sync(() => nk.layerNorm({ shape: [16, 64], data: view }, 64)).data, y0, "the old view, as a plain tensor");
  big.free();
  x.free();
});

test("memory limit: a request past the memory's maximum is a LIMIT_EXCEEDED NormError naming the limit", async () => {
  await throwsNorm(() => nk.wasmTensor([2 ** 31]), "LIMIT_EXCEEDED", "shape", ["4 GiB", "the engine's limit"]);
  // a memory of 4 pages at most (256 KiB), as an engine with less address space would give
  const heap = new WasmHeap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true }), shared: true, maxBytes: 4 * 65536 });
  const p = heap.alloc(100_000, "tensor", "shape");
  await throwsNorm(() => heap.alloc(200_000, "tensor", "shape"), "LIMIT_EXCEEDED", "shape", ["256 KiB"]);
  heap.free(p);
  assert.ok(heap.alloc(200_000, "tensor", "shape") > 0, "fits once the first block is freed");
  // the engine refusing to grow (a maximum it reports but cannot reach) is a NormError too
  const liar = new WasmHeap({ memory: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }), shared: true, maxBytes: 1 << 30 });
  await throwsNorm(() => liar.alloc(1 << 20, "tensor", "shape"), "LIMIT_EXCEEDED", "shape", ["refused"]);
});

test("mixed resident and plain arrays: every mix of x, dy, out, weight, bias, statistics and into gives the plain call's bits", () => {
  const r = rng(3);
  // [37, 300]: many rows per chunk; [5, 5000]: fewer rows per chunk than a dweight block
  for (const [rows, D] of [[37, 300], [5, 5000]] as const) {
    const x = r.tensor([rows, D], 3, 1), dy = r.tensor([rows, D]), w = r.tensor([D], 0.5, 1), b = r.tensor([D]);
    for (const rms of [false, true]) {
      const [fwd, fws, bwd] = rms ? [nk.rmsNorm, nk.rmsNormForward, nk.rmsNormBackward] : [nk.layerNorm, nk.layerNormForward, nk.layerNormBackward];
      const y = sync(() => fwd(x, D, { weight: w, bias: b })).data;
      const s = sync(() => fws(x, D, { weight: w, bias: b })) as { rstd: nk.Tensor; mean?: nk.Tensor };
      const g = sync(() => bwd(dy, x, D, { weight: w, bias: b }));
      for (let mix = 0; mix < 64; mix++) {
        const on = (bit: number, t: nk.Tensor): nk.Tensor => (mix & (1 << bit) ? resident(t) : { shape: t.shape, data: t.data.slice() });
        const [rx, rdy, rw, rb] = [on(0, x), on(1, dy), on(2, w), on(3, b)];
        const out = on(4, nk.tensor(new Float32Array(rows * D), [rows, D]));
        const what = `${rms ? "rms" : "ln"} [${rows}, ${D}] mix ${mix.toString(2)}`;
        assertBitwise(sync(() => fwd(rx, D, { weight: rw, bias: rb, out })).data, y, `${what} y`);
        const st = rms ? { rstd: on(5, s.rstd) } : { mean: on(5, s.mean!), rstd: on(5, s.rstd) };
        const into = { dweight: on(5, nk.tensor(new Float32Array(D), [D])), dbias: on(4, nk.tensor(new Float32Array(D), [D])) };
        const gs = sync(() => bwd(rdy, rx, D, { weight: rw, bias: rb, ...st, out, into }));
        assertBitwise(gs.dx.data, g.dx.data, `${what} dx (saved statistics)`);
        assertBitwise(into.dweight.data, g.dweight!.data, `${what} dweight`);
        assertBitwise(into.dbias.data, g.dbias!.data, `${what} dbias`);
        assertBitwise(sync(() => bwd(rdy, rx, D, { weight: rw, bias: rb })).dx.data, g.dx.data, `${what} dx (recomputed statistics)`);
        for (const t of [rx, rdy, rw, rb, out, ...Object.values(st), into.dweight, into.dbias]) (t as Partial<nk.WasmTensor>).free?.();
      }
    }
  }
  // GroupNorm's strided rows stream from resident arrays as from any other
  const gx = r.tensor([3, 8, 50]), gw = r.tensor([8]);
  const gr = resident(gx);
  assertBitwise(sync(() => nk.groupNorm(gr, 4, { weight: gw })).data, sync(() => nk.groupNorm(gx, 4, { weight: gw })).data, "GroupNorm");
  gr.free();
});

test("hostile: out aliasing a resident input (also through another buffer object of the grown memory); views spanning tensors or outside any; subviews of one tensor", async () => {
  const rows = 6, D = 40;
  const x0 = rng(4).tensor([rows, D]);
  const x = resident(x0), other = nk.wasmTensor([rows, D]);
  const y0 = sync(() => nk.layerNorm(x0, D)).data;
  await throwsNorm(() => nk.layerNorm(x, D, { out: x }), "BAD_ARGUMENT", "out", ["overlapping x"]);
  await throwsNorm(() => nk.layerNorm(x, D, { out: { shape: [rows, D], data: x.data } }), "BAD_ARGUMENT", "out", ["overlapping x"]);
  // after a growth the memory has a new buffer object; a view through it is still x's bytes
  const big = nk.wasmTensor([nk.wasmMemory().reserved / 4 + (1 << 20)]); // more than the memory holds: it grows
  const through = new Float32Array(big.data.buffer, x.byteOffset, rows * D);
  assert.notEqual(through.buffer, x.data.buffer, "two buffer objects");
  await throwsNorm(() => nk.layerNorm(x, D, { out: { shape: [rows, D], data: through } }), "BAD_ARGUMENT", "out", ["overlapping x"]);
  await throwsNorm(() => nk.rmsNormBackward(x, x, D, { out: { shape: [rows, D], data: through } }), "BAD_ARGUMENT", "out", ["overlapping"]);
  // a view straddling two tensors, or memory no tensor holds: refused, never read
  const straddle = new Float32Array(x.data.buffer, x.byteOffset + 4 * (rows * D - 8), 16);
  if (other.byteOffset < x.byteOffset + 4 * rows * D + 64) {
    await throwsNorm(() => nk.rmsNorm({ shape: [16], data: straddle }, 16), "FREED_TENSOR", "x.data", ["no live tensor"]);
  }
  const end = big.byteOffset + 4 * big.data.length;
  if (end + 256 <= big.data.buffer.byteLength) {
    await throwsNorm(() => nk.rmsNorm({ shape: [64], data: new Float32Array(big.data.buffer, end, 64) }, 64), "FREED_TENSOR", "x.data");
  }
  await throwsNorm(() => nk.layerNorm(x, D, { out: { shape: [rows, D], data: new Float32Array(x.data.buffer, 0, rows * D) } }), "FREED_TENSOR", "out.data");
  // a subview of one live tensor is a resident tensor like any other
  const half = { shape: [rows / 2, D], data: x.data.subarray(rows / 2 * D) };
  assertBitwise(sync(() => nk.layerNorm(half, D)).data, y0.subarray(rows / 2 * D), "subview");
  const outHalf = { shape: [rows / 2, D], data: other.data.subarray(0, rows / 2 * D) };
  sync(() => nk.layerNorm(half, D, { out: outHalf }));
  assertBitwise(outHalf.data, y0.subarray(rows / 2 * D), "subview out");
  // inputs are never modified
  assertBitwise(x.data, x0.data, "x untouched");
  for (const t of [x, other, big]) t.free();
});

test("modules on resident inputs return their own resident buffers (reused), with the plain module's bits; a training loop allocates no wasm memory per step", () => {
  const r = rng(5);
  const [rows, D] = [12, 48];
  const x0 = r.tensor([rows, D]), dy0 = r.tensor([rows, D]);
  const plain = sync(() => {
    const m = new nk.LayerNorm(D);
    const y = m.forward(x0).data.slice();
    return { y, dx: m.backward(dy0).data.slice(), gw: m.weight!.grad.data.slice() };
  });
  const m = new nk.LayerNorm(D);
  const x = resident(x0), dy = resident(dy0);
  const y = sync(() => m.forward(x));
  assertBitwise(y.data, plain.y, "y");
  assert.ok(y.data.buffer instanceof SharedArrayBuffer, "y lives in wasm memory");
  const dx = sync(() => m.backward(dy));
  assertBitwise(dx.data, plain.dx, "dx");
  assertBitwise(m.weight!.grad.data, plain.gw, "dweight");
  // the next forward writes the same buffer (the module's), and a plain input gets a fresh one
  assert.equal(sync(() => m.forward(x)).data, y.data, "reused");
  const fresh = sync(() => m.forward(x0)).data;
  assert.ok(fresh !== y.data && !(fresh.buffer instanceof SharedArrayBuffer), "plain in, plain out");
  // dy that is the module's own dx buffer: computed into a fresh array, not over itself
  sync(() => m.forward(x));
  const again = sync(() => m.backward({ shape: [rows, D], data: dx.data }));
  assert.notEqual(again.data, dx.data);
  // steps allocate nothing in wasm memory once the buffers exist
  const use = () => nk.wasmMemory().bytesInUse;
  sync(() => m.backward(dy));
  const steady = use();
  for (let i = 0; i < 50; i++) {
    sync(() => m.forward(x));
    sync(() => m.backward(dy));
  }
  assert.equal(use(), steady, "bytes in use after 50 steps");
  x.free();
  dy.free();
});
