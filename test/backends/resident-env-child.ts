/**
 * Child process of test/backends/resident-env.test.ts: `node resident-env-child.js plain` runs
 * residentChecks with shared WebAssembly memory refused (as in Firefox or Safari without
 * cross-origin isolation), then tries a pool; prints one JSON line.
 */
import { refuseSharedMemory, residentChecks } from "./resident-env-checks.js";

if (process.argv[2] === "plain") refuseSharedMemory();
const nk = await import("../../src/index.js");
const out: Record<string, unknown> = await residentChecks(nk);
// without shared memory the pool runs every call on the calling thread (and says so, once)
const warnings: string[] = [];
console.warn = (m: string) => void warnings.push(m);
const pool = await nk.createPool({ threads: 2, minElements: 0 });
const x = nk.wasmTensor([4, 8], new Float32Array(32).fill(2));
out.poolThreads = pool.threads;
out.poolWarned = warnings.length;
out.poolResult = Array.from((await pool.rmsNorm(x, 8)).data.slice(0, 2));
await pool.close();
console.log(JSON.stringify(out));
