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

  return {
    layerNorm: async (x: Tensor, ns: NS, options?: ForwardOptions) => (await forward(false, x, ns, options, false)).y,
    rmsNorm: async (x: Tensor, ns: NS, options?: ForwardOptions) => (await forward(true, x, ns, options, false)).y,
    layerNormForward: async (x: Tensor, ns: NS, options?: ForwardOptions) => {
      const r = await forward(false, x, ns, options, true);
      return { y: r.y, mean: r.mean!, rstd: r.rstd! };
    },
    rmsNormForward: async (x: Tensor, ns: NS, options?: ForwardOptions) => {
      const r = await forward(true, x, ns, options, true);
      return { y: r.y, rstd: r.rstd! };
    },
    layerNormBackward: (dy: Tensor, x: Tensor, ns: NS, options?: BackwardOptions) => backward(false, dy, x, ns, options),
    rmsNormBackward: (dy: Tensor, x: Tensor, ns: NS, options?: BackwardOptions) => backward(true, dy, x, ns, options),
    groupNorm: async (x: Tensor, numGroups: number, options?: NormOptions): Promise<Tensor> => {
      const a = groupNormArgs(x, numGroups, options);
      return withHeld(gpu, async (up, hold) => {
        const y = gpu.groupNorm(up(a.x.data, a.x.shape, "x")!, a.G, { weight: up(a.weight, [a.C], "weight"), bias: up(a.bias, [a.C], "bias"), eps: a.eps });
        hold(y);
        return y.read();
      });
    },
    groupNormBackward: async (dy: Tensor, x: Tensor, numGroups: number, options?: NormOptions): Promise<Grads> => {
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
    },
  };
}

export type GpuCpuOps = ReturnType<typeof cpuOps>;
