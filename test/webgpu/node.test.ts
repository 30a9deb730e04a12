/**
 * The WebGPU backend in Node on Dawn (the `webgpu` package), without any V8 flag: the full suite,
 * and a stress run of TurboFan-optimized loops around GPU calls (the dawn.node crash that normkit
 * works around, see src/webgpu-node.ts). Without a GPU, Dawn runs on SwiftShader from Debian's
 * chromium; the test skips when no adapter is found.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NormError } from "../../src/errors.js";
import { createNodeGpu } from "../../src/webgpu-node.js";
import { dawnEnv } from "./dawn-env.js";
import type { SuiteResult } from "./suite.js";

const CHILD = fileURLToPath(new URL("./node-child.js", import.meta.url));

function child(mode: string, timeout: number) {
  const r = spawnSync(process.execPath, [CHILD, mode], { env: dawnEnv(), encoding: "utf8", timeout, maxBuffer: 64 << 20 });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return { ...r, json: last.startsWith("{") ? JSON.parse(last) : null };
}

const probe = child("stress", 120_000);
const skip = probe.status === 3 ? `no WebGPU adapter for Dawn: ${probe.json?.noAdapter}` : false;

test("Dawn: TurboFan-optimized loops around GPU calls do not crash (no V8 flags)", { skip }, () => {
  assert.equal(probe.signal, null, `child killed by ${probe.signal}\n${probe.stderr}`);
  assert.equal(probe.status, 0, `child exited ${probe.status}\n${probe.stderr}`);
  assert.ok(probe.json?.iterations > 10 && probe.json?.finite, probe.stdout);
});

test("Dawn quantizes timestamps to 65536 ns by default; the GPU benchmark's options give fine ones", { skip }, (t) => {
  const r = child("timestamps", 120_000);
  assert.equal(r.status, 0, `child exited ${r.status} (${r.signal})\n${r.stderr.slice(-4000)}`);
  t.diagnostic(JSON.stringify(r.json));
  if (typeof r.json.defaultGridNs !== "number") return t.skip(`this adapter has ${r.json.defaultGridNs}`);
  // why bench/gpu.ts passes BENCH_DAWN_OPTIONS: a 40 µs kernel would otherwise read as 0 or 65.5 µs
  assert.ok(r.json.defaultGridNs >= 65536, `default grid ${r.json.defaultGridNs} ns`);
  assert.ok(r.json.benchGridNs < 1000, `benchmark grid ${r.json.benchGridNs} ns`);
});

test("WebGPU suite in Node on Dawn", { skip, timeout: 900_000 }, async (t) => {
  const r = child("suite", 900_000);
  assert.equal(r.status, 0, `child exited ${r.status} (${r.signal})\n${r.stderr.slice(-4000)}`);
  const { info, results } = r.json as { info: unknown; results: SuiteResult[] };
  t.diagnostic(`adapter: ${JSON.stringify(info)}`);
  if (!process.env.NORMKIT_GPU_FILTER) assert.ok(results.length >= 100, `only ${results.length} results`);
  for (const x of results) {
    await t.test(x.name, { skip: x.skipped ?? false }, () => {
      if (!x.ok) throw new Error(x.message);
    });
  }
});

test("createNodeGpu: unknown or mistyped options are NormErrors before Dawn loads", async () => {
  for (const [o, arg] of [[{ dawnOptions: "backend=vulkan" }, "options.dawnOptions"], [{ subgroups: "false" }, "options.subgroups"], [{ powerPreference: "fast" }, "options.powerPreference"]] as const) {
    await assert.rejects(createNodeGpu(o as never), (e: unknown) => e instanceof NormError && e.code === "BAD_ARGUMENT" && e.argument === arg, JSON.stringify(o));
  }
  // unknown keys: the core's UNKNOWN_OPTION, with the closest valid key suggested
  for (const [o, arg, hint] of [[{ dawnOption: [] }, "dawnOption", "dawnOptions"], [{ gpu: {} }, "gpu", ""]] as const) {
    await assert.rejects(createNodeGpu(o as never), (e: unknown) => e instanceof NormError && e.code === "UNKNOWN_OPTION" && e.argument === arg && e.message.includes(hint), JSON.stringify(o));
  }
});
