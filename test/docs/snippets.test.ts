/**
 * Every code block in README.md and docs/*.md is complete and runs, as a reader would paste it.
 *
 * The convention (the fence's info string):
 *   ```ts / ```js          complete ES module: type-checked (tsc --strict, TS and JS alike) and run
 *                          in Node against the package (`import … from "normkit"` resolves through
 *                          package.json "exports"); it must exit 0 within RUN_TIMEOUT_MS.
 *   ```ts browser          browser-only (a page, Web Workers, navigator.gpu): type-checked, not run.
 *   ```sh, ```text, …      shell commands, output, data: neither checked nor run (NOT_CODE below).
 * Any other info string fails the test, so a typo cannot silently skip a block.
 *
 * The same test checks that relative links resolve and that no doc names a path of one
 * particular machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const DOCS = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
const CODE = new Set(["ts", "typescript", "js", "javascript"]);
const NOT_CODE = new Set(["sh", "bash", "shell", "console", "text", "txt", "json", "html", "wgsl", "python", "py", "diff", "yaml", ""]);
const RUN_TIMEOUT_MS = 20_000;
// written inside the package (build/ is git-ignored) so that "normkit" resolves to this package
const WORK = join(root, "build/doc-snippets");

interface Block { doc: string; line: number; lang: string; browser: boolean; code: string; file: string }

/** The blocks to check and run, and the fences that break the convention. */
function extract(): { blocks: Block[]; problems: string[] } {
  const blocks: Block[] = [];
  const problems: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(root, doc), "utf8");
    for (const m of text.matchAll(/^```([^\n`]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
      const [lang = "", ...mods] = m[1]!.trim().split(/\s+/);
      const line = text.slice(0, m.index).split("\n").length;
      const where = `${doc}:${line}`;
      if (NOT_CODE.has(lang) && mods.length === 0) continue;
      if (!CODE.has(lang) || !(mods.length === 0 || (mods.length === 1 && mods[0] === "browser"))) {
        problems.push(`${where}: unknown fence "${m[1]}" (use ts or js, "ts browser", or sh/text for what must not run)`);
        continue;
      }
      const ext = lang.startsWith("t") ? "ts" : "js";
      const file = join(WORK, `${doc.replace(/[/.]/g, "_")}_L${line}.${ext}`);
      blocks.push({ doc, line, lang, browser: mods[0] === "browser", code: m[2]!, file });
    }
  }
  return { blocks, problems };
}

const { blocks, problems } = extract();

test("every fence in README.md and docs/*.md follows the convention", () => {
  assert.deepEqual(problems, []);
});

test("every ts/js block in README.md and docs/*.md type-checks (strict)", () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  // each block is a module of its own (`export {}` keeps a block without imports from being a script)
  for (const b of blocks) writeFileSync(b.file, `${b.code}\nexport {};\n`);
  const program = ts.createProgram(blocks.map((b) => b.file), {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node", "@webgpu/types"], allowJs: true, checkJs: true, skipLibCheck: true,
  });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const b = blocks.find((b) => d.file !== undefined && relative(b.file, d.file.fileName) === "");
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
    const where = b ? `${b.doc}:${b.line + 1 + at}` : (d.file?.fileName ?? "?");
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
  assert.deepEqual(errors, []);
  assert.ok(blocks.length >= 5, `only ${blocks.length} blocks found`);
});

for (const b of blocks.filter((b) => !b.browser)) {
  test(`${b.doc}:${b.line} runs in Node`, async () => {
    const { outputText } = ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    const js = b.file.replace(/\.[tj]s$/, ".mjs");
    mkdirSync(dirname(js), { recursive: true });
    writeFileSync(js, outputText);
    const r = await run(js);
    assert.ok(!r.timedOut, `${b.doc}:${b.line} did not finish within ${RUN_TIMEOUT_MS / 1000} s\n${r.output}`);
    assert.equal(r.code, 0, `${b.doc}:${b.line} exited with ${r.code}:\n${r.output}`);
  });
}

/** Runs a file with node; Dawn gets SwiftShader's Vulkan driver where there is no GPU (as the examples' test). */
function run(file: string): Promise<{ code: number | null; timedOut: boolean; output: string }> {
  const env = { ...process.env };
  const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
  if (existsSync(swiftshader) && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    env.VK_ICD_FILENAMES = swiftshader;
    env.LD_LIBRARY_PATH = ["/usr/lib/chromium", env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, RUN_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output: output.slice(-4000) });
    });
  });
}

test("relative links in README.md and docs/*.md resolve; no doc names a path of one particular machine", () => {
  const problems: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(root, doc), "utf8");
    // outside code blocks: [text](target) and src="target"
    const prose = text.replace(/^```[\s\S]*?^```/gm, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)|src="([^"]+)"/g)) {
      const target = (m[1] ?? m[2]!).split("#")[0]!;
      if (target === "" || /^[a-z]+:/i.test(target)) continue;
      if (!existsSync(join(root, dirname(doc), decodeURIComponent(target)))) problems.push(`${doc}: broken link ${target}`);
    }
    for (const m of text.matchAll(/(?:^|[\s`"'(=])(\/(?:work|home|Users|root|mnt)\/[^\s`"')]*)/gm)) problems.push(`${doc}: machine path ${m[1]}`);
  }
  assert.deepEqual(problems, []);
});
