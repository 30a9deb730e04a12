/**
 * What computes the lab's results runs in a browser too (the web lab runs the suite in a Web
 * Worker): experiments, models, training code and the report's rendering import nothing of Node's
 * and touch no `process`; what differs between front ends comes in through ctx.env (LabEnvironment).
 * The CLI side (cli.ts, node-env.ts, gpu-child.ts, report/index.ts, …) may use Node.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";

const root = new URL("../../../lab/", import.meta.url);
const PORTABLE_DIRS = ["experiments", "models", "train"];
const PORTABLE_FILES = ["types.ts", "progress.ts", "report/charts.ts", "report/chart-notes.ts", "report/format.ts", "report/html.ts", "report/render.ts", "report/summary.ts"];

test("the lab's result paths import nothing Node-only", async () => {
  const files = [...PORTABLE_FILES];
  for (const d of PORTABLE_DIRS) for (const f of await readdir(new URL(`${d}/`, root))) if (f.endsWith(".ts")) files.push(`${d}/${f}`);
  assert.ok(files.length > 20, `${files.length} files`);
  for (const f of files) {
    const code = (await readFile(new URL(f, root), "utf8")).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    assert.ok(!/from\s+["'](node:|fs|os|path|url|child_process|worker_threads)/.test(code), `lab/${f} imports a Node module`);
    assert.ok(!/\bprocess\.|\brequire\(/.test(code), `lab/${f} uses process or require`);
  }
});
