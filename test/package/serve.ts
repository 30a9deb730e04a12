/**
 * Serves built pages to headless Chromium for the package test: each top-level folder of `root` at
 * /<folder>/, cross-origin isolated (COOP/COEP) unless the path starts with /plain/, which serves
 * the same folders without those headers. Runs pages in one Chromium (test/webgpu/chromium.ts's
 * flags: WebGPU on SwiftShader) and returns what each page leaves in `window.__result`.
 */
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import type { AddressInfo } from "node:net";
import { CHROMIUM, CHROMIUM_ARGS } from "../webgpu/chromium.js";

const TYPES: Record<string, string> = { ".js": "text/javascript", ".html": "text/html", ".map": "application/json", ".wasm": "application/wasm" };

export async function serveDir(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const plain = path.startsWith("/plain/");
    if (plain) path = path.slice("/plain".length);
    if (!plain) {
      res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
      res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    }
    if (path.endsWith("/")) path += "index.html";
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export interface PageRun {
  result: Record<string, unknown>;
  /** console messages: "warning: …", "error: …", and uncaught page errors as "pageerror: …" */
  console: string[];
}

export const chromiumSkip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the bundler pages`;

/** Opens each URL in a fresh page of one headless Chromium; results by URL. */
export async function runPages(urls: string[], timeoutMs = 30_000): Promise<Record<string, PageRun>> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "normkit-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const runs: Record<string, PageRun> = {};
  try {
    for (const url of urls) {
      const page = await ctx.newPage();
      const log: string[] = [];
      page.on("console", (m) => void log.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => void log.push(`pageerror: ${e.message}`));
      await page.goto(url);
      try {
        await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: timeoutMs });
      } catch (e) {
        throw new Error(`${url}: the page left no result (${(e as Error).message.split("\n")[0]}); its console:\n${log.join("\n")}`);
      }
      const result = await page.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result);
      runs[url] = { result, console: log };
      await page.close();
    }
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return runs;
}
