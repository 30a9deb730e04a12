/**
 * bench:gpu's issue #12 cases: the fused residual add + norm (addRmsNorm/addLayerNorm forward)
 * and half storage (RMSNorm/LayerNorm forward and backward in bfloat16 and float16), all on the #12
 * kernels, beside the same kernels in float32 (so "fused add ÷ norm alone" and "half ÷ float32"
 * compare like with like). Dispatches are replayed inside timestamped passes as bench/gpu.ts does.
 * GB/s counts bytes read + written once: forward x → y (add: x, residual → y, h), backward
 * dy, x → dx, plus parameters and row statistics, at 4 bytes (float32) or 2 (half) per element.
 */
import type { DType } from "../src/dtype.js";
import type { AnyGpuTensor, GpuBackend, GpuStep } from "../src/webgpu-node.js";
import { contextOf } from "../src/backends/webgpu/backend.js";
import { extBackwardSteps, extForwardSteps } from "../src/backends/webgpu/ext-row-steps.js";
import { encodeSteps, submitSteps } from "./gpu-steps.js";
import { timePasses } from "./gpu-timing.js";

export type ExtOp = "rmsNorm" | "layerNorm" | "addRmsNorm" | "addLayerNorm";
export interface ExtRow {
  shape: [number, number];
  op: ExtOp;
  dtype: DType;
  dir: "forward" | "backward";
  ms: number;
  gbs: number | null;
}

export const EXT_DTYPES: DType[] = ["float32", "bfloat16", "float16"];
/** The #12 cases per shape and dtype: norms forward and backward, the fused add forward. */
export const EXT_CASES: [ExtOp, "forward" | "backward"][] = [
  ["rmsNorm", "forward"], ["rmsNorm", "backward"], ["layerNorm", "forward"], ["layerNorm", "backward"], ["addRmsNorm", "forward"], ["addLayerNorm", "forward"],
];

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Deterministic inputs of one shape in one dtype (values as bench/gpu.ts's, cast on the GPU). */
function inputs(gpu: GpuBackend, R: number, D: number, dtype: DType) {
  const n = R * D;
  const f32 = (shape: number[], f: (i: number) => number) => gpu.upload({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) });
  const made = [f32([R, D], (i) => Math.sin(i * 0.7 + 0.3) * 2), f32([R, D], (i) => Math.cos(i * 1.3)), f32([R, D], (i) => Math.sin(i * 0.11)),
    f32([D], (j) => 1 + 0.01 * Math.sin(j)), f32([D], (j) => 0.01 * Math.cos(j))];
  const [x, dy, r, w, b] = made.map((t) => {
    if (dtype === "float32") return t as AnyGpuTensor;
    const h = gpu.cast(t, dtype);
    t.destroy();
    return h;
  }) as AnyGpuTensor[];
  return { x: x!, dy: dy!, r: r!, w: w!, b: b!, all: [x!, dy!, r!, w!, b!], n };
}

/**
 * Times every #12 case at each shape: median over `iters` timestamped passes (`perPass` dispatches
 * each where stamps are coarse), after `warmup`.
 */
export async function timeExtCases(
  gpu: GpuBackend, shapes: [number, number][], o: { iters: number; warmup: number; perPass: number; progress: (s: string) => void },
): Promise<ExtRow[]> {
  const rows: ExtRow[] = [];
  const ctx = contextOf(gpu);
  for (const [R, D] of shapes) {
    o.progress(`#12 cases at [${R}, ${D}]: ${EXT_CASES.length} × ${EXT_DTYPES.length} dtypes`);
    for (const dtype of EXT_DTYPES) {
      const inp = inputs(gpu, R, D, dtype);
      const el = dtype === "float32" ? 4 : 2;
      for (const [op, dir] of EXT_CASES) {
        const rms = op === "rmsNorm" || op === "addRmsNorm";
        const add = op.startsWith("add");
        const opts = { weight: inp.w, bias: rms ? null : inp.b };
        const outs: AnyGpuTensor[] = [];
        let steps: GpuStep[];
        if (dir === "forward") {
          const f = ctx.call("bench #12 forward", (c) => extForwardSteps(c, rms, inp.x, add ? inp.r : undefined, D, opts, add));
          steps = f.steps;
          outs.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []), ...(f.out.h ? [f.out.h] : []), ...f.temps);
        } else {
          const f = ctx.call("bench #12 forward", (c) => extForwardSteps(c, rms, inp.x, undefined, D, opts, false));
          submitSteps(gpu, f.steps);
          outs.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []), ...f.temps);
          const b = ctx.call("bench #12 backward", (c) => extBackwardSteps(c, rms, inp.dy, inp.x, D, { ...opts, mean: f.out.mean ?? undefined, rstd: f.out.rstd }, false));
          steps = b.steps;
          outs.push(b.grads.dx, ...(b.grads.dweight ? [b.grads.dweight] : []), ...(b.grads.dbias ? [b.grads.dbias] : []), ...b.temps);
        }
        await timePasses(gpu, encodeSteps(steps), o.warmup);
        const ms = median(await timePasses(gpu, encodeSteps(steps), o.iters, o.perPass));
        for (const t of outs) t.destroy();
        const params = (rms ? 1 : 2) * D * el;
        const stats = (rms ? 1 : 2) * R * 4;
        const moved = dir === "backward" ? 3 * inp.n * el + stats + 2 * params : (add ? 4 : 2) * inp.n * el + stats + params;
        rows.push({ shape: [R, D], op, dtype, dir, ms, gbs: ms > 0 ? moved / ms / 1e6 : null });
      }
      for (const t of inp.all) t.destroy();
      if (gpu.errors.length) throw new Error(`GPU errors: ${gpu.errors.join("; ")}`);
    }
  }
  return rows;
}
