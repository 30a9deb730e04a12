/**
 * The browser path, in headless Chromium (Debian's chromium via playwright-core; skipped when
 * absent): the built package loads as plain ES modules, the wasm backend instantiates synchronously
 * from the embedded bytes and is the default, and the pool runs on Web Workers with
 * SharedArrayBuffer (the page is cross-origin isolated), bitwise equal to the synchronous result.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the browser test`;
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import * as nk from "/build/src/index.js";
const out = { isolated: crossOriginIsolated, backend: nk.getBackend(), backends: nk.listBackends() };
try {
  const [rows, D] = [300, 257];
  const data = new Float32Array(rows * D);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 3 + 1;
  const x = nk.tensor(data, [rows, D]);
  const weight = nk.tensor(new Float32Array(D).fill(0.75), [D]);
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  const y = await pool.layerNorm(x, [D], { weight });
  const g = await pool.rmsNormBackward(x, x, [D], { weight });
  await pool.close();
  const ys = nk.layerNorm(x, [D], { weight });
  const gs = nk.rmsNormBackward(x, x, [D], { weight });
  const same = (a, b) => a.length === b.length && new Uint32Array(a.buffer, a.byteOffset, a.length).every((v, i) => v === new Uint32Array(b.buffer, b.byteOffset, b.length)[i]);
  out.shared = y.data.buffer instanceof SharedArrayBuffer;
  out.yBitwise = same(y.data, ys.data);
  out.dxBitwise = same(g.dx.data, gs.dx.data);
  out.dwBitwise = same(g.dweight.data, gs.dweight.data); // 2 threads: may differ in the last bit
  out.dwMaxDiff = Math.max(...g.dweight.data.map((v, i) => Math.abs(v - gs.dweight.data[i])));
  out.yFinite = y.data.every(Number.isFinite);
} catch (e) { out.error = String(e && e.stack || e); }
window.__result = out;
</script>`;

const TYPES: Record<string, string> = { ".js": "text/javascript", ".map": "application/json", ".html": "text/html" };

test("browser: wasm is the default backend and the pool runs on Web Workers, bitwise = sync", { skip, timeout: 120_000 }, async () => {
  const server = createServer(async (req, res) => {
    // cross-origin isolation: what a page needs for SharedArrayBuffer (and so for the pool)
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/favicon.ico") return void res.writeHead(204).end();
    if (path === "/") {
      res.setHeader("Content-Type", "text/html");
      return void res.end(PAGE);
    }
    const file = normalize(join(ROOT, path));
    if (!file.startsWith(join(ROOT, "build"))) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.setHeader("Content-Type", TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream");
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(join(tmpdir(), "normkit-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => void problems.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 60_000 });
    const r = await page.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result);
    assert.equal(r.error, undefined, String(r.error));
    assert.deepEqual(problems, []);
    assert.equal(r.isolated, true);
    assert.equal(r.backend, "wasm");
    assert.deepEqual(r.backends, ["js", "wasm"]);
    assert.equal(r.shared, true, "the pool ran on the workers");
    assert.equal(r.yBitwise, true);
    assert.equal(r.dxBitwise, true);
    assert.ok((r.dwMaxDiff as number) < 1e-3, `dweight differs by ${r.dwMaxDiff}`);
    assert.equal(r.yFinite, true);
  } finally {
    await context.close();
    server.close();
    await rm(profile, { recursive: true, force: true });
  }
});
