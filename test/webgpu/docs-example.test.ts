/**
 * docs/webgpu.md's complete example, as a user would run it: type-checked (strict) against the
 * built package through its own name ("normkit", "normkit/webgpu-node"), then run in Node on Dawn
 * (SwiftShader without a GPU), with its printed claims checked. Skips when Dawn finds no adapter.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { dawnEnv } from "./dawn-env.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DIR = `${ROOT}build/docs-examples/`;

function example(): string {
  const md = readFileSync(`${ROOT}docs/webgpu.md`, "utf8");
  const section = md.slice(md.indexOf("## A complete example"));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(m, "docs/webgpu.md has no ts block under 'A complete example'");
  return m[1]!;
}

test("docs/webgpu.md: the complete example type-checks and runs on Dawn", { timeout: 180_000 }, (t) => {
  const code = example();
  mkdirSync(DIR, { recursive: true });
  // inside the repository, so that "normkit" resolves to this package (Node's self-reference)
  const file = `${DIR}webgpu.ts`;
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, types: ["node", "@webgpu/types"], skipLibCheck: true,
  });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  assert.deepEqual(diags, [], "type errors in the docs example");
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  writeFileSync(`${DIR}webgpu.mjs`, js);
  const r = spawnSync(process.execPath, [`${DIR}webgpu.mjs`], { env: dawnEnv(), encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `exit ${r.status} (${r.signal})\n${r.stdout}\n${r.stderr}`);
  if (/no WebGPU adapter here/.test(r.stdout)) return t.skip(r.stdout.trim());
  t.diagnostic(r.stdout.trim());
  assert.match(r.stdout, /adapter:/);
  const diff = Number(/max \|gpu − cpu\|: (\S+)/.exec(r.stdout)?.[1]);
  assert.ok(diff < 1e-5, r.stdout);
  assert.match(r.stdout, /wrapped x, same y: true/);
  assert.match(r.stdout, /dweight added into the engine's buffer: true/);
  assert.match(r.stdout, /into\.dweight = weight: BAD_ARGUMENT into\.dweight/);
  assert.match(r.stdout, /read after the owner destroyed the buffer: BAD_ARGUMENT/);
  assert.match(r.stdout, /GPU buffers still held: 0/);
});
