/**
 * The pool on normkit's shared WebAssembly memory: resident tensors are read and written in place
 * by every thread, bitwise the synchronous call (y, dx, mean, rstd for any thread count; dweight/
 * dbias with one); mixed resident and plain calls; a resident tensor freed during a call keeps its
 * memory until the call ends; and no leak over 10,000 calls of resident work (sync ops, modules,
 * pool, alloc/free and tensors left to the FinalizationRegistry) in a child process.
 */
import { WasmHeap } from "../../src/backends/wasm/memory.js";
import { Staging } from "../../src/pool/staging.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import { assertBitwise, assertClose, onBackend, rng } from "../helpers.js";

const sync = <T>(f: () => T): T => onBackend("wasm", f);
const resident = (t: nk.Tensor) => nk.wasmTensor(t.shape, t.data);

test("pool on shared memory: resident tensors in place, bitwise = sync for 1..3 threads; mixed calls too", async () => {
  const pools = await Promise.all([1, 2, 3].map((threads) => nk.createPool({ threads, minElements: 0 })));
  try {
    const r = rng(21);
    for (const [rows, D] of [[7, 33], [300, 100], [65, 4097]]) {
      const x = r.tensor([rows, D], 3, 1), dy = r.tensor([rows, D]), w = r.tensor([D], 0.5, 1), b = r.tensor([D]);
      for (const rms of [false, true]) {
        const [fws, bwd] = rms ? [nk.rmsNormForward, nk.rmsNormBackward] : [nk.layerNormForward, nk.layerNormBackward];
        const f = sync(() => fws(x, [D], { weight: w, bias: b })) as { y: nk.Tensor; rstd: nk.Tensor; mean?: nk.Tensor };
        const g = sync(() => bwd(dy, x, [D], { weight: w, bias: b }));
        for (const pool of pools) {
          for (const mix of [0b1111, 0b0101, 0b1010]) {
            const on = (bit: number, t: nk.Tensor): nk.Tensor => (mix & (1 << bit) ? resident(t) : t);
            const what = `${rms ? "rms" : "ln"} [${rows},${D}] threads=${pool.threads} mix=${mix.toString(2)}`;
            const rx = on(0, x), rdy = on(1, dy), rw = on(2, w), out = on(3, nk.tensor(new Float32Array(rows * D), [rows, D]));
            const pf = (rms ? pool.rmsNormForward : pool.layerNormForward) as typeof pool.layerNormForward;
            const pr = await pf(rx, [D], { weight: rw, bias: b, out });
            assertBitwise(out.data, f.y.data, `${what} y`);
            assertBitwise(pr.rstd.data, f.rstd.data, `${what} rstd`);
            if (!rms) assertBitwise(pr.mean.data, f.mean!.data, `${what} mean`);
            const pb = rms ? pool.rmsNormBackward : pool.layerNormBackward;
            const dxOut = on(3, nk.tensor(new Float32Array(rows * D), [rows, D]));
            const pg = await pb(rdy, rx, [D], { weight: rw, bias: b, out: dxOut });
            assertBitwise(dxOut.data, g.dx.data, `${what} dx`);
            for (const k of ["dweight", "dbias"] as const) {
              if (pool.threads === 1) assertBitwise(pg[k]!.data, g[k]!.data, `${what} ${k}`);
              else assertClose(pg[k]!.data, g[k]!.data, 1e-6 * rows, `${what} ${k}`);
            }
            // saved statistics, resident too
            const st = rms ? { rstd: resident(f.rstd) } : { mean: resident(f.mean!), rstd: resident(f.rstd) };
            await pb(rdy, rx, [D], { weight: rw, bias: b, ...st, out: dxOut });
            assertBitwise(dxOut.data, g.dx.data, `${what} dx from saved statistics`);
            for (const t of [rx, rdy, rw, out, dxOut, ...Object.values(st)]) (t as Partial<nk.WasmTensor>).free?.();
          }
        }
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
});

test("pool: a resident tensor freed during a call keeps its memory until the call ends", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const [rows, D] = [512, 256];
    const x0 = rng(22).tensor([rows, D]);
    const x = resident(x0), out = nk.wasmTensor([rows, D]);
    const at = out.byteOffset;
    const call = pool.layerNorm(x, D, { out });
    out.free();
    x.free();
    // the freed blocks are pinned by the call: a new tensor of the same size goes elsewhere
    const other = nk.wasmTensor([rows, D], new Float32Array(rows * D).fill(5));
    assert.notEqual(other.byteOffset, at);
    const y = await call;
    assertBitwise(y.data, sync(() => nk.layerNorm(x0, D)).data, "the call wrote its out");
    assert.ok(other.data.every((v) => v === 5), "the other tensor untouched");
    // after the call, the memory is free again
    const after = nk.wasmTensor([rows, D]);
    assert.ok(after.byteOffset === at || nk.wasmMemory().tensors >= 2);
    other.free();
    after.free();
  } finally {
    await pool.close();
  }
});

test("no leak over 10,000 calls of resident work (sync, modules, pool, alloc/free, finalized tensors); the process exits", async () => {
  const child = fileURLToPath(new URL("./resident-leak-child.js", import.meta.url));
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", child], { timeout: 120_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    );
  });
  const m = JSON.parse(stdout.trim().split("\n").pop()!);
  const MB = 1 << 20;
  assert.equal(m.after.wasm.bytesInUse, m.warm.wasm.bytesInUse, "wasm bytes in use");
  assert.equal(m.after.wasm.reserved, m.warm.wasm.reserved, "wasm memory reserved");
  assert.equal(m.after.wasm.tensors, m.warm.wasm.tensors, "live resident tensors");
  assert.ok(m.after.heap - m.warm.heap < 4 * MB, `JS heap grew ${(m.after.heap - m.warm.heap) / MB} MB over 10,000 iterations`);
  assert.ok(m.after.external - m.warm.external < 4 * MB, `external memory grew ${(m.after.external - m.warm.external) / MB} MB`);
  assert.equal(m.finalized.tensors, m.warm.wasm.tensors, "tensors never freed were collected and their memory given back");
  assert.equal(m.finalized.bytesInUse, m.warm.wasm.bytesInUse);
});

test("pool and sync on resident tensors for issue #12's calls: fused add (h over the residual in place), its backward with resident into, weightOffset, BatchNorm = plain, bitwise", async () => {
  const pools = await Promise.all([1, 2].map((threads) => nk.createPool({ threads, minElements: 0 })));
  try {
    const r = rng(31);
    const [rows, D] = [130, 257];
    const x = r.tensor([rows, D], 2, 1), res = r.tensor([rows, D]), dy = r.tensor([rows, D]), w = r.tensor([D], 0.5, 1), ib = r.tensor([D]);
    const o = { weight: w, inputBias: ib, weightOffset: 1 };
    const f = sync(() => nk.addLayerNorm(x, res, [D], o));
    const g = sync(() => nk.addLayerNormBackward(dy, f.h, [D], { ...o, mean: f.mean, rstd: f.rstd }));
    const bx = r.tensor([8, 6, 40], 2, 1), bw = r.tensor([6], 0.5, 1);
    const bn = sync(() => nk.batchNorm(bx, { weight: bw, training: true }));
    const runs: Array<[string, (c: () => unknown) => Promise<unknown>, typeof nk | nk.Pool]> = [
      ["sync", async (c) => sync(c as () => unknown), nk],
      ...pools.map((p) => [`pool threads=${p.threads}`, (c: () => unknown) => c() as Promise<unknown>, p] as [string, (c: () => unknown) => Promise<unknown>, nk.Pool]),
    ];
    for (const [what, call, api] of runs) {
      const rx = resident(x), rres = resident(res), out = nk.wasmTensor([rows, D]), rw = resident(w);
      await call(() => api.addLayerNorm(rx, rres, [D], { ...o, weight: rw, out, residualOut: rres }));
      assertBitwise(out.data, f.y.data as Float32Array, `${what} y`);
      assertBitwise(rres.data, f.h.data as Float32Array, `${what} h in place over the residual`);
      const rdy = resident(dy), dx = nk.wasmTensor([rows, D]), dwInto = nk.wasmTensor([D]), dibInto = nk.wasmTensor([D]);
      const pg = (await call(() => api.addLayerNormBackward(rdy, rres, [D], {
        ...o, weight: rw, mean: resident(f.mean), rstd: resident(f.rstd), out: dx, into: { dweight: dwInto, dinputBias: dibInto },
      }))) as nk.AddNormGrads;
      assertBitwise(dx.data, g.dx.data as Float32Array, `${what} dx`);
      assert.equal(pg.dweight!.data, dwInto.data, `${what}: dweight accumulated into the resident tensor`);
      assertClose(dwInto.data, g.dweight!.data as Float32Array, 1e-6 * rows, `${what} dweight`);
      assertClose(dibInto.data, g.dinputBias!.data as Float32Array, 1e-6 * rows, `${what} dinputBias`);
      const rbx = resident(bx), rbw = resident(bw);
      const by = (await call(() => api.batchNorm(rbx, { weight: rbw, training: true }))) as nk.Tensor;
      assertBitwise(by.data, bn.data as Float32Array, `${what} batchNorm`);
      for (const t of [rx, rres, out, rw, rdy, dx, dwInto, dibInto, rbx, rbw]) t.free();
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
});

test("pool staging: scratch that grows the shared memory is a view of the grown memory (a [16384, 1024] pool LayerNorm threw RangeError)", () => {
  // one page, so the 4 MiB of scratch must grow the memory inside the allocation
  const heap = new WasmHeap(undefined, 1);
  const staging = new Staging(heap);
  const before = heap.memory.buffer.byteLength;
  const v = staging.scratch(Float32Array, 1 << 20);
  assert.ok(heap.memory.buffer.byteLength > before, "the memory grew");
  assert.equal(v.length, 1 << 20);
  assert.ok(v.every((e) => e === 0));
  v[v.length - 1] = 7; // the view reaches its last element in the memory itself
  assert.equal(new Float32Array(heap.memory.buffer, v.byteOffset, v.length)[v.length - 1], 7);
  staging.release();
});
