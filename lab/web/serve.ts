/**
 * `npm run lab:web`: builds the web lab (lab/web/build.ts) and serves it on 127.0.0.1 with the
 * cross-origin-isolation headers, printing the URL. Options:
 *   --port N          port (default 8080; 0 = any free port)
 *   --out DIR         build folder (default build/lab-web)
 *   --build-only      build the static files and exit (deploy them with the headers, docs/lab-web.md)
 *   --no-isolation    serve without COOP/COEP, to see the page's fallback (no SharedArrayBuffer)
 */
import { createServer, type Server } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import type { AddressInfo } from "node:net";
import { buildLabWeb, DEFAULT_OUT, ISOLATION_HEADERS, OutDirRefused } from "./build.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Serves `dir` read-only on `host`:`port`; `isolation` adds COOP/COEP to every response. */
export async function serveLabWeb(dir: string, o: { port?: number; host?: string; isolation?: boolean } = {}): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const headers = o.isolation === false ? {} : ISOLATION_HEADERS;
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", ...headers }).end();
        return;
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      } catch {
        res.writeHead(400, headers).end();
        return;
      }
      if (path.endsWith("/")) path += "index.html";
      const file = join(root, normalize(path));
      if (!file.startsWith(root + sep) || !(await stat(file).then((s) => s.isFile(), () => false))) {
        res.writeHead(404, { "content-type": "text/plain", ...headers }).end("not found\n");
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache", ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500, headers);
      res.end();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", ok);
  });
  const { address, port } = server.address() as AddressInfo;
  return { server, url: `http://${address}:${port}/` };
}

async function main(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: "string", default: "8080" },
        out: { type: "string" },
        "build-only": { type: "boolean", default: false },
        "no-isolation": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`lab:web: ${(e as Error).message}\nUsage: npm run lab:web -- [--port N] [--out DIR] [--build-only] [--no-isolation]\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write("Usage: npm run lab:web -- [--port N] [--out DIR] [--build-only] [--no-isolation]\n");
    return 0;
  }
  const port = Number(v.port);
  if (!/^\d+$/.test(v.port ?? "") || port > 65535) {
    process.stderr.write(`lab:web: --port expects an integer 0..65535, got '${v.port}'\n`);
    return 2;
  }
  const t0 = performance.now();
  let built;
  try {
    built = await buildLabWeb(v.out !== undefined ? resolve(v.out) : DEFAULT_OUT);
  } catch (e) {
    if (!(e instanceof OutDirRefused)) throw e;
    process.stderr.write(`lab:web: ${e.message}\n`);
    return 2;
  }
  const kib = Object.values(built.files).reduce((s, n) => s + n, 0) / 1024;
  process.stdout.write(`Built the web lab in ${built.dir} (${Object.keys(built.files).length} files, ${kib.toFixed(0)} KiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  if (v["build-only"]) return 0;
  let url: string;
  try {
    ({ url } = await serveLabWeb(built.dir, { port, isolation: !v["no-isolation"] }));
  } catch (e) {
    if ((e as { code?: string }).code !== "EADDRINUSE") throw e;
    process.stderr.write(`lab:web: port ${port} is in use; pick another with --port N (0 = any free port)\n`);
    return 1;
  }
  process.stdout.write(
    `Serving on ${url}${v["no-isolation"] ? " WITHOUT cross-origin isolation (fallback mode)" : " (cross-origin isolated: COOP same-origin, COEP require-corp)"}\n` +
      "Open it in a browser; Ctrl-C stops the server.\n",
  );
  return -1; // keep serving
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`lab:web: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
