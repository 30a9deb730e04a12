/**
 * Why 2 threads gain less than 2× (issue #11): the pool's scaling, and the three suspects measured
 * apart, each in rotated rounds (bench/quick-lib.ts), wall time (threads: CPU time of one process
 * says nothing about speed-up):
 * 1. dispatch latency: a pool call on a tiny resident input (all cost, no work) with 2 threads vs
 *    1 (no worker to wake), and a postMessage round trip to a worker (the pool's dispatch before);
 * 2. per-call allocation and copies: the pool on plain tensors (copied into wasm memory and out,
 *    a fresh output array) vs on resident tensors (no copy, no allocation);
 * 3. memory bandwidth: a copy split over 2 threads vs 1 (bandwidth-bound), and the LayerNorm
 *    kernel over rows already in cache, split over 2 threads vs 1 (compute-bound): where the first
 *    scales less than the second, the memory system is the limit.
 * Then the pool itself (resident tensors) at the benchmark's shapes, 1 thread (the synchronous op)
 * vs 2. Prints the machine's load average: on a shared 2-core VM the other processes take cores.
 *   npm run build && node build/bench/quick-threads.js [reps]
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import * as nk from "../src/index.js";
import { median, randn, REPS } from "./quick-lib.js";

const load = () => os.loadavg()[0]!.toFixed(1);
console.log(`${os.cpus()[0]?.model}, ${os.cpus().length} cores, load average ${load()}; wasm build ${nk.wasmBuild()}; ${REPS} rounds`);

/** Rotated rounds of async contenders; per contender the median wall ms, and the per-round ratio to the first. */
async function raceAsync(contenders: Record<string, () => Promise<number | void> | number | void>, inner = 1) {
  const names = Object.keys(contenders);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) for (let i = 0; i < inner; i++) await contenders[n]!();
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!;
      const t0 = performance.now();
      let own: number | void = undefined;
      for (let k = 0; k < inner; k++) own = await contenders[n]!();
      t[n]!.push(typeof own === "number" ? own : (performance.now() - t0) / inner);
    }
  }
  const base = t[names[0]!]!;
  return Object.fromEntries(names.map((n) => [n, { ms: median(t[n]!), ratio: median(t[n]!.map((v, i) => base[i]! / v)) }]));
}

function show(title: string, r: Record<string, { ms: number; ratio: number }>, unit: "ms" | "µs" = "ms", ratioLabel = "speed-up vs first") {
  console.log(`\n${title}  (median per call; ${ratioLabel}: median of per-round ratios; load ${load()})`);
  for (const [n, v] of Object.entries(r)) {
    const time = unit === "µs" ? `${(v.ms * 1000).toFixed(1).padStart(8)} µs` : `${v.ms.toFixed(3).padStart(8)} ms`;
    console.log(`  ${n.padEnd(46)} ${time}  ${v.ratio.toFixed(2)}×`);
  }
}

const p1 = await nk.createPool({ threads: 1, minElements: 0 });
const p2 = await nk.createPool({ threads: 2, minElements: 0 });

// 1. dispatch latency
{
  const x = nk.wasmTensor([8, 64], randn(512)), y = nk.wasmTensor([8, 64]);
  const echo = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
  const roundTrip = () => new Promise<void>((ok) => {
    echo.once("message", () => ok());
    echo.postMessage(1);
  });
  await roundTrip();
  const r = await raceAsync({
    "pool, 1 thread (no worker)": () => void p1.layerNorm(x, 64, { out: y }),
    "pool, 2 threads (Atomics wake-up and wait)": () => p2.layerNorm(x, 64, { out: y }).then(() => {}),
    "postMessage round trip to a worker": roundTrip,
  }, 200);
  show("1. dispatch: a pool call on [8, 64] (no work to speak of)", r, "µs", "first ÷ this");
  await echo.terminate();
  x.free();
  y.free();
}

// 2. per-call allocation and copies
for (const [rows, D] of [[4096, 768], [16384, 1024]] as const) {
  const n = rows * D;
  const data = randn(n), w = randn(D);
  const plain = nk.tensor(data, [rows, D]), out = nk.tensor(new Float32Array(n), [rows, D]);
  const rx = nk.wasmTensor([rows, D], data), ry = nk.wasmTensor([rows, D]), rw = nk.wasmTensor([D], w);
  const r = await raceAsync({
    "2 threads, resident x and out": () => p2.layerNorm(rx, D, { weight: rw, out: ry }).then(() => {}),
    "2 threads, plain x and out (copied in and out)": () => p2.layerNorm(plain, D, { weight: nk.tensor(w, [D]), out }).then(() => {}),
    "2 threads, plain x, fresh y per call": () => p2.layerNorm(plain, D, { weight: nk.tensor(w, [D]) }).then(() => {}),
  });
  show(`2. copies and allocation: pool layerNorm forward [${rows}, ${D}]`, r, "ms", "first ÷ this");
  for (const t of [rx, ry, rw]) t.free();
}

// 3. bandwidth vs compute, 2 threads vs 1, on plain shared arrays (no normkit in the way)
{
  const n = 16 << 20; // 64 MiB per array: far beyond the caches
  const sab = new SharedArrayBuffer(8 * n);
  const src = new Float32Array(sab, 0, n), dst = new Float32Array(sab, 4 * n, n);
  src.fill(1);
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const helper = new Worker(`
    const { workerData: { sab, ctl, n } } = require("node:worker_threads");
    const c = new Int32Array(ctl), src = new Float32Array(sab, 0, n), dst = new Float32Array(sab, 4 * n, n);
    let seen = 0;
    for (;;) {
      Atomics.wait(c, 0, seen);
      seen = Atomics.load(c, 0);
      if (seen < 0) break;
      dst.set(src.subarray(n >> 1), n >> 1);
      Atomics.store(c, 1, seen);
      Atomics.notify(c, 1);
    }`, { eval: true, workerData: { sab, ctl: ctl.buffer, n } });
  let seq = 0;
  const copy2 = () => {
    const t0 = performance.now();
    Atomics.store(ctl, 0, ++seq);
    Atomics.notify(ctl, 0);
    dst.set(src.subarray(0, n >> 1));
    while (Atomics.load(ctl, 1) !== seq) Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 1);
    return performance.now() - t0;
  };
  const r = await raceAsync({ "copy 256 MiB moved, 1 thread": () => void dst.set(src), "the same, half on each of 2 threads": copy2 });
  show("3a. memory bandwidth: a copy far beyond the caches", r);
  Atomics.store(ctl, 0, -1);
  Atomics.notify(ctl, 0);
  await helper.terminate();
  // the kernel on cached rows: 21 rows of 768 (one chunk), over and over, on 1 or 2 threads
  const rows = 21 * 200, D = 768;
  const xs = nk.wasmTensor([21, D], randn(21 * D));
  const big = nk.wasmTensor([rows, D]), by = nk.wasmTensor([rows, D]);
  // every block of 21 rows holds the same values: each thread's rows stay in its L1/L2
  for (let i = 0; i < rows / 21; i++) big.data.set(xs.data, i * 21 * D);
  const r2 = await raceAsync({
    "LayerNorm forward on cached rows, 1 thread": () => void nk.layerNorm(big, D, { out: by }),
    "the same, 2 threads": () => p2.layerNorm(big, D, { out: by }).then(() => {}),
  });
  show(`3b. compute: LayerNorm forward [${rows}, ${D}] of one repeated chunk (${((4 * 21 * D) / 1024).toFixed(0)} KiB)`, r2);
  for (const t of [xs, big, by]) t.free();
}

// 4. the pool on resident tensors at the benchmark's shapes: 1 thread (the synchronous op) vs 2
for (const [rows, D] of [[4096, 768], [1024, 4096], [16384, 1024]] as const) {
  const n = rows * D;
  const t = (a?: Float32Array) => nk.wasmTensor([rows, D], a);
  const x = t(randn(n)), dy = t(randn(n)), y = t(), dx = t();
  const w = nk.wasmTensor([D], randn(D)), b = nk.wasmTensor([D], randn(D)), gw = nk.wasmTensor([D]), gb = nk.wasmTensor([D]);
  const s = nk.layerNormForward(x, D, { weight: w, bias: b });
  const mean = nk.wasmTensor([rows], s.mean.data), rstd = nk.wasmTensor([rows], s.rstd.data);
  const f = { weight: w, bias: b, out: y };
  const g = { weight: w, bias: b, mean, rstd, out: dx, into: { dweight: gw, dbias: gb } };
  const r = await raceAsync({
    "forward, 1 thread": () => void nk.layerNorm(x, D, f),
    "forward, 2 threads": () => p2.layerNorm(x, D, f).then(() => {}),
  });
  show(`4. LayerNorm [${rows}, ${D}], resident`, r);
  const rb = await raceAsync({
    "backward, 1 thread": () => void nk.layerNormBackward(dy, x, D, g),
    "backward, 2 threads": () => p2.layerNormBackward(dy, x, D, g).then(() => {}),
  });
  show(`4. LayerNorm backward [${rows}, ${D}], resident`, rb);
  for (const a of [x, dy, y, dx, w, b, gw, gb, mean, rstd]) a.free();
}

await p1.close();
await p2.close();
