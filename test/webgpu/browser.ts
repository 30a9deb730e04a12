/** Browser entry of the WebGPU suite: the page imports it and calls run() (see browser.test.ts). */
import { createGpuBackend } from "../../src/webgpu.js";
import type { GoldenCase } from "../helpers.js";
import type { OpsCase } from "../ops-cases.js";
import { runGpuSuite } from "./suite.js";

export async function run(filter?: string, leakCalls?: number) {
  const cases = ((await (await fetch("/test/fixtures/normalization-cases.json")).json()) as { cases: GoldenCase[] }).cases;
  const opsCases = ((await (await fetch("/test/fixtures/ops-cases.json")).json()) as { cases: OpsCase[] }).cases;
  const gpu = await createGpuBackend();
  const info = { ...gpu.adapterInfo, subgroupSize: gpu.subgroupSize, maxBytes: gpu.maxBytes, userAgent: navigator.userAgent };
  try {
    const accuracy = await (await fetch("/test/fixtures/accuracy.json")).json();
    return { info, results: await runGpuSuite({ gpu, cases, opsCases, accuracy, fresh: () => createGpuBackend(), filter, leakCalls }) };
  } finally {
    gpu.destroy();
  }
}
