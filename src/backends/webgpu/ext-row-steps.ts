/// <reference types="@webgpu/types" />
/**
 * LayerNorm / RMSNorm with the issue #12 features on the GPU, as data (the pattern of
 * row-steps.ts): tensors of any dtype, weightOffset, castingMode, and the fused residual add
 * (addLayerNorm/addRmsNorm: h = round_x((x + residual) + inputBias), y = norm(h); h written to a
 * new tensor, to `residualOut`, or over `residual` itself). Validation first (the core's
 * rowNormArgsOf/addNormOf/rowBackwardOf with this call's reader: the CPU's checks and NormErrors),
 * then allocation and encoding: a call that throws has made nothing that survives it.
 */
import { NormError } from "../../errors.js";
import { LAYER_NORM_EPS, RMS_NORM_EPS, addNormOf, readOptions, rowBackwardOf, rowNormArgsOf, statShape } from "../../core/index.js";
import type { Call } from "./context.js";
import { EXT_ADD_BACKWARD_KEYS, EXT_ADD_FORWARD_KEYS, EXT_ROW_BACKWARD_KEYS, EXT_ROW_FORWARD_KEYS } from "./ext-args.js";
import { extPlan } from "./ext-plan.js";
import { Work, bytes, slotFloats, storageLimit } from "./ext-steps.js";
import { backwardBlocks } from "./plan.js";
import type { GpuTensor } from "./tensor.js";
import type { AnyGpuTensor } from "./types.js";
import { addWGSL, elementwiseThreads } from "./wgsl-ext-aux.js";
import { backwardBindings, extBackwardWGSL, gradSlots, type ExtBackwardSpec } from "./wgsl-ext-backward.js";
import { extForwardWGSL, forwardBindings, type ExtForwardSpec } from "./wgsl-ext-forward.js";
import { scratched, type ExtSpec } from "./wgsl-ext.js";
import { WORKGROUP, type KernelPlan } from "./wgsl.js";

type Opt = AnyGpuTensor | null;

/** The row arguments both directions share (x or h, normalizedShape, parameters, eps, the #12 options). */
type RowArgs = ReturnType<typeof rowNormArgsOf<AnyGpuTensor>>;

const epsOf = (rms: boolean) => (rms ? RMS_NORM_EPS : LAYER_NORM_EPS);

function specOf(rms: boolean, a: RowArgs, plan: ExtSpec["plan"]): ExtSpec {
  return {
    rms, D: a.D, map: { k: "rows" }, plan, x: a.x.dtype, w: a.weight?.dtype ?? null, b: a.bias?.dtype ?? null,
    offset: a.weight ? Math.fround(a.weightOffset) : 0, mode: a.x.dtype === "float32" ? "gemma" : a.castingMode, act: null,
  };
}

export interface ExtForwardOut {
  y: AnyGpuTensor;
  h: AnyGpuTensor | null;
  mean: GpuTensor | null;
  rstd: GpuTensor;
}

/**
 * LayerNorm/RMSNorm forward (`residual` undefined) or the fused add + norm. Returns the steps and
 * outputs; mean/rstd are always made (the caller frees them when it returns y only).
 */
export function extForwardSteps(c: Call, rms: boolean, x: unknown, residual: unknown, ns: unknown, options: unknown, add: boolean) {
  const o = readOptions(options, "options", add ? EXT_ADD_FORWARD_KEYS : EXT_ROW_FORWARD_KEYS);
  // h over residual (FlashInfer's in-place add): residual is then written, so nothing it shares a buffer with may be read
  const f = add ? addNormOf(c.reader, x, residual, ns, o, epsOf(rms)) : null;
  const a: RowArgs = f ?? rowNormArgsOf(c.readAny, x, ns, o, epsOf(rms));
  const dt = a.x.dtype;
  const hTarget: Opt = f?.residualOut ?? null;
  c.checkAliasing();
  const plan = extPlan(a.D, a.D, false, c.ctx.subgroupSize, c.ctx.f16, o.plan);
  // validated: from here on only allocation and encoding
  const w = new Work(c);
  const sshape = statShape(a.x.shape, a.normalizedShape);
  const out: ExtForwardOut = {
    y: c.empty(a.x.shape, "y", dt),
    h: add ? (hTarget ?? c.empty(a.x.shape, "h", dt)) : null,
    mean: rms ? null : c.empty(sshape, "mean"),
    rstd: c.empty(sshape, "rstd"),
  };
  if (a.rows > 0 && a.D > 0) encodeForward(w, rms, a, plan, out, f && { r: f.residual, ib: f.inputBias, inPlace: f.inPlace });
  return { ...w, out, args: a };
}

function encodeForward(w: Work, rms: boolean, a: RowArgs, plan: ExtSpec["plan"], out: ExtForwardOut, add: { r: AnyGpuTensor; ib: Opt; inPlace: boolean } | null): void {
  const c = w.c;
  const base = specOf(rms, a, plan);
  const scratch = scratched(base);
  const n = a.rows * a.D;
  let spec: ExtForwardSpec = {
    ...base, add: add && { ib: add.ib?.dtype ?? null, h: add.inPlace && !scratch ? "res" : "out" }, stats: "batch", update: false, save: true, varOut: false,
  };
  let x: AnyGpuTensor = a.x;
  if (add && forwardBindings(spec).length > storageLimit(c)) {
    // too many buffers for this device: h first (the same rounding), then the norm of h
    // in place, h cannot be written while residual is bound for reading: a temporary, cast over it after
    const h = add.inPlace ? w.temp(a.x.shape, "h", a.x.dtype) : out.h!;
    const meta = c.meta([n], "add size");
    w.temps.push(meta);
    const xs = { dt: a.x.dtype, w: 1 as const, f16: plan.f16 };
    const ibdt = add.ib?.dtype ?? null;
    w.run(`add ${JSON.stringify([xs, ibdt, a.D])}`, () => addWGSL(xs, ibdt, a.D), {
      0: [a.x, bytes(a.x)], 2: [add.r, bytes(add.r)], 3: add.ib && [add.ib, bytes(add.ib)], 1: [h, bytes(h)], 7: [meta, 4],
    }, w.grid(Math.ceil(elementwiseThreads(n, xs) / 256)));
    x = h;
    spec = { ...spec, add: null };
    if (add.inPlace) w.cast(h, out.h!, false);
    add = null;
  }
  const eps = Math.fround(a.eps);
  const y = scratch ? w.temp(a.x.shape, "y scratch") : out.y;
  const h = add && (scratch ? w.temp(a.x.shape, "h scratch") : add.inPlace ? null : out.h);
  const nb = (t: AnyGpuTensor) => [t, bytes(t)] as const;
  w.run(`xfwd ${JSON.stringify(spec)} ${eps}`, () => extForwardWGSL(spec, eps), {
    0: nb(x), 1: add && nb(add.r), 2: add?.ib ? nb(add.ib) : null, 3: a.weight && nb(a.weight), 4: a.bias && nb(a.bias),
    5: nb(y), 6: out.mean && nb(out.mean), 7: nb(out.rstd), 8: h ? nb(h) : null,
  }, w.grid(Math.ceil(a.rows / (WORKGROUP / plan.T))));
  if (scratch) {
    w.cast(y, out.y, false);
    if (h) w.cast(h, out.h!, false);
  }
}

/**
 * Backward of LayerNorm/RMSNorm (`add` false) or of the fused add + norm (x is h; dh added to dx;
 * dinputBias = Σ_rows dx). Saved statistics are used when given, else recomputed first.
 */
export function extBackwardSteps(c: Call, rms: boolean, dy: unknown, x: unknown, ns: unknown, options: unknown, add: boolean) {
  const o = readOptions(options, "options", add ? EXT_ADD_BACKWARD_KEYS : EXT_ROW_BACKWARD_KEYS);
  const a = rowBackwardOf(c.reader, dy, x, ns, o, epsOf(rms), rms, add);
  const dt = a.x.dtype;
  const { dy: g, inputBias: ib, dh, stats: saved } = a;
  const into = { dweight: a.into.dweight ?? null, dbias: a.into.dbias ?? null };
  const intoIb: Opt = a.into.dinputBias ?? null;
  c.checkAliasing();
  const plan = extPlan(a.D, a.D, true, c.ctx.subgroupSize, c.ctx.f16, o.plan);
  // validated: from here on only allocation and encoding
  const w = new Work(c);
  let mean: GpuTensor | null, rstd: GpuTensor;
  if (saved !== null) {
    ({ mean, rstd } = saved as { mean: GpuTensor | null; rstd: GpuTensor });
  } else {
    const sshape = statShape(a.x.shape, a.normalizedShape);
    const f: ExtForwardOut = { y: w.temp(a.x.shape, "y", dt), h: null, mean: rms ? null : (w.temp(sshape, "mean") as GpuTensor), rstd: w.temp(sshape, "rstd") as GpuTensor };
    if (a.rows > 0 && a.D > 0) encodeForward(w, rms, a, extPlan(a.D, a.D, false, c.ctx.subgroupSize, c.ctx.f16, { f16: plan.f16 }), f, null);
    ({ mean, rstd } = f);
  }
  const dx = c.empty(a.x.shape, "dx", dt);
  const target = (p: Opt, i: Opt, what: string) => (p === null ? null : (i ?? c.empty(a.normalizedShape, what, p.dtype)));
  const grads = { dx, dweight: target(a.weight, into.dweight, "dweight"), dbias: target(a.bias, into.dbias, "dbias"), dinputBias: target(ib, intoIb, "dinputBias") };
  if (a.rows > 0 && a.D > 0) {
    const spec: ExtBackwardSpec = {
      ...specOf(rms, a, plan), stats: "batch", dh: dh !== null, grads: { dw: a.weight !== null, db: a.bias !== null, dib: ib !== null },
    };
    const scratch = scratched(spec);
    const blocks = backwardBlocks(a.rows, { T: plan.T, wgsum: false } as KernelPlan);
    const P = blocks * (WORKGROUP / plan.T);
    const slots = gradSlots(spec);
    const stride = slotFloats(P, a.D);
    const part = slots.length ? w.temp([slots.length * stride], "partial gradients") : null;
    const dxs = scratch ? w.temp(a.x.shape, "dx scratch") : dx;
    const eps = Math.fround(a.eps);
    const nb = (t: AnyGpuTensor) => [t, bytes(t)] as const;
    if (backwardBindings(spec).length > storageLimit(c)) {
      throw new NormError("LIMIT_EXCEEDED", "device", `this backward binds ${backwardBindings(spec).length} storage buffers, over this device's maxStorageBuffersPerShaderStage (${storageLimit(c)})`);
    }
    w.run(`xbwd ${JSON.stringify(spec)} ${eps}`, () => extBackwardWGSL(spec, eps), {
      0: nb(g), 1: nb(a.x), 2: mean && nb(mean), 3: nb(rstd), 4: a.weight && nb(a.weight), 6: dh && nb(dh), 7: nb(dxs), 8: part && nb(part),
    }, [blocks, 1]);
    if (scratch) w.cast(dxs, dx, false);
    const acc = { dw: into.dweight !== null, db: into.dbias !== null, dib: intoIb !== null };
    const dst = { dw: grads.dweight, db: grads.dbias, dib: grads.dinputBias };
    slots.forEach((k, j) => w.colsum(part!, j * stride * 4, P, a.D, dst[k]!, acc[k]));
  }
  // no rows: gradients are zero (fresh buffers are zero-initialized by WebGPU), dx is empty
  return { ...w, grads, args: a };
}
