/**
 * `gpu.cpu`: the core API on CPU tensors, made async: upload, run on the GPU, read back, free.
 * Same validation as the sync ops (the core's rowNormArgs/groupNormArgs), same options (`out`,
 * saved `mean`/`rstd`, `into`); `out` and `into` are written on the CPU only after every read
 * succeeded, so a failed call leaves them, and the backend's buffer count, as they were.
 */
import {
  groupNormArgs, out, rowNormArgs, rowNormBackwardArgs, statShape, type BackwardOptions, type ForwardOptions, type Grads, type NormOptions, LAYER_NORM_EPS, RMS_NORM_EPS, checkSameShape, type Tensor,
} from "../../core/index.js";
import type { GpuBackend } from "./backend.js";
import type { AnyTensor, GroupNormBackwardOptions } from "../../core/index.js";
import type { ExtPlan } from "./ext-plan.js";
import type { HalfTensor } from "./types.js";
import { extCpuOps, type CpuResult } from "./ext-cpu.js";
import { GROUP_EXT_KEYS, ROW_EXT_KEYS, cpuWantsExt } from "./ext-route.js";
import type { GpuTensor } from "./tensor.js";
import type { GpuGrads } from "./types.js";

type NS = number | readonly number[];

/** Runs `fn` with an uploader; every GPU tensor uploaded or registered is freed when it ends. */
async function withHeld<R>(gpu: GpuBackend, fn: (up: (t: Float32Array | null, shape: readonly number[], name: string) => GpuTensor | null, hold: (...t: (GpuTensor | null)[]) => void) => Promise<R>): Promise<R> {
  const held: GpuTensor[] = [];
  const hold = (...ts: (GpuTensor | null)[]) => {
    for (const t of ts) if (t !== null) held.push(t);
  };
  const up = (t: Float32Array | null, shape: readonly number[], name: string) => {
    if (t === null) return null;
    const g = gpu.upload({ shape, data: t }, name);
    held.push(g);
    return g;
  };
  try {
    return await fn(up, hold);
  } finally {
    for (const t of held) t.destroy();
  }
}

/** Reads the gradients back (all or nothing). */
async function readGrads(g: GpuGrads): Promise<[Tensor, Tensor | null, Tensor | null]> {
  return Promise.all([g.dx.read(), g.dweight?.read() ?? null, g.dbias?.read() ?? null]);
}

export function cpuOps(gpu: GpuBackend) {
  const forward = (rms: boolean, x: Tensor, ns: NS, options: ForwardOptions | undefined, stats: boolean) => {
    const a = rowNormArgs(x, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, true);
    return withHeld(gpu, async (up, hold) => {
      const gx = up(a.x.data, a.x.shape, "x")!;
      const opts = { weight: up(a.weight, a.normalizedShape, "weight"), bias: up(a.bias, a.normalizedShape, "bias"), eps: a.eps };
      const o = rms ? { mean: null, ...gpu.rmsNormForward(gx, a.normalizedShape, opts) } : gpu.layerNormForward(gx, a.normalizedShape, opts);
      hold(o.y, o.mean, o.rstd);
      const [y, mean, rstd] = await Promise.all([o.y.read(), stats ? (o.mean?.read() ?? null) : null, stats ? o.rstd.read() : null]);
      return { y: a.out !== null ? (a.out.set(y.data), out(a.out, y.shape)) : y, mean, rstd };
    });
  };

  const backward = (rms: boolean, dy: Tensor, x: Tensor, ns: NS, options?: BackwardOptions): Promise<Grads> => {
    const a = rowNormBackwardArgs(dy, x, ns, options, rms ? RMS_NORM_EPS : LAYER_NORM_EPS, rms);
    return withHeld(gpu, async (up, hold) => {
      const sshape = statShape(a.x.shape, a.normalizedShape);
      const opts = {
        weight: up(a.weight, a.normalizedShape, "weight"), bias: up(a.bias, a.normalizedShape, "bias"), eps: a.eps,
        mean: up(a.stats?.mean ?? null, sshape, "mean") ?? undefined, rstd: up(a.stats?.rstd ?? null, sshape, "rstd") ?? undefined,
      };
      const gdy = up(a.dy, a.x.shape, "dy")!, gx = up(a.x.data, a.x.shape, "x")!;
      const g = rms ? gpu.rmsNormBackward(gdy, gx, a.normalizedShape, opts) : gpu.layerNormBackward(gdy, gx, a.normalizedShape, opts);
      hold(g.dx, g.dweight, g.dbias);
      const [rx, rw, rb] = await readGrads(g);
      // out and into are written only now, after every read succeeded
      const grad = (into: Float32Array | null, r: Tensor | null) => {
        if (r === null || into === null) return r;
        for (let i = 0; i < into.length; i++) into[i] += r.data[i];
        return out(into, a.normalizedShape);
      };
      if (a.out !== null) a.out.set(rx.data);
      return { dx: a.out !== null ? out(a.out, a.x.shape) : rx, dweight: grad(a.into.dweight, rw), dbias: grad(a.into.dbias, rb) };
    });
  };

  // half tensors or #12 options: the #12 ops (ext-cpu.ts); results then carry their dtype
  const ext = extCpuOps(gpu);
  const rowExt = (ts: unknown[], o: unknown) => cpuWantsExt(ts, o, ROW_EXT_KEYS);
  const fwd = async (rms: boolean, x: AnyTensor, ns: NS, options: object | undefined, stats: boolean) =>
    rowExt([x], options) ? ext.rowForward(rms, x, ns, options) : forward(rms, x as Tensor, ns, options as ForwardOptions, stats);
  const bwd = (rms: boolean, dy: AnyTensor, x: AnyTensor, ns: NS, options?: object): Promise<CpuGrads> =>
    rowExt([dy, x], options) ? ext.rowBackward(rms, dy, x, ns, options) : backward(rms, dy as Tensor, x as Tensor, ns, options as BackwardOptions);

  // one generic signature per op (no overloads: `rms ? gpu.cpu.rmsNorm : gpu.cpu.layerNorm` stays callable);
  // the result's dtype follows x's (parameter gradients: the parameter's, see CpuGrads)
  async function layerNorm<T extends AnyTensor = Tensor>(x: T, ns: NS, options?: CpuRowOptions): Promise<CpuOut<T>> {
    return (await fwd(false, x, ns, options, false)).y! as CpuOut<T>;
  }
  async function rmsNorm<T extends AnyTensor = Tensor>(x: T, ns: NS, options?: CpuRowOptions): Promise<CpuOut<T>> {
    return (await fwd(true, x, ns, options, false)).y! as CpuOut<T>;
  }
  async function layerNormForward<T extends AnyTensor = Tensor>(x: T, ns: NS, options?: CpuRowOptions): Promise<{ y: CpuOut<T>; mean: Tensor; rstd: Tensor }> {
    const r = await fwd(false, x, ns, options, true);
    return { y: r.y as CpuOut<T>, mean: r.mean! as Tensor, rstd: r.rstd! as Tensor };
  }
  async function rmsNormForward<T extends AnyTensor = Tensor>(x: T, ns: NS, options?: CpuRowOptions): Promise<{ y: CpuOut<T>; rstd: Tensor }> {
    const r = await fwd(true, x, ns, options, true);
    return { y: r.y as CpuOut<T>, rstd: r.rstd! as Tensor };
  }
  function layerNormBackward<T extends AnyTensor = Tensor>(dy: T, x: T, ns: NS, options?: CpuRowBackwardOptions): Promise<CpuGradsOf<T>> {
    return bwd(false, dy, x, ns, options) as Promise<CpuGradsOf<T>>;
  }
  function rmsNormBackward<T extends AnyTensor = Tensor>(dy: T, x: T, ns: NS, options?: CpuRowBackwardOptions): Promise<CpuGradsOf<T>> {
    return bwd(true, dy, x, ns, options) as Promise<CpuGradsOf<T>>;
  }
  async function groupNorm<T extends AnyTensor = Tensor>(x: T, numGroups: number, options?: CpuGroupOptions): Promise<CpuOut<T>> {
    return (cpuWantsExt([x], options, GROUP_EXT_KEYS) ? (await ext.groupNormForward(x, numGroups, options)).y : await groupNormF32(x as Tensor, numGroups, options as NormOptions)) as CpuOut<T>;
  }
  function groupNormBackward<T extends AnyTensor = Tensor>(dy: T, x: T, numGroups: number, options?: CpuGroupOptions): Promise<CpuGradsOf<T>> {
    return (cpuWantsExt([dy, x], options, GROUP_EXT_KEYS) ? ext.groupNormBackward(dy, x, numGroups, options) : groupNormBackwardF32(dy as Tensor, x as Tensor, numGroups, options as NormOptions)) as Promise<CpuGradsOf<T>>;
  }
  const { rowForward: _f, rowBackward: _b, groupNormBackward: _g, ...extOps } = ext;

  return {
    layerNorm, rmsNorm, layerNormForward, rmsNormForward, layerNormBackward, rmsNormBackward, groupNorm, groupNormBackward, ...extOps,
  };

  async function groupNormF32(x: Tensor, numGroups: number, options?: NormOptions): Promise<Tensor> {
      const a = groupNormArgs(x, numGroups, options);
      return withHeld(gpu, async (up, hold) => {
        const y = gpu.groupNorm(up(a.x.data, a.x.shape, "x")!, a.G, { weight: up(a.weight, [a.C], "weight"), bias: up(a.bias, [a.C], "bias"), eps: a.eps });
        hold(y);
        return y.read();
      });
  }
  async function groupNormBackwardF32(dy: Tensor, x: Tensor, numGroups: number, options?: NormOptions): Promise<Grads> {
      const a = groupNormArgs(x, numGroups, options);
      const g = checkSameShape(dy, a.x);
      return withHeld(gpu, async (up, hold) => {
        const r = gpu.groupNormBackward(up(g.data, a.x.shape, "dy")!, up(a.x.data, a.x.shape, "x")!, a.G, {
          weight: up(a.weight, [a.C], "weight"), bias: up(a.bias, [a.C], "bias"), eps: a.eps,
        });
        hold(r.dx, r.dweight, r.dbias);
        const [dx, dweight, dbias] = await readGrads(r);
        return { dx, dweight, dbias };
      });
  }
}

/**
 * Gradients of a `gpu.cpu` backward of half tensors: dx in x's dtype, dweight/dbias in the
 * parameters' (for float32 x with half parameters too: check `dtype`).
 */
export interface CpuGrads {
  dx: CpuResult;
  dweight: CpuResult | null;
  dbias: CpuResult | null;
}

/** A result of x's kind: float32 tensors for float32 x, else a tensor carrying its dtype. */
export type CpuOut<T> = T extends HalfTensor ? CpuResult : Tensor;
/** The gradients of x's kind: float32 tensors for float32 x, else tensors carrying their dtypes. */
export type CpuGradsOf<T> = T extends HalfTensor ? CpuGrads : Grads;

/** Options of `gpu.cpu` LayerNorm/RMSNorm: the core's (tensors of any dtype, the #12 options), and `plan`. */
export type CpuRowOptions = ForwardOptions<AnyTensor> & { plan?: Partial<ExtPlan> };
export type CpuRowBackwardOptions = BackwardOptions<AnyTensor> & { plan?: Partial<ExtPlan> };
/** Options of `gpu.cpu` GroupNorm: the core's, with `into` (gradients added into) and `plan`. */
export type CpuGroupOptions = GroupNormBackwardOptions<AnyTensor> & {
  into?: { dweight?: AnyTensor | null; dbias?: AnyTensor | null } | null;
  plan?: Partial<ExtPlan>;
};

export type GpuCpuOps = ReturnType<typeof cpuOps>;
