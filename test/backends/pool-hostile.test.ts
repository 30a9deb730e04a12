/**
 * The pool as a hostile user drives it: its own options (unknown keys, null, the threads bound),
 * every call's options and arrays as on the synchronous backends (unknown keys, polluted
 * prototypes, subclasses, proxies, aliasing between every pair of buffers), a detached out or
 * into mid-call, rows too wide for wasm memory, calls after close() and during it. Rejections
 * are NormErrors; inputs are never modified.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { assertBitwise, onBackend } from "../helpers.js";
import { BACKWARD_BUFFERS, WRITTEN, aliasedBackward, blamed, normErrorOf, t, throwsNorm, unchanged, wave, withPolluted } from "../core/hostile.js";

const sync = <T>(f: () => T): T => onBackend("wasm", f);

test("createPool: null, unknown keys, non-integer or too many threads are NormErrors", async () => {
  await throwsNorm(() => nk.createPool(null as never), "BAD_ARGUMENT", "options", ["null"]);
  await throwsNorm(() => nk.createPool({ thread: 2 } as never), "UNKNOWN_OPTION", "thread", ['did you mean "threads"']);
  await throwsNorm(() => nk.createPool({ min_elements: 0 } as never), "UNKNOWN_OPTION", "min_elements", ['did you mean "minElements"']);
  await throwsNorm(() => nk.createPool({ threads: 1e6 }), "LIMIT_EXCEEDED", "threads", ["at most"]);
  await throwsNorm(() => nk.createPool({ threads: "2" } as never), "BAD_ARGUMENT", "threads");
  await throwsNorm(() => nk.createPool({ threads: 1.5 }), "BAD_ARGUMENT", "threads");
  await throwsNorm(() => nk.createPool({ threads: 0 }), "BAD_ARGUMENT", "threads");
  await throwsNorm(() => nk.createPool({ minElements: NaN }), "BAD_ARGUMENT", "minElements");
  await throwsNorm(() => nk.createPool({ minElements: "0" } as never), "BAD_ARGUMENT", "minElements");
  await withPolluted({ threads: 1e6, minElements: NaN }, async () => {
    const p = await nk.createPool({ threads: 1 });
    assert.equal(p.threads, 1);
    await p.close();
  });
});

test("pool calls: options, arrays and aliasing as the synchronous ops; a detached out or into mid-call; wide rows", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const rows = 6, D = 40;
    const x = t([rows, D], wave), dy = t([rows, D], (i) => wave(i + 5)), w = t([D], (i) => 1 + i / 40);
    await throwsNorm(() => pool.layerNorm(x, D, { epsilon: 1e-3 } as never), "UNKNOWN_OPTION", "epsilon", ['did you mean "eps"']);
    await throwsNorm(() => pool.rmsNormBackward(dy, x, D, { weight: w, into: { dweigth: t([D]) } } as never), "UNKNOWN_OPTION", "into.dweigth");
    await throwsNorm(() => pool.layerNormForward(x, D, null as never), "BAD_ARGUMENT", "options");
    await throwsNorm(() => pool.layerNorm(x, [, D] as never), "BAD_NORMALIZED_SHAPE", "normalizedShape", ["hole"]); // eslint-disable-line no-sparse-arrays

    // polluted prototypes: the same bits as the clean synchronous call, the polluting out untouched
    const clean = sync(() => nk.layerNorm(x, D)).data;
    const polluter = t([rows, D], 7);
    await unchanged([x, polluter], () => withPolluted({ weight: t([D], 3), bias: t([D], 1), out: polluter, eps: 0.5 }, async () => {
      assertBitwise((await pool.layerNorm(x, D)).data, clean, "pool under pollution");
    }));

    // subclass: right answer; proxy: NormError
    class Sub extends Float32Array {
      override get length(): number {
        return 1;
      }
    }
    const sub = new Sub(rows * D);
    Float32Array.prototype.set.call(sub, x.data);
    assertBitwise((await pool.layerNorm({ shape: [rows, D], data: sub }, D, { weight: w })).data, sync(() => nk.layerNorm(x, D, { weight: w })).data, "subclass");
    const liar = new Proxy(x.data, { get: (tgt, k) => (k === "length" ? 2 * rows * D : Reflect.get(tgt, k)) });
    await throwsNorm(() => pool.layerNorm({ shape: [rows, D], data: liar }, D), "BAD_DTYPE", "x.data", ["Proxy"]);
    await throwsNorm(() => pool.rmsNormBackward(dy, x, D, { out: { shape: [rows, D], data: new Proxy(new Float32Array(rows * D), {}) } }), "BAD_DTYPE", "out.data");

    // aliasing, with every buffer in shared memory (the pool's fast path uses them in place)
    for (const [i, a] of BACKWARD_BUFFERS.entries()) {
      for (const b of BACKWARD_BUFFERS.slice(i + 1)) {
        const who = blamed(a, b);
        if (who === null) continue;
        const c = aliasedBackward(a, b, 3, 5, true);
        await unchanged(Object.values(c.tensors), () => throwsNorm(() => pool.layerNormBackward(...c.args), "BAD_ARGUMENT", who, ["overlapping"]));
      }
    }
    assert.ok(WRITTEN.length === 3);

    // out / into.dweight transferred away while the workers run
    const out = t([rows, D], 0);
    const p = pool.layerNorm(x, D, { out });
    structuredClone(out.data.buffer, { transfer: [out.data.buffer as ArrayBuffer] });
    await throwsNorm(() => p, "DETACHED_BUFFER", "out", ["during the call"]);
    const gw = t([D], 0);
    const q = pool.layerNormBackward(dy, x, D, { weight: w, into: { dweight: gw } });
    structuredClone(gw.data.buffer, { transfer: [gw.data.buffer as ArrayBuffer] });
    await throwsNorm(() => q, "DETACHED_BUFFER", "into.dweight");
    const gone = x.data.slice();
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    await throwsNorm(() => pool.layerNorm({ shape: [rows, D], data: gone }, D), "DETACHED_BUFFER", "x.data");

    // a row wider than wasm memory can hold: a NormError naming the limit, before any copy (the
    // arrays below are never touched, so the OS never backs their 1 GiB)
    const wide = 2 ** 28 + 16;
    const huge = { shape: [1, wide], data: new Float32Array(wide) };
    await throwsNorm(() => pool.rmsNorm(huge, wide), "LIMIT_EXCEEDED", "normalizedShape", ["4 GiB"]);
    await throwsNorm(() => pool.layerNormBackward(huge, huge, wide), "LIMIT_EXCEEDED", "normalizedShape", ["4 GiB"]);
    await throwsNorm(() => sync(() => nk.rmsNorm(huge, wide)), "LIMIT_EXCEEDED", "normalizedShape", ["4 GiB"]);
    // the pool still works
    assertBitwise((await pool.rmsNorm(x, D)).data, sync(() => nk.rmsNorm(x, D)).data, "after the refusals");
  } finally {
    await pool.close();
  }
});

test("pool: calls during close() finish; calls after it are NormErrors", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  const x = t([64, 64], wave);
  const inFlight = pool.layerNorm(x, 64);
  const closing = pool.close();
  const late = pool.rmsNorm(x, 64);
  late.catch(() => {}); // awaited below, after the call in flight
  assertBitwise((await inFlight).data, sync(() => nk.layerNorm(x, 64)).data, "the call in flight completes");
  await throwsNorm(() => late, "BAD_ARGUMENT", "pool", ["closed"]);
  await closing;
  const e = await normErrorOf(() => pool.layerNormBackward(x, x, 64));
  assert.equal(e.code, "BAD_ARGUMENT");
  await pool.close(); // twice is fine
});

test("wasm memory: a one-off very wide row runs on a throwaway memory: normkit's memory does not grow; resident, it runs in place", () => {
  const D = 1 << 21; // 8 MiB rows: streaming them needs ~32 MiB (forward), ~64 MiB (backward) of scratch
  const x = t([1, D], wave);
  const before = nk.wasmMemory();
  const y = sync(() => nk.layerNorm(x, D));
  const g = sync(() => nk.rmsNormBackward(x, x, D));
  const after = nk.wasmMemory();
  assert.equal(after.reserved, before.reserved, "reserved memory");
  assert.equal(after.bytesInUse, before.bytesInUse, "bytes in use");
  // the same row resident: in place, the same bits, and its memory back after free()
  const xr = nk.wasmTensor([1, D], x.data), yr = nk.wasmTensor([1, D]), dxr = nk.wasmTensor([1, D]);
  sync(() => nk.layerNorm(xr, D, { out: yr }));
  sync(() => nk.rmsNormBackward(xr, xr, D, { out: dxr }));
  assertBitwise(yr.data, y.data, "resident y");
  assertBitwise(dxr.data, g.dx.data, "resident dx");
  for (const r of [xr, yr, dxr]) r.free();
  assert.ok(nk.wasmMemory().bytesInUse <= before.bytesInUse + (1 << 20), "the tensors' memory is back");
});
