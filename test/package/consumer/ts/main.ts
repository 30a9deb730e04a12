// The main entry as a TypeScript app uses it: checked with `tsc --strict` (no skipLibCheck) with
// nothing but lib ES2022 (no DOM, no @types/node, no WebGPU types: tsconfig.main.json), and with
// the other entries in a browser setup (lib DOM, WebGPU types: tsconfig.web*.json).
import {
  BatchNorm, GroupNorm, LayerNorm, NormError, RMSNorm, batchNorm, createPool, getBackend, groupNorm, layerNorm,
  layerNormBackward, layerNormForward, listBackends, reference, rmsNorm, setBackend, sharedTensor, tensor,
  type Grads, type NormErrorCode, type Pool, type Tensor,
} from "normkit";
// @ts-expect-error the GPU API lives in "normkit/webgpu", so the main entry's types need no WebGPU globals
import { createGpuBackend } from "normkit";

const x: Tensor = tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]);
const weight = tensor([1, 1, 2, 2], [4]);
const y: Float32Array = layerNorm(x, [4], { weight }).data;
const f = layerNormForward(x, [4], { weight });
const grads: Grads = layerNormBackward(tensor(new Float32Array(8).fill(1), [2, 4]), x, [4], { weight, mean: f.mean, rstd: f.rstd });
const dweight: Float32Array | undefined = grads.dweight?.data;
const r: Tensor = rmsNorm(x, [4]);
const g: Tensor = groupNorm(tensor(new Float32Array(16), [2, 4, 2]), 2);
const b: Tensor = batchNorm(tensor(new Float32Array(16).map((_, i) => i), [2, 4, 2]));
const modules = [new LayerNorm(4), new RMSNorm(4), new GroupNorm(2, 4), new BatchNorm(4)];
const backend: string = getBackend();
setBackend(listBackends()[0]);
const ref: Float64Array = reference.rowNormRef(false, x.data, 2, 4, null, null, 1e-5);

async function pooled(): Promise<number> {
  const pool: Pool = await createPool({ threads: 2 });
  try {
    return (await pool.layerNorm(sharedTensor([2, 4], x.data), [4])).data.length;
  } finally {
    await pool.close();
  }
}

export function errorCode(): NormErrorCode | null {
  try {
    layerNorm(x, [5]);
  } catch (e) {
    if (e instanceof NormError) return e.code;
  }
  return null;
}
export const values = { y, dweight, r, g, b, modules, backend, ref, pooled, createGpuBackend };
