/** The examples in examples/ run and print what they claim (so the README's snippets do not rot). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));

test("examples/quickstart: the autograd-style call gives the plain backward's dx", () => {
  const out = execFileSync(process.execPath, [example("quickstart")], { encoding: "utf8" });
  assert.match(out, /layerNorm:/);
  assert.match(out, /same dx: true/);
});

test("examples/webgpu-node: runs on Dawn (SwiftShader without a GPU), or says why not", () => {
  const env = { ...process.env };
  const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
  if (existsSync(swiftshader) && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    env.VK_ICD_FILENAMES = swiftshader;
    env.LD_LIBRARY_PATH = ["/usr/lib/chromium", env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  }
  const out = execFileSync(process.execPath, [example("webgpu-node")], { encoding: "utf8", env, timeout: 120_000 });
  if (/no WebGPU here/.test(out)) return;
  assert.match(out, /adapter:/);
  const diff = Number(/max \|gpu − cpu\|: (\S+)/.exec(out)?.[1]);
  assert.ok(diff < 1e-5, out);
  assert.match(out, /GPU buffers still held: 0/);
});
