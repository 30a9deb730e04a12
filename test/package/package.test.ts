/**
 * The tarball a user installs: `npm pack` on a copy of the repository without build/ (prepack
 * builds), installed offline into a fresh consumer project, then used as users do (issue #10):
 * Node ESM and CommonJS, `tsc --strict` without skipLibCheck on TypeScript 5.0, 5.4, 5.9 and 7,
 * and pages bundled by esbuild and Vite, run in headless Chromium (wasm ops, the pool on Web
 * Workers, WebGPU on SwiftShader; without cross-origin isolation; without the worker script).
 * One pack and one install serve every test.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, ROOT, packAndInstall, sh, type Packed } from "./pack.js";
import { chromiumSkip, runPages, serveDir, type PageRun } from "./serve.js";

let packed: Packed;
before(async () => void (packed = await packAndInstall()), { timeout: 360_000 });
after(() => packed && rmSync(packed.tmp, { recursive: true, force: true }));

// the consumer's input (test/package/consumer/node-esm.mjs, web/app.js) and its float64 LayerNorm
const [rows, D] = [64, 96];
const x = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i * 0.37) * 3 + 1);
function layerNorm64(weight: (i: number) => number, bias: (i: number) => number): Float64Array {
  const y = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * D, (r + 1) * D);
    const mean = row.reduce((s, v) => s + v, 0) / D;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / D;
    for (let i = 0; i < D; i++) y[r * D + i] = ((row[i] - mean) / Math.sqrt(variance + 1e-5)) * weight(i) + bias(i);
  }
  return y;
}
const plain = layerNorm64(() => 1, () => 0);
const affine = layerNorm64((i) => 0.5 + i / D, (i) => i / D - 0.5);
function assertClose(got: number[], want: Float64Array, what: string): void {
  assert.equal(got.length, want.length, what);
  const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
  assert.ok(worst < 1e-5, `${what}: max |normkit − float64 LayerNorm| = ${worst}`);
}

test("the tarball ships the ESM build, .d.ts, embedded wasm, worker, LICENSE, README, CHANGELOG, and no tests", () => {
  const files = new Set(packed.files);
  for (const f of [
    "package.json", "LICENSE", "README.md", "CHANGELOG.md",
    "build/src/index.js", "build/src/index.d.ts", "build/src/webgpu.js", "build/src/webgpu.d.ts",
    "build/src/webgpu-node.js", "build/src/webgpu-node.d.ts", "build/src/pool/worker.js",
    "build/src/backends/wasm/kernels.generated.js",
  ]) assert.ok(files.has(f), `${f} is missing from the tarball`);
  const stray = packed.files.filter((f) => !/^(build\/src|src)\//.test(f) && !["package.json", "LICENSE", "README.md", "CHANGELOG.md"].includes(f));
  assert.deepEqual(stray, [], "only the library, its sources and the four top-level files ship");
  const pkg = JSON.parse(readFileSync(join(packed.consumer, "node_modules/normkit/package.json"), "utf8"));
  for (const target of Object.values(pkg.exports as Record<string, string | Record<string, string>>).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)))) {
    assert.ok(files.has(target.replace(/^\.\//, "")), `exports names ${target}, which the tarball lacks`);
  }
  for (const field of ["repository", "homepage", "keywords", "engines", "license"]) assert.ok(pkg[field], `package.json has no ${field}`);
  // the kernels travel inside the JavaScript (no .wasm file to serve): base64 of "\0asm"
  assert.match(readFileSync(join(packed.consumer, "node_modules/normkit/build/src/backends/wasm/kernels.generated.js"), "utf8"), /"AGFzbQ/);
});

test("Node ESM: LayerNorm on wasm and on the worker_threads pool, from the installed package", async () => {
  const r = JSON.parse(await sh(process.execPath, ["node-esm.mjs"], packed.consumer));
  assert.equal(r.backend, "wasm");
  assertClose(r.y, plain, "sync");
  assert.deepEqual(r.pool, r.y, "the pool's rows are bitwise the sync ones");
  assert.equal(r.threads, 2);
  for (const name of ["createGpuBackend", "GpuBackend", "GpuTensor"]) assert.ok(r.webgpu.includes(name), `normkit/webgpu exports ${name}`);
});

test("CommonJS: require('normkit') (require of ESM, unflagged from the Node versions in engines)", async () => {
  const engines = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).engines.node;
  assert.equal(engines, "^20.19.0 || >=22.12.0");
  const [major, minor] = process.versions.node.split(".").map(Number);
  assert.ok((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22, `this Node (${process.version}) is outside engines`);
  const r = JSON.parse(await sh(process.execPath, ["node-cjs.cjs"], packed.consumer));
  assert.equal(r.backend, "wasm");
  assertClose(r.y, plain, "require");
});

test("TypeScript 5.0, 5.4, 5.9, 7: tsc --strict, no skipLibCheck, main entry without WebGPU types, webgpu entries with them", { timeout: 300_000 }, async () => {
  const dir = join(packed.consumer, "ts");
  // the main entry with lib ES2022 alone (no DOM, no @types/node, no WebGPU types); every entry
  // with lib DOM and WebGPU's types from @webgpu/types (TypeScript 7's lib.dom has them, and
  // @webgpu/types 0.1.74 would clash with it: TS2300 duplicate identifiers)
  const jobs: [string, string][] = [
    ["typescript-5.0", "tsconfig.main.json"], ["typescript-5.0", "tsconfig.web-ts5.0.json"],
    ["typescript-5.4", "tsconfig.main.json"], ["typescript-5.4", "tsconfig.web.json"],
    ["typescript", "tsconfig.main.json"], ["typescript", "tsconfig.web.json"],
    ["typescript-7", "tsconfig.main.json"], ["typescript-7", "tsconfig.web-ts7.json"],
  ];
  const failures: string[] = [];
  const next = async (): Promise<void> => {
    const job = jobs.shift();
    if (job === undefined) return;
    const [ts, config] = job;
    const tsc = join(ROOT, "node_modules", ts, "bin/tsc");
    try {
      await sh(process.execPath, [tsc, "-p", config], dir);
    } catch (e) {
      failures.push(`${ts} -p ${config}: ${(e as Error).message}`);
    }
    return next();
  };
  await Promise.all([next(), next()]); // two at a time: the two cores
  assert.deepEqual(failures, []);
  assert.match(await sh(process.execPath, [join(ROOT, "node_modules/typescript-7/bin/tsc"), "-v"], dir), /Version 7\./);
});

test("bundled by esbuild, Vite (build and dev server), in headless Chromium: wasm ops, the pool on Web Workers, WebGPU; without COOP/COEP; without the worker", { skip: chromiumSkip, timeout: 300_000 }, async () => {
  const c = packed.consumer;
  // the recipes of docs/install.md, as written there
  await sh(BIN("esbuild"), ["web/app.js", "worker=normkit/worker", "--bundle", "--format=esm", "--outdir=dist/esbuild", "--log-level=warning"], c);
  // (--base ./: the test serves each build under a folder of its own)
  const vite = await sh(BIN("vite"), ["build", "web", "--base", "./", "--outDir", "../dist/vite", "--emptyOutDir"], c);
  assert.doesNotMatch(vite, /warn|externalized/i, "vite build is clean");
  // what a user gets who forgets the worker entry
  await sh(BIN("esbuild"), ["web/app.js", "--bundle", "--format=esm", "--outdir=dist/no-worker", "--log-level=warning"], c);
  for (const d of ["esbuild", "no-worker"]) copyFileSync(join(c, "web/index.html"), join(c, `dist/${d}/index.html`));

  const { server, url } = await serveDir(join(c, "dist"));
  const { createServer } = await import("vite");
  const dev = await createServer({ root: join(c, "web"), logLevel: "silent", server: { host: "127.0.0.1", port: 0 } });
  let pages: Record<string, PageRun>;
  try {
    await dev.listen();
    const devUrl = dev.resolvedUrls!.local[0];
    const runs = await runPages([`${url}/esbuild/`, `${url}/vite/`, devUrl, `${url}/plain/esbuild/`, `${url}/no-worker/`]);
    pages = Object.fromEntries(Object.entries(runs).map(([u, run]) => [u === devUrl ? "vite dev" : u.slice(url.length), run]));
  } finally {
    await dev.close();
    server.close();
  }
  const consoleOf = (p: PageRun) => p.console.join("\n");
  for (const path of ["/esbuild/", "/vite/", "vite dev"]) {
    const { result: r, console: log } = pages[path];
    const what = `${path} (console: ${log.join(" | ")})`;
    assert.equal(r.isolated, true, what);
    assert.equal(r.backend, "wasm", what);
    assertClose(r.y as number[], affine, `${path} sync`);
    assert.deepEqual(r.pool, { threads: 2, shared: true, bitwise: true }, `${what}: the pool ran on 2 Web Workers, bitwise = sync`);
    assert.equal(r.sharedTensor, "SharedArrayBuffer", what);
    const gpu = r.gpu as { maxDiff?: number; error?: string };
    assert.equal(gpu.error, undefined, `${what}: WebGPU failed: ${gpu.error}`);
    assert.ok(gpu.maxDiff! < 1e-4, `${what}: WebGPU LayerNorm differs from wasm by ${gpu.maxDiff}`);
    assert.doesNotMatch(consoleOf(pages[path]), /error|warning/i, what);
  }

  // no cross-origin isolation: no SharedArrayBuffer, so the pool runs on the calling thread and says so
  const open = pages["/plain/esbuild/"];
  assert.equal(open.result.isolated, false);
  assert.deepEqual(open.result.pool, { threads: 1, shared: false, bitwise: true });
  assert.match(consoleOf(open), /warning: normkit: SharedArrayBuffer is unavailable.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
  const st = open.result.sharedTensor as Record<string, unknown>;
  assert.equal(st.name, "NormError");
  assert.equal(st.code, "BACKEND_UNAVAILABLE");
  assert.match(String(st.error), /Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);

  // the worker script missing (404): a NormError that says what to do, not a bare Event
  const lost = pages["/no-worker/"].result.pool as Record<string, unknown>;
  assert.equal(lost.isError, true);
  assert.equal(lost.name, "NormError");
  assert.equal(lost.code, "BACKEND_UNAVAILABLE");
  assert.match(String(lost.error), /worker script \(\.\/worker\.js beside http:\/\/127\.0\.0\.1:\d+\/no-worker\/app\.js\) did not start: it failed to load.*docs\/install\.md/);
});
