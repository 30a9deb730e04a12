// WebGPU in Node (Dawn, through the optional `webgpu` package): `node build/examples/webgpu-node.js`.
// Without a GPU, Debian's chromium brings SwiftShader:
//   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node build/examples/webgpu-node.js
import { NormError, layerNorm, tensor } from "../src/index.js";
import { createNodeGpu } from "../src/webgpu-node.js";

let gpu;
try {
  gpu = await createNodeGpu();
} catch (e) {
  // no adapter: the message says what to install
  if (e instanceof NormError && e.code === "BACKEND_UNAVAILABLE") {
    console.log(`no WebGPU here: ${e.message}`);
    process.exit(0);
  }
  throw e;
}
console.log("adapter:", gpu.adapterInfo.vendor, gpu.adapterInfo.architecture, gpu.adapterInfo.description);

const [rows, D] = [4, 8];
const xCpu = tensor(Float32Array.from({ length: rows * D }, (_, i) => Math.sin(i)), [rows, D]);
const wCpu = tensor(new Float32Array(D).fill(2), [D]);

// GPU-resident tensors: ops only encode and submit; chain them, read back once
const x = gpu.upload(xCpu), w = gpu.upload(wCpu);
const { y, mean, rstd } = gpu.layerNormForward(x, D, { weight: w });
const z = gpu.rmsNorm(y, D);
const dy = gpu.upload(tensor(Float32Array.from({ length: rows * D }, (_, i) => Math.cos(i)), [rows, D]));
const g = gpu.layerNormBackward(dy, x, D, { weight: w, mean, rstd }); // saved statistics, as autograd
const [yOut, zOut, dx] = await Promise.all([y.read(), z.read(), g.dx.read()]);
console.log("y row 0:", Array.from(yOut.data.subarray(0, D), (v) => +v.toFixed(4)));
console.log("rms(y) row 0:", Array.from(zOut.data.subarray(0, D), (v) => +v.toFixed(4)));
console.log("dx row 0:", Array.from(dx.data.subarray(0, D), (v) => +v.toFixed(4)));

// the same as the CPU op, within float32 rounding
const cpu = layerNorm(xCpu, D, { weight: wCpu });
console.log("max |gpu − cpu|:", Math.max(...yOut.data.map((v, i) => Math.abs(v - cpu.data[i]!))).toExponential(2));

for (const t of [x, w, y, mean, rstd, z, dy, g.dx, g.dweight!]) t.destroy();
console.log("GPU buffers still held:", gpu.liveBuffers());
gpu.destroy();
