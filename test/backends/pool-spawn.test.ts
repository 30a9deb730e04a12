/**
 * The pool's worker lifecycle in Node (src/pool/spawn.ts), with the worker script replaced: a copy
 * of the built library whose pool/worker.js is missing, refuses to start, exits or throws mid-call.
 * Every failure must reach the caller as a NormError or an Error (never hang), and a createPool
 * that fails must leave no worker running (checked in a child process that must exit by itself).
 * The browser side (a worker script answered by a 404) is in test/package.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as Normkit from "../../src/index.js";

const LIB = fileURLToPath(new URL("../../src/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "normkit-spawn-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let copies = 0;
/** A copy of the built library with pool/worker.js replaced by `worker` (null: removed). */
function libWith(worker: string | null): { dir: string; load: () => Promise<typeof Normkit> } {
  const dir = join(tmp, `lib${copies++}`);
  cpSync(LIB, dir, { recursive: true, filter: (f) => !f.endsWith(join("pool", "worker.js")) });
  if (worker !== null) writeFileSync(join(dir, "pool", "worker.js"), worker);
  return { dir, load: () => import(pathToFileURL(join(dir, "index.js")).href) as Promise<typeof Normkit> };
}

const READY = `import { parentPort, threadId } from "node:worker_threads";\n`;
const x = (nk: typeof Normkit) => nk.tensor(new Float32Array(4 * 8).fill(1), [4, 8]);

test("worker script missing: createPool rejects with a NormError naming it", async () => {
  const nk = await libWith(null).load();
  await assert.rejects(nk.createPool({ threads: 2 }), (e: unknown) => {
    assert.ok(e instanceof nk.NormError, String(e));
    assert.equal(e.code, "BACKEND_UNAVAILABLE");
    assert.match(e.message, /^createPool: the pool's worker script \(file:.*\/pool\/worker\.js\) did not start: .*docs\/install\.md/);
    return true;
  });
});

test("a worker without the kernels (ready: false): createPool rejects with a NormError carrying its reason", async () => {
  const nk = await libWith(`${READY}parentPort.postMessage({ ready: false, error: "no SIMD in this test" });\n`).load();
  await assert.rejects(nk.createPool({ threads: 2 }), { name: "NormError", code: "BACKEND_UNAVAILABLE", message: "createPool: no SIMD in this test" });
});

test("a worker that exits during a call: the call rejects with an Error, so do later calls; close() resolves", async () => {
  const nk = await libWith(`${READY}parentPort.on("message", () => process.exit(3));\nparentPort.postMessage({ ready: true });\n`).load();
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  await assert.rejects(pool.layerNorm(x(nk), [8]), { message: "normkit worker exited with code 3" });
  await assert.rejects(pool.rmsNorm(x(nk), [8]), { message: "normkit worker exited with code 3" });
  await pool.close();
});

test("a worker that throws during a call: the call rejects with that Error", async () => {
  const nk = await libWith(`${READY}parentPort.on("message", () => { throw new RangeError("thrown in the worker"); });\nparentPort.postMessage({ ready: true });\n`).load();
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  await assert.rejects(pool.layerNorm(x(nk), [8]), (e: unknown) => e instanceof Error && /thrown in the worker/.test(e.message));
  await pool.close();
});

test("a worker that throws a non-Error: the call still rejects with an Error", async () => {
  const nk = await libWith(`${READY}parentPort.on("message", () => { throw "a bare string"; });\nparentPort.postMessage({ ready: true });\n`).load();
  const pool = await nk.createPool({ threads: 1, minElements: 0 });
  await assert.rejects(pool.layerNorm(x(nk), [8]), (e: unknown) => e instanceof Error && /a bare string/.test(e.message));
  await pool.close();
});

test("one of four workers fails to start: createPool rejects and terminates the three that started", async () => {
  // one of any four consecutive thread ids is a multiple of 4: that worker refuses, after the
  // others (which stay ref'd until createPool succeeds) have said ready
  const { dir } = libWith(
    // (listening keeps a worker alive, as the real one does)
    `${READY}parentPort.on("message", () => {});\n` +
      `setTimeout(() => parentPort.postMessage(threadId % 4 === 0 ? { ready: false, error: "refused" } : { ready: true }), threadId % 4 === 0 ? 300 : 0);\n`,
  );
  const child = join(dir, "child.mjs");
  writeFileSync(
    child,
    `import { createPool } from "./index.js";\n` +
      `try { await createPool({ threads: 4 }); console.log("created"); } catch (e) { console.log(e.name + ": " + e.message); }\n`,
  );
  // the child must exit by itself: a worker left running (ref'd) would keep it alive until the timeout
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [child], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
  );
  assert.equal(out.trim(), "NormError: createPool: refused");
});
