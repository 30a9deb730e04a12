// "normkit/webgpu" in a browser app: its types name WebGPU's globals (from @webgpu/types on
// TypeScript 5.x, from lib.dom on TypeScript 7).
import { tensor, type Tensor } from "normkit";
import { createGpuBackend, GpuTensor, type GpuBackend, type GpuGrads } from "normkit/webgpu";

export async function gpuLayerNorm(device?: GPUDevice): Promise<Tensor> {
  const gpu: GpuBackend = await createGpuBackend(device ? { device } : {});
  const x: GpuTensor = gpu.upload(tensor([1, 2, 3, 4], [1, 4]));
  const y = gpu.layerNorm(x, [4]);
  const g: GpuGrads = gpu.layerNormBackward(y, x, [4]);
  const buffer: GPUBuffer = y.buffer;
  console.log(buffer.size, g.dx instanceof GpuTensor, gpu.device.limits.maxBufferSize);
  try {
    return await y.read();
  } finally {
    gpu.destroy();
  }
}
