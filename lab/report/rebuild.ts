/**
 * Rebuilds index.html from a results.json (after a change to the report's layout, without rerunning
 * the experiments):  node build/lab/report/rebuild.js [lab-report/results.json] [--out DIR]
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { ClaimResult, LabResults } from "../types.js";
import { fromJson } from "./format.js";
import { renderHtml } from "./html.js";
import { renderClaimCharts } from "./render.js";

export async function rebuildReport(from: string, outDir = dirname(from)): Promise<{ html: string; errors: string[] }> {
  const results = fromJson<LabResults>(await readFile(from, "utf8"));
  const claims = results.claims as ClaimResult[];
  const { charts, errors } = await renderClaimCharts(claims);
  await mkdir(outDir, { recursive: true });
  const html = join(outDir, "index.html");
  await writeFile(html, renderHtml({ claims, runs: results.runs, environment: results.environment, charts }));
  return { html, errors };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { out: { type: "string" } } });
  rebuildReport(positionals[0] ?? "lab-report/results.json", values.out).then(
    (r) => {
      for (const e of r.errors) console.error(`chart failed: ${e}`);
      console.log(`wrote ${r.html}`);
      process.exitCode = r.errors.length > 0 ? 1 : 0;
    },
    (e: Error) => {
      console.error(`rebuild: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
