/**
 * Resident tensors where the environment differs from Node's defaults:
 * - plain (non-shared) WebAssembly memory, as Firefox and Safari give a page that is not
 *   cross-origin isolated (forced here by refusing shared memory): a tensor's `data` re-views the
 *   grown memory, a view kept from before the growth is empty and ops reject it with
 *   DETACHED_BUFFER (never another tensor's values), results are the shared memory's bits, and
 *   the pool runs on the calling thread — in a Node child and in Chromium;
 * - Chromium without COOP/COEP: shared WebAssembly memory all the same (measured in Chromium 156),
 *   so views never go stale, and the relaxed-SIMD (FMA) build, which Chromium validates;
 * - Node with --experimental-wasm-relaxed-simd: the FMA build passes the golden cases and the
 *   batch-invariance suite, and the pool equals the synchronous call bitwise on it; the baseline
 *   selected there (`setBackend("wasm", { build: "simd" })`) gives this process's bits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nk from "../../src/index.js";
import { CHROMIUM, withPage } from "../webgpu/chromium.js";
import { bitsDigest, buildProbe } from "./build-probe.js";

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
// NODE_TEST_CONTEXT removed: a `node --test` inside a test would report to this runner, not to stdout
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT"));
const run = (args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(process.execPath, args, { timeout: 300_000, env }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${out}\n${errOut}`)) : resolve(out))),
  );

/** What every environment must show (residentChecks' result). */
function assertCommon(r: Record<string, unknown>, where: string): void {
  assert.equal(r.backend, "wasm", where);
  assert.equal(r.residentForwardBitwise, true, `${where}: resident forward = plain`);
  assert.equal(r.residentBackwardBitwise, true, `${where}: resident backward = plain`);
  assert.ok((r.refError as number) < 1e-5, `${where}: y vs the float64 reference ${r.refError}`);
  assert.equal(r.grew, true, `${where}: the memory grew`);
  assert.equal(r.dataReads, true, `${where}: data reads the values after growth`);
  assert.equal(r.afterGrowthBitwise, true, `${where}: same bits after growth`);
  assert.equal(r.addBitwise, true, `${where}: addRmsNorm on resident x, residual, out and residualOut = residual = plain`);
  assert.equal(r.halfBitwise, true, `${where}: float16 bits in resident memory = the same bits in a plain array`);
}

function assertPlain(r: Record<string, unknown>, where: string): void {
  assertCommon(r, where);
  assert.equal(r.shared, false, where);
  assert.equal(r.keptLength, 0, `${where}: a view from before the growth is detached (empty), not another tensor's data`);
  assert.equal(r.keptError, "DETACHED_BUFFER", `${where}: ops reject it`);
}

test("plain (non-shared) wasm memory, in Node: data re-views, kept views are empty and refused, same bits; the pool runs on the calling thread", async () => {
  const r = JSON.parse((await run([here("./resident-env-child.js"), "plain"])).trim().split("\n").pop()!);
  assertPlain(r, "node, plain memory");
  assert.equal(r.poolThreads, 1);
  assert.equal(r.poolWarned, 1);
  assert.deepEqual(r.poolResult.map((v: number) => Math.round(v * 1e5) / 1e5), [1, 1]);
});

test("relaxed SIMD (FMA) build in Node with --experimental-wasm-relaxed-simd: golden cases, batch invariance, pool = sync; the baseline selectable there", async (t) => {
  const files = ["../core/golden.test.js", "../core/invariance.test.js", "./fma-child.js"].map(here);
  const out = await run(["--experimental-wasm-relaxed-simd", "--test", ...files]);
  assert.match(out, /# fail 0/);
  assert.match(out, /ok \d+ - the relaxed-SIMD \(FMA\) build runs/);
  assert.match(out, /ok \d+ - setBackend\('wasm', \{ build: 'simd' \}\) where relaxed SIMD is the default/);
  // the baseline selected on that engine gives this process's bits (Node 20's default build)
  const before = nk.wasmBuild();
  nk.setBackend("wasm", { build: "simd" });
  const mine = buildProbe(nk);
  nk.setBackend("wasm", { build: before! });
  assert.equal(/# baseline-bits (\w+)/.exec(out)?.[1], bitsDigest(mine.y, mine.dx), "baseline selected under relaxed SIMD = baseline here, bitwise");
  const differs = /# fma-differs (\w+)/.exec(out)?.[1];
  t.diagnostic(`the FMA build ${differs === "true" ? "differs from" : "equals"} the baseline on the probe (${differs === "true" ? "this CPU fuses" : "no FMA on this CPU, or no difference on these inputs"})`);
});

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found`;

test("Chromium without COOP/COEP: shared wasm memory and the FMA build; with shared memory refused, the plain-memory design", { skip, timeout: 180_000 }, async () => {
  // (variables: TypeScript does not resolve the page's URLs)
  const checks = "/build/test/backends/resident-env-checks.js", index = "/build/src/index.js";
  const pages = await withPage(async (page) => {
    const shared = await page.evaluate(async ([m, i]) => {
      const c = await import(m!);
      return c.residentChecks(await import(i!));
    }, [checks, index]);
    await page.reload();
    const plain = await page.evaluate(async ([m, i]) => {
      const c = await import(m!);
      c.refuseSharedMemory();
      return c.residentChecks(await import(i!));
    }, [checks, index]);
    return { shared, plain, isolated: await page.evaluate(() => crossOriginIsolated) };
  });
  assert.equal(pages.isolated, false);
  assertCommon(pages.shared, "chromium");
  assert.equal(pages.shared.shared, true, "Chromium gives shared wasm memory without cross-origin isolation");
  assert.equal(pages.shared.keptLength, 64 * 300, "a kept view survives growth");
  assert.equal(pages.shared.keptError, null);
  assert.equal(pages.shared.build, "relaxed-simd", "Chromium validates relaxed SIMD");
  assertPlain(pages.plain, "chromium, plain memory");
});
