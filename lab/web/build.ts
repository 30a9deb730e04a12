/**
 * Builds the web lab into a folder of static files (default build/lab-web/): the page and its two
 * workers bundled by esbuild from the TypeScript sources, the static HTML/CSS, the lab's corpus and
 * build-info.json. Nothing is loaded from elsewhere at run time, so the folder works offline and can
 * be served by any static host that sets the two cross-origin-isolation headers (see docs/lab-web.md).
 * Needs `npm run build` first (it generates the wasm kernels' TypeScript module).
 */
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CORPUS_NAME, DEFAULT_CORPUS_PATH } from "../corpus/index.js";
import type { BuildInfo } from "./protocol.js";

/** The repository root (this file runs as build/lab/web/build.js). */
export const ROOT = resolve(fileURLToPath(new URL("../../../", import.meta.url)));
export const DEFAULT_OUT = join(ROOT, "build", "lab-web");

/** Headers every response needs for cross-origin isolation (SharedArrayBuffer, precise timers). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export interface BuiltLab {
  dir: string;
  /** file name → bytes, for the summary line */
  files: Record<string, number>;
}

const CORPUS_FILE = "corpus.txt";

/** The output folder holds something else: the build will not delete it. */
export class OutDirRefused extends Error {
  override name = "OutDirRefused";
}

export async function buildLabWeb(outDir: string = DEFAULT_OUT, options: { minify?: boolean } = {}): Promise<BuiltLab> {
  const esbuild = await import("esbuild");
  const src = join(ROOT, "lab", "web");
  // the folder is replaced whole, so it must be new, empty or an earlier build (never `--out .`)
  const existing = await readdir(outDir).catch(() => [] as string[]);
  if (existing.length > 0 && !existing.includes("build-info.json")) {
    throw new OutDirRefused(`refusing to replace ${outDir}: it is not empty and holds no earlier web-lab build (build-info.json)`);
  }
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: {
      // the page, the suite's worker, and normkit's pool worker: src/pool/index.ts spawns
      // `new URL("./worker.js", import.meta.url)`, so it must sit next to the bundle that spawns it
      "lab-web": join(src, "page", "main.ts"),
      "suite-worker": join(src, "worker.ts"),
      worker: join(ROOT, "src", "pool", "worker.ts"),
    },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: options.minify ?? true,
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
    tsconfig: join(ROOT, "tsconfig.json"),
  });
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version?: string };
  const info: BuildInfo = { normkit: pkg.version ?? "unknown", corpusFile: CORPUS_FILE, corpusName: DEFAULT_CORPUS_NAME };
  await writeFile(join(outDir, "build-info.json"), JSON.stringify(info, null, 2) + "\n");
  await copyFile(DEFAULT_CORPUS_PATH, join(outDir, CORPUS_FILE));
  for (const f of await readdir(join(src, "static"))) await copyFile(join(src, "static", f), join(outDir, f));
  // Netlify and Cloudflare Pages read this file; other hosts need the same two headers configured
  await writeFile(join(outDir, "_headers"), `/*\n${Object.entries(ISOLATION_HEADERS).map(([k, v]) => `  ${k}: ${v}\n`).join("")}`);
  const files: Record<string, number> = {};
  for (const f of (await readdir(outDir)).sort()) files[f] = (await stat(join(outDir, f))).size;
  return { dir: outDir, files };
}
