/**
 * The worker pool: same results as the synchronous wasm backend (bitwise for y and dx, whatever
 * the thread count), same validation, small inputs on the calling thread, and clean teardown with
 * no leak over 10,000 calls (in a child process, which must exit by itself).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import { assertBitwise, assertClose, onBackend, rng } from "../helpers.js";

const sync = <T>(f: () => T): T => onBackend("wasm", f);

test("pool = synchronous wasm: y and dx bitwise for 1..4 threads; dweight/dbias bitwise with 1 thread", async () => {
  const pools = await Promise.all([1, 2, 3, 4].map((threads) => nk.createPool({ threads, minElements: 0 })));
  try {
    const r = rng(11);
    for (const [rows, D] of [[1, 5], [7, 33], [300, 100], [65, 4097], [3, 20000]]) {
      const x = r.tensor([rows, D], 3, 1);
      const dy = r.tensor([rows, D]);
      for (const affine of [false, true]) {
        const opts = affine ? { weight: r.tensor([D], 0.5, 1), bias: r.tensor([D]) } : {};
        for (const rms of [false, true]) {
          const [f, b] = rms ? [nk.rmsNorm, nk.rmsNormBackward] : [nk.layerNorm, nk.layerNormBackward];
          const y = sync(() => f(x, [D], opts));
          const g = sync(() => b(dy, x, [D], opts));
          for (const pool of pools) {
            const what = `${rms ? "rms" : "ln"} [${rows},${D}] affine=${affine} threads=${pool.threads}`;
            const [pf, pb] = rms ? [pool.rmsNorm, pool.rmsNormBackward] : [pool.layerNorm, pool.layerNormBackward];
            const py = await pf(x, [D], opts);
            assert.deepEqual(py.shape, y.shape);
            assert.ok(py.data.buffer instanceof SharedArrayBuffer, "ran on the workers");
            assertBitwise(py.data, y.data, `${what} y`);
            const pg = await pb(dy, x, [D], opts);
            assertBitwise(pg.dx.data, g.dx.data, `${what} dx`);
            for (const k of ["dweight", "dbias"] as const) {
              assert.equal(pg[k] === null, g[k] === null, `${what} ${k} presence`);
              if (g[k] === null) continue;
              if (pool.threads === 1) assertBitwise(pg[k]!.data, g[k]!.data, `${what} ${k}`);
              else assertClose(pg[k]!.data, g[k]!.data, 1e-6 * rows, `${what} ${k}`);
            }
          }
        }
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
});

test("pool: inputs already in shared memory are used in place; NaN rows stay in their row", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  try {
    const [rows, D] = [200, 64];
    const data = new Float32Array(new SharedArrayBuffer(4 * rows * D));
    const r = rng(2);
    for (let i = 0; i < data.length; i++) data[i] = r.normal();
    data[150 * D + 3] = NaN;
    const x = nk.tensor(data, [rows, D]);
    const y = await pool.layerNorm(x, [D]);
    assertBitwise(y.data, sync(() => nk.layerNorm(x, [D])).data, "y");
    for (let i = 0; i < rows * D; i++) assert.equal(Number.isNaN(y.data[i]), Math.floor(i / D) === 150, `NaN at ${i}`);
  } finally {
    await pool.close();
  }
});

test("pool: small inputs run on the calling thread (same bits); validation as the synchronous ops", async () => {
  const pool = await nk.createPool({ threads: 2 });
  try {
    const x = rng(4).tensor([64, 768]);
    const y = await pool.layerNorm(x, [768]);
    assert.ok(!(y.data.buffer instanceof SharedArrayBuffer), "a [64, 768] input stays on the calling thread");
    assertBitwise(y.data, sync(() => nk.layerNorm(x, [768])).data, "y");
    const bad: Array<[() => unknown, () => Promise<unknown>]> = [
      [() => nk.layerNorm(x, [767]), () => pool.layerNorm(x, [767])],
      [() => nk.rmsNorm(x, 768, { eps: -1 }), () => pool.rmsNorm(x, 768, { eps: -1 })],
      [() => nk.layerNormBackward(rng(1).tensor([64, 767]), x, [768]), () => pool.layerNormBackward(rng(1).tensor([64, 767]), x, [768])],
      [() => nk.rmsNormBackward(x, x, [768], { weight: rng(1).tensor([3]) }), () => pool.rmsNormBackward(x, x, [768], { weight: rng(1).tensor([3]) })],
    ];
    for (const [s, p] of bad) {
      let want: nk.NormError | undefined;
      try {
        s();
      } catch (e) {
        want = e as nk.NormError;
      }
      assert.ok(want instanceof nk.NormError);
      await assert.rejects(p(), (e: unknown) => e instanceof nk.NormError && e.code === want!.code && e.message === want!.message);
    }
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.layerNorm(rng(1).tensor([2, 2]), 2), nk.NormError, "calls after close are refused");
  await assert.rejects(nk.createPool({ threads: 0 }), nk.NormError);
});

test("pool: no leak over 10,000 calls; close() ends the worker threads; the process exits", async () => {
  const child = fileURLToPath(new URL("./pool-leak-child.js", import.meta.url));
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", child], { timeout: 60_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    );
  });
  const m = JSON.parse(stdout.trim().split("\n").pop()!);
  const MB = 1 << 20;
  // a leak of one small buffer or closure per call would be ≥ 10,000 × ~2 KB = 20 MB
  assert.ok(m.after.heap - m.warm.heap < 4 * MB, `JS heap grew ${(m.after.heap - m.warm.heap) / MB} MB over 10,000 calls`);
  assert.ok(m.after.arrayBuffers - m.warm.arrayBuffers < 4 * MB, `array buffers grew ${(m.after.arrayBuffers - m.warm.arrayBuffers) / MB} MB`);
  assert.ok(m.after.external - m.warm.external < 4 * MB, `external memory grew ${(m.after.external - m.warm.external) / MB} MB`);
  if (m.before.threads > 0) {
    assert.ok(m.warm.threads > m.before.threads, "the workers run as OS threads");
    assert.equal(m.after.threads, m.warm.threads, "no thread started per call");
    assert.ok(m.closed.threads <= m.before.threads, `OS threads after close: ${m.closed.threads}, before the pool: ${m.before.threads}`);
  }
});
