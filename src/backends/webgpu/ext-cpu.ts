/**
 * `gpu.cpu.*` for the issue #12 ops and dtypes: the GPU ops on CPU tensors, async. Each call reads
 * its options once (unknown keys are NormErrors), uploads its tensors (validated by `upload`, named
 * as the argument), runs the GPU op (which validates the rest as for GPU tensors), reads every
 * result back, and only then writes what the caller owns: `out`, `residualOut` (h over `residual`
 * when it is `residual` itself), `into` gradients and BatchNorm/InstanceNorm running statistics.
 * `into` and running statistics travel to the GPU and back, so they accumulate exactly as there.
 * A failed call leaves the caller's arrays, and the backend's buffer count, as they were.
 */
import { checkAnyTensor, checkWrites, likeX, readOptions, type AnyTensor, type CheckedTensor, type NormalizedShape, type Options, type Typed } from "../../core/index.js";
import type { DType } from "../../dtype.js";
import type { GpuBackend } from "./backend.js";
import {
  EXT_ADD_BACKWARD_KEYS, EXT_ADD_FORWARD_KEYS, EXT_BATCH_BACKWARD_KEYS, EXT_BATCH_KEYS, EXT_GROUP_BACKWARD_KEYS, EXT_GROUP_KEYS, EXT_ROW_BACKWARD_KEYS,
  EXT_ROW_FORWARD_KEYS, INSTANCE_BACKWARD_KEYS, INSTANCE_KEYS,
} from "./ext-args.js";
import type { AnyGpuTensor } from "./types.js";

type Cpu = CheckedTensor;
/** A CPU result: float32, or a half tensor's bit patterns with its dtype. */
export type CpuResult = AnyTensor;

const TENSOR_KEYS = ["weight", "bias", "inputBias", "mean", "rstd", "dh", "runningMean", "runningVar"];
/** Checked as written in every mode (the core's rule), written back only when the call updates them. */
const RUNNING = ["runningMean", "runningVar"];

/** The uploads, results and caller-owned targets of one call. */
class Mirror {
  readonly held: AnyGpuTensor[] = [];
  /** CPU arrays the call reads (for the aliasing check of what it writes) */
  readonly reads: [string, Float32Array | Uint16Array][] = [];
  /** CPU arrays checked as written that the call does not write back (running statistics it does not update) */
  readonly guarded: [string, Float32Array | Uint16Array][] = [];
  /** caller-owned CPU tensors written once every read succeeded */
  readonly writes: { name: string; cpu: Cpu; gpu: AnyGpuTensor | null }[] = [];
  constructor(readonly gpu: GpuBackend) {}

  /** Uploads a CPU tensor (null/undefined: none); `write`: written back at the end, "guard": only checked as written. */
  up(t: unknown, name: string, write: boolean | "guard" = false): AnyGpuTensor | null {
    if (t === undefined || t === null) return null;
    const c = checkAnyTensor(t, name);
    const g = this.gpu.upload(c.dtype === "float32" ? { shape: c.shape, data: c.data as Float32Array } : { shape: c.shape, data: c.data as Uint16Array, dtype: c.dtype }, name);
    this.held.push(g);
    if (write === "guard") this.guarded.push([name, c.data]);
    else if (write) this.writes.push({ name, cpu: c, gpu: g });
    else this.reads.push([name, c.data]);
    return g;
  }
  hold<T extends AnyGpuTensor | null>(t: T): T {
    if (t !== null) this.held.push(t);
    return t;
  }
  /** A caller's output tensor with x's shape and dtype (out, residualOut), written from `gpu` at the end. */
  target(t: unknown, name: string, x: Typed, xName = "x"): Cpu | null {
    if (t === undefined || t === null) return null;
    const c = likeX(checkAnyTensor, t, x, name, xName);
    this.writes.push({ name, cpu: c, gpu: null });
    return c;
  }
  /** GPU options: the caller's, with its CPU tensors uploaded (`into` and written keys as given). */
  options(o: Options, drop: readonly string[], written: readonly string[] = []): Record<string, unknown> {
    const g: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (drop.includes(k) || k === "into") continue;
      g[k] = TENSOR_KEYS.includes(k) ? this.up(v, k, written.includes(k) || (RUNNING.includes(k) && "guard")) : v;
    }
    if (o.into !== undefined && o.into !== null) {
      const i = readOptions(o.into, "into", null);
      const into: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(i)) into[k] = this.up(v, `into.${k}`, true);
      g.into = into;
    }
    return g;
  }
  /** Checks the written arrays against the read ones (run once everything is uploaded). */
  checkWrites(): void {
    checkWrites([...this.writes.map((x) => [x.name, x.cpu.data] as const), ...this.guarded], this.reads);
  }
  /** Reads GPU results back, then writes the caller's targets; returns the results. */
  async finish<K extends string>(results: Record<K, AnyGpuTensor | null>, into: Record<string, AnyGpuTensor | null> = {}): Promise<Record<K, CpuResult | null>> {
    const keys = Object.keys(results) as K[];
    const got = await Promise.all(keys.map((k) => results[k]?.read() ?? null));
    const back = await Promise.all(this.writes.map((w) => (w.gpu ?? into[w.name] ?? null)?.read() ?? null));
    this.writes.forEach((w, j) => {
      const b = back[j];
      if (b) w.cpu.data.set(b.data);
    });
    return Object.fromEntries(keys.map((k, j) => [k, got[j]])) as Record<K, CpuResult | null>;
  }
  free(): void {
    for (const t of this.held) t.destroy();
  }
}

async function mirror<R>(gpu: GpuBackend, fn: (m: Mirror) => Promise<R>): Promise<R> {
  const m = new Mirror(gpu);
  try {
    return await fn(m);
  } finally {
    m.free();
  }
}

/** A result tensor over the caller's array (out, into) carrying its dtype. */
const over = (c: Cpu): CpuResult =>
  c.dtype === "float32" ? { shape: c.shape, data: c.data as Float32Array } : { shape: c.shape, data: c.data as Uint16Array, dtype: c.dtype };

/** The caller's `into` tensor for gradient `k`, if given (the GPU accumulated into its upload). */
function intoOf(m: Mirror, k: string): Cpu | null {
  return m.writes.find((w) => w.name === `into.${k}`)?.cpu ?? null;
}

export function extCpuOps(gpu: GpuBackend) {
  const rowForward = (rms: boolean, add: boolean, x: unknown, residual: unknown, ns: NormalizedShape, options: unknown) => {
    const o = readOptions(options, "options", [...(add ? EXT_ADD_FORWARD_KEYS : EXT_ROW_FORWARD_KEYS), "out"]);
    return mirror(gpu, async (m) => {
      const gx = m.up(x, "x")!;
      const inPlace = add && o.residualOut !== undefined && o.residualOut !== null && o.residualOut === residual;
      const gr = add ? m.up(residual, "residual", inPlace) : null;
      const go = m.options(o, ["out", "residualOut"]);
      const outY = m.target(o.out, "out", gx);
      if (add && !inPlace) m.target(o.residualOut, "residualOut", gx);
      if (inPlace) go.residualOut = gr;
      m.checkWrites();
      let r: { y: AnyGpuTensor; h?: AnyGpuTensor; mean?: AnyGpuTensor; rstd: AnyGpuTensor };
      if (add) r = rms ? gpu.addRmsNorm(gx, gr!, ns, go) : gpu.addLayerNorm(gx, gr!, ns, go);
      else r = rms ? gpu.rmsNormForward(gx, ns, go) : gpu.layerNormForward(gx, ns, go);
      for (const t of [r.y, inPlace ? null : (r.h ?? null), r.mean ?? null, r.rstd]) m.hold(t);
      const hOut = m.writes.find((w) => w.name === "residualOut");
      if (hOut) hOut.gpu = r.h!;
      const yOut = m.writes.find((w) => w.name === "out");
      if (yOut) yOut.gpu = r.y;
      const got = await m.finish({ y: r.y, h: add && !inPlace && !hOut ? r.h! : null, mean: r.mean ?? null, rstd: r.rstd });
      const res: Record<string, CpuResult | null> = { y: outY ? over(outY) : got.y, rstd: got.rstd };
      if (!rms) res.mean = got.mean;
      if (add) res.h = inPlace ? over(m.writes.find((w) => w.name === "residual")!.cpu) : hOut ? over(hOut.cpu) : got.h;
      return res;
    });
  };

  const rowBackward = (rms: boolean, add: boolean, dy: unknown, x: unknown, ns: NormalizedShape, options: unknown) => {
    const o = readOptions(options, "options", [...(add ? EXT_ADD_BACKWARD_KEYS : EXT_ROW_BACKWARD_KEYS), "out"]);
    return mirror(gpu, async (m) => {
      const gx = m.up(x, add ? "h" : "x")!;
      const gdy = m.up(dy, "dy")!;
      const go = m.options(o, ["out"]);
      const outDx = m.target(o.out, "out", gx, add ? "h" : "x");
      m.checkWrites();
      const g = add
        ? (rms ? gpu.addRmsNormBackward : gpu.addLayerNormBackward).call(gpu, gdy, gx, ns, go)
        : (rms ? gpu.rmsNormBackward : gpu.layerNormBackward).call(gpu, gdy, gx, ns, go);
      const fresh = (k: string, t: AnyGpuTensor | null) => (intoOf(m, k) ? null : m.hold(t));
      const dinputBias = "dinputBias" in g ? (g as { dinputBias: AnyGpuTensor | null }).dinputBias : null;
      m.hold(g.dx);
      const yOut = m.writes.find((w) => w.name === "out");
      if (yOut) yOut.gpu = g.dx;
      const got = await m.finish({ dx: g.dx, dweight: fresh("dweight", g.dweight), dbias: fresh("dbias", g.dbias), dinputBias: fresh("dinputBias", dinputBias) });
      const grad = (k: "dweight" | "dbias" | "dinputBias") => {
        const i = intoOf(m, k);
        return i ? over(i) : got[k];
      };
      const res: { dx: CpuResult; dweight: CpuResult | null; dbias: CpuResult | null; dinputBias?: CpuResult | null } = {
        dx: outDx ? over(outDx) : got.dx!, dweight: grad("dweight"), dbias: grad("dbias"),
      };
      if (add) res.dinputBias = grad("dinputBias");
      return res;
    });
  };

  const channelBackward = (keys: readonly string[], dy: unknown, x: unknown, options: unknown, run: (gdy: AnyGpuTensor, gx: AnyGpuTensor, o: Record<string, unknown>) => { dx: AnyGpuTensor; dweight: AnyGpuTensor | null; dbias: AnyGpuTensor | null }) => {
    const o = readOptions(options, "options", keys);
    return mirror(gpu, async (m) => {
      const gx = m.up(x, "x")!;
      const gdy = m.up(dy, "dy")!;
      const go = m.options(o, []);
      m.checkWrites();
      const g = run(gdy, gx, go);
      m.hold(g.dx);
      const got = await m.finish({ dx: g.dx, dweight: intoOf(m, "dweight") ? null : m.hold(g.dweight), dbias: intoOf(m, "dbias") ? null : m.hold(g.dbias) });
      const grad = (k: "dweight" | "dbias") => {
        const i = intoOf(m, k);
        return i ? over(i) : got[k];
      };
      return { dx: got.dx!, dweight: grad("dweight"), dbias: grad("dbias") };
    });
  };

  /** BatchNorm/InstanceNorm forward: running statistics travel to the GPU and back when updated. */
  const statsForward = (keys: readonly string[], x: unknown, options: unknown, updates: (o: Options) => boolean, run: (gx: AnyGpuTensor, o: Record<string, unknown>) => AnyGpuTensor) => {
    const o = readOptions(options, "options", keys);
    return mirror(gpu, async (m) => {
      const gx = m.up(x, "x")!;
      const go = m.options(o, [], updates(o) ? ["runningMean", "runningVar"] : []);
      m.checkWrites();
      const y = m.hold(run(gx, go));
      return (await m.finish({ y })).y!;
    });
  };

  return {
    addLayerNorm: (x: AnyTensor, residual: AnyTensor, ns: NormalizedShape, options?: object) => rowForward(false, true, x, residual, ns, options),
    addRmsNorm: (x: AnyTensor, residual: AnyTensor, ns: NormalizedShape, options?: object) => rowForward(true, true, x, residual, ns, options),
    addLayerNormBackward: (dy: AnyTensor, h: AnyTensor, ns: NormalizedShape, options?: object) => rowBackward(false, true, dy, h, ns, options),
    addRmsNormBackward: (dy: AnyTensor, h: AnyTensor, ns: NormalizedShape, options?: object) => rowBackward(true, true, dy, h, ns, options),
    /** LayerNorm/RMSNorm forward and backward with half tensors or #12 options (cpu.ts routes here). */
    rowForward: (rms: boolean, x: unknown, ns: NormalizedShape, options: unknown) => rowForward(rms, false, x, undefined, ns, options),
    rowBackward: (rms: boolean, dy: unknown, x: unknown, ns: NormalizedShape, options: unknown) => rowBackward(rms, false, dy, x, ns, options),
    groupNormForward: (x: AnyTensor, numGroups: number, options?: object) => {
      const o = readOptions(options, "options", EXT_GROUP_KEYS);
      return mirror(gpu, async (m) => {
        const gx = m.up(x, "x")!;
        const go = m.options(o, []);
        const f = gpu.groupNormForward(gx, numGroups, go);
        for (const t of [f.y, f.mean, f.rstd]) m.hold(t);
        const got = await m.finish({ y: f.y, mean: f.mean, rstd: f.rstd });
        return { y: got.y!, mean: got.mean!, rstd: got.rstd! };
      });
    },
    groupNormBackward: (dy: AnyTensor, x: AnyTensor, numGroups: number, options?: object) =>
      channelBackward(EXT_GROUP_BACKWARD_KEYS, dy, x, options, (gdy, gx, o) => gpu.groupNormBackward(gdy, gx, numGroups, o)),
    instanceNorm: (x: AnyTensor, options?: object) =>
      statsForward(INSTANCE_KEYS, x, options, (o) => o.useInputStats !== false, (gx, o) => gpu.instanceNorm(gx, o)),
    instanceNormBackward: (dy: AnyTensor, x: AnyTensor, options?: object) =>
      channelBackward(INSTANCE_BACKWARD_KEYS, dy, x, options, (gdy, gx, o) => gpu.instanceNormBackward(gdy, gx, o)),
    batchNorm: (x: AnyTensor, options?: object) =>
      statsForward(EXT_BATCH_KEYS, x, options, (o) => o.training === true, (gx, o) => gpu.batchNorm(gx, o)),
    batchNormBackward: (dy: AnyTensor, x: AnyTensor, options?: object) =>
      channelBackward(EXT_BATCH_BACKWARD_KEYS, dy, x, options, (gdy, gx, o) => gpu.batchNormBackward(gdy, gx, o)),
    /** A new CPU tensor: `t` converted to `dtype` on the GPU. */
    cast: (t: AnyTensor, dtype: DType) =>
      mirror(gpu, async (m) => {
        const y = m.hold(gpu.cast(m.up(t, "t")!, dtype));
        return (await m.finish({ y })).y!;
      }),
  };
}
