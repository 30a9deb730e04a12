/**
 * TF.js stays optional: `import "normkit"` loads no module of TF.js or of normkit/tfjs, while
 * `import "normkit/tfjs"` (through package.json "exports") does. A module-resolution hook in a
 * child process records every module each import loads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// writes each resolved URL to $NK_LOG (hooks run on their own thread in Node 20: a file is simplest)
const hook = `import { appendFileSync } from "node:fs";
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.NK_LOG, r.url + "\\n"); return r; }`;
const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;

function loaded(specifier: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "normkit-entry-"));
  try {
    const log = join(dir, "log");
    execFileSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "-e", `await import(${JSON.stringify(specifier)});`], {
      cwd: root, env: { ...process.env, NK_LOG: log }, encoding: "utf8", stdio: "pipe",
    });
    return readFileSync(log, "utf8").trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("import 'normkit' loads no TF.js module; import 'normkit/tfjs' loads tfjs-core and tfjs-layers", () => {
  const main = loaded("normkit");
  assert.ok(main.some((u) => u.endsWith("/build/src/index.js")), main.join("\n"));
  assert.deepEqual(main.filter((u) => /@tensorflow|\/tfjs\//.test(u)), []);
  const tfjs = loaded("normkit/tfjs");
  assert.ok(tfjs.some((u) => u.endsWith("/build/src/tfjs/index.js")), tfjs.join("\n"));
  assert.ok(tfjs.some((u) => u.includes("/@tensorflow/tfjs-core/")) && tfjs.some((u) => u.includes("/@tensorflow/tfjs-layers/")), tfjs.join("\n"));
});
