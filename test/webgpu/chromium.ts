/**
 * Headless Chromium with WebGPU on SwiftShader (Debian's `chromium` package), driven by
 * playwright-core, serving the repository on 127.0.0.1 (tsc's ESM output loads as is). Node-only.
 */
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";

export const CHROMIUM = process.env.NORMKIT_CHROMIUM ?? "/usr/bin/chromium";
export const ROOT = resolve(fileURLToPath(new URL("../../../", import.meta.url)));

export const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
  // containers often have a small /dev/shm; without a GPU, Chromium's WebGPU falls back to SwiftShader
  "--disable-dev-shm-usage",
];

const TYPES: Record<string, string> = { ".js": "text/javascript", ".json": "application/json", ".html": "text/html", ".map": "application/json" };

/** Serves build/ and test/fixtures/ of the repository, read-only, on 127.0.0.1. */
export async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (path === sep || path === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>normkit webgpu</title>");
      return;
    }
    const file = join(ROOT, path);
    const allowed = [join(ROOT, "build") + sep, join(ROOT, "test", "fixtures") + sep].some((d) => file.startsWith(d));
    if (!allowed || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** Runs `fn` in a page of a fresh headless Chromium (own user-data dir) at the served root. */
export async function withPage<R>(fn: (page: import("playwright-core").Page) => Promise<R>): Promise<R> {
  const { chromium } = await import("playwright-core");
  const { server, url } = await serve();
  const profile = mkdtempSync(join(tmpdir(), "normkit-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") console.error(`[chromium] ${m.text()}`);
    });
    await page.goto(url);
    return await fn(page);
  } finally {
    await ctx.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
