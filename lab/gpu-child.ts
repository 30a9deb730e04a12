/**
 * Child process of the lab's Node front end (lab/node-env.ts): measures normkit's WebGPU kernels
 * against a copy on Dawn (the `webgpu` package) and prints one JSON line. A child, because Dawn
 * needs its Vulkan environment (LD_LIBRARY_PATH) set before Node starts, and so that a driver crash
 * costs one measurement instead of the lab run.
 *   node build/lab/gpu-child.js '{"shape":[2048,1024],"reps":10}'
 * Exit status 3: no WebGPU adapter (the JSON line says why).
 */
import { NormError } from "../src/index.js";
import { createNodeGpu } from "../src/webgpu-node.js";
import { BENCH_DAWN_OPTIONS } from "../bench/gpu-timing.js";
import { measureGpuBandwidth } from "./experiments/gpuBandwidth.js";
import type { GpuBandwidthRequest } from "./types.js";

const req = JSON.parse(process.argv[2] ?? "{}") as GpuBandwidthRequest;
let gpu;
try {
  // nanosecond timestamps, as the GPU benchmark asks for (see bench/gpu-timing.ts)
  gpu = await createNodeGpu({ dawnOptions: [...BENCH_DAWN_OPTIONS] });
} catch (e) {
  if (e instanceof NormError && e.code === "BACKEND_UNAVAILABLE") {
    console.log(JSON.stringify({ noAdapter: e.message }));
    process.exit(3);
  }
  throw e;
}
try {
  console.log(JSON.stringify({ result: await measureGpuBandwidth(gpu, req) }));
} finally {
  gpu.destroy();
}
process.exit(0);
