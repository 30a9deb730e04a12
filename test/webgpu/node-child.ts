/**
 * Child process of test/webgpu/node.test.ts (so that the environment Dawn needs is set before
 * Node starts, and so that a crash fails the test instead of killing the runner). Modes:
 *   suite  — the WebGPU suite on Dawn; prints one JSON line {info, results}
 *   stress — hot, TurboFan-optimized loops around GPU calls with no reference to Dawn's instance
 *            kept by the caller: crashed (SIGSEGV / futex / mutex errors) before normkit held it
 *   timestamps — the grid (ns) of timestamp queries with Dawn's defaults and with the GPU
 *            benchmark's options; prints {defaultGridNs, benchGridNs}
 * Exit code 3 = no adapter (the test then skips).
 */
import { readFileSync } from "node:fs";
import { NormError } from "../../src/index.js";
import { createNodeGpu } from "../../src/webgpu-node.js";
import { FIXTURES } from "../helpers.js";
import { runGpuSuite } from "./suite.js";
import { BENCH_DAWN_OPTIONS, timestampGridNs } from "../../bench/gpu-timing.js";

const mode = process.argv[2];

async function gpuOrExit(dawnOptions: string[] = []) {
  try {
    return await createNodeGpu({ dawnOptions });
  } catch (e) {
    if (e instanceof NormError && e.code === "BACKEND_UNAVAILABLE") {
      console.log(JSON.stringify({ noAdapter: e.message }));
      process.exit(3);
    }
    throw e;
  }
}

if (mode === "suite") {
  const gpu = await gpuOrExit();
  const cases = JSON.parse(readFileSync(FIXTURES, "utf8")).cases;
  const opsCases = JSON.parse(readFileSync(new URL("ops-cases.json", `file://${FIXTURES}`), "utf8")).cases;
  const accuracy = JSON.parse(readFileSync(new URL("../../../test/fixtures/accuracy.json", import.meta.url), "utf8"));
  const results = await runGpuSuite({ gpu, cases, opsCases, accuracy, fresh: () => createNodeGpu(), filter: process.env.NORMKIT_GPU_FILTER || undefined });
  const info = { ...gpu.adapterInfo, subgroupSize: gpu.subgroupSize, maxBytes: gpu.maxBytes };
  gpu.destroy();
  console.log(JSON.stringify({ info, results }));
} else if (mode === "stress") {
  const seconds = Number(process.env.NORMKIT_STRESS_SECONDS ?? 6);
  const gpu = await gpuOrExit();
  const D = 256;
  const data = new Float32Array(64 * D).map((_, i) => Math.sin(i));
  const x = gpu.upload({ shape: [64, D], data });
  const t0 = Date.now();
  let n = 0;
  let acc = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const y = gpu.layerNorm(x, D);
    // a hot JS loop between GPU calls: gets optimized by TurboFan (OSR) within the first iterations
    for (let i = 0; i < 20000; i++) acc += Math.sqrt(i + n);
    if (n % 4 === 0) acc += (await y.read()).data[1]!;
    y.destroy();
    n++;
  }
  x.destroy();
  gpu.destroy();
  console.log(JSON.stringify({ iterations: n, finite: Number.isFinite(acc) }));
} else if (mode === "timestamps") {
  const grid = async (o: string[]) => {
    const gpu = await gpuOrExit(o);
    try {
      return gpu.hasTimestamps ? await timestampGridNs(gpu) : "no timestamp-query";
    } finally {
      gpu.destroy();
    }
  };
  console.log(JSON.stringify({ defaultGridNs: await grid([]), benchGridNs: await grid([...BENCH_DAWN_OPTIONS]) }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
