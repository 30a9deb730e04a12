// "normkit/webgpu-node": the same API on Dawn in Node.
import { createNodeGpu, type GpuBackend } from "normkit/webgpu-node";

export async function nodeGpu(): Promise<number> {
  const gpu: GpuBackend = await createNodeGpu({ dawnOptions: ["backend=vulkan"] });
  const n = gpu.liveBuffers();
  gpu.destroy();
  return n;
}
