/**
 * The WebGPU suite (test/webgpu/suite.ts) in headless Chromium on SwiftShader: golden cases,
 * property tests, determinism, errors, leaks. Skips when Chromium is absent (CI installs it).
 */
import { test } from "node:test";
import { existsSync } from "node:fs";
import { CHROMIUM, withPage } from "./chromium.js";
import type { SuiteResult } from "./suite.js";

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the WebGPU suite`;

test("WebGPU suite in headless Chromium (SwiftShader)", { skip, timeout: 900_000 }, async (t) => {
  const { info, results } = await withPage((page) =>
    page.evaluate(
      async ([filter]) => (await import("/build/test/webgpu/browser.js" as string)).run(filter || undefined),
      [process.env.NORMKIT_GPU_FILTER ?? ""],
    ),
  ) as { info: Record<string, unknown>; results: SuiteResult[] };
  t.diagnostic(`adapter: ${JSON.stringify(info)}`);
  if (!process.env.NORMKIT_GPU_FILTER && results.length < 100) throw new Error(`only ${results.length} results: the suite did not run fully`);
  for (const r of results) {
    await t.test(r.name, { skip: r.skipped ?? false }, () => {
      if (!r.ok) throw new Error(r.message);
    });
  }
});
