/**
 * Child process of test/backends/pool.test.ts (run with --expose-gc): 10,000 pool calls through the
 * workers, memory and handle counts before and after, then close. Prints one JSON line and must
 * exit by itself: a leaked worker or handle would keep it alive.
 */
import { readdirSync } from "node:fs";
import { createPool, tensor } from "../../src/index.js";

/** OS threads of this process (Linux), -1 elsewhere: each worker adds some, close() must join them. */
const osThreads = () => {
  try {
    return readdirSync("/proc/self/task").length;
  } catch {
    return -1;
  }
};

const gc = (globalThis as { gc?: () => void }).gc!;
const usage = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, threads: osThreads() };
};

const before = usage();
const pool = await createPool({ threads: 2, minElements: 0 });
const x = tensor(Float32Array.from({ length: 8 * 64 }, (_, i) => Math.sin(i)), [8, 64]);
const weight = tensor(new Float32Array(64).fill(1.5), [64]);
const call = (i: number) => (i % 2 ? pool.layerNormBackward(x, x, [64], { weight }) : pool.rmsNorm(x, [64], { weight }));
for (let i = 0; i < 1000; i++) await call(i); // warm-up: JIT, worker heaps
const warm = usage();
for (let i = 0; i < 10000; i++) await call(i);
const after = usage();
await pool.close();
await new Promise((r) => setTimeout(r, 200)); // let the OS reap the joined threads
const closed = usage();
console.log(JSON.stringify({ before, warm, after, closed }));
