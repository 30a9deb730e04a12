/**
 * The lab's wasm build (lab/wasm-build.ts): where normkit's default is the FMA build (Node with
 * --experimental-wasm-relaxed-simd here, as Chromium by default), the suite runner computes on the
 * baseline, through experiments that switch backends, reports it for results.json, and puts the
 * engine's default back after; the active backend is left as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

test("the lab's suite runs on the baseline wasm build where FMA is the default, reports it, and restores the default", async () => {
  const child = fileURLToPath(new URL("./wasm-build-child.js", import.meta.url));
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ["--experimental-wasm-relaxed-simd", child], { timeout: 60_000 }, (err, o, e) => (err ? reject(new Error(`${err.message}\n${o}\n${e}`)) : resolve(o))),
  );
  const r = JSON.parse(out.trim().split("\n").pop()!);
  assert.deepEqual(r, {
    before: "relaxed-simd",
    during: [{ build: "simd", backend: "js" }, { build: "simd", backend: "wasm" }, { build: "simd", backend: "js" }],
    reported: "simd",
    after: "relaxed-simd",
    backendAfter: "js",
    failures: 0,
  });
});
