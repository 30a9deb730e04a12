/** The example in docs/errors.md runs (imports from "normkit" resolved to this build) and prints what the page says. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

test("docs/errors.md: the example prints the output shown", () => {
  const md = readFileSync(fileURLToPath(new URL("../../../docs/errors.md", import.meta.url)), "utf8");
  const example = md.split("## Example")[1]!;
  const code = /```ts\n([\s\S]*?)```/.exec(example)![1]!;
  const shown = /It prints:\n\n```\n([\s\S]*?)```/.exec(example)![1]!;
  const index = pathToFileURL(fileURLToPath(new URL("../../src/index.js", import.meta.url))).href;
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    .replace(/from "normkit"/g, `from ${JSON.stringify(index)}`);
  const dir = mkdtempSync(join(tmpdir(), "normkit-doc-"));
  try {
    writeFileSync(join(dir, "example.mjs"), js);
    const out = execFileSync(process.execPath, [join(dir, "example.mjs")], { encoding: "utf8" });
    assert.equal(out, shown);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
