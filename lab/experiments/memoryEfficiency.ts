/**
 * The seed's claim that LayerNorm "is not as efficient in GPU memory access": normkit's LayerNorm
 * and RMSNorm, forward and backward, as a share of the bandwidth of a copy of the same bytes on the
 * same device — the CPU through the wasm backend, and WebGPU wherever the front end reaches an
 * adapter (LabEnvironment.gpuBandwidth; a software renderer such as SwiftShader is labelled as the
 * CPU it is). Wall-clock and GPU timing: not deterministic for a seed.
 */
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward, tensor, getBackend, listBackends, setBackend, type Tensor } from "../../src/index.js";
import { formatNumber, percent } from "../report/format.js";
import { deriveSeed, Rng } from "../train/rng.js";
import type { ChartSpec, ClaimResult, Experiment, ExperimentContext, GpuBandwidthResult } from "../types.js";
import { median } from "./common.js";

const ID = "layernorm-memory-access";
/** LayerNorm counts as less efficient where it reaches under this fraction of RMSNorm's share of copy bandwidth. */
const MARGIN = 0.9;

type Dir = "forward" | "backward";
interface Device {
  name: string;
  kind: "CPU (wasm)" | "CPU (software WebGPU)" | "GPU";
  shape: [number, number];
  /** share of copy bandwidth, per op and direction */
  eff: Record<"LayerNorm" | "RMSNorm", Record<Dir, number>>;
  gbs: Record<"LayerNorm" | "RMSNorm" | "copy", Record<Dir, number>>;
}

/** Bytes each op moves once: forward reads x, writes y; backward reads dy and x, writes dx; plus parameters and row statistics. */
function bytesMoved(R: number, D: number, rms: boolean, dir: Dir): number {
  const x = R * D * 4;
  const stats = (rms ? 1 : 2) * R * 4;
  const params = (rms ? 1 : 2) * D * 4;
  return dir === "forward" ? 2 * x + stats + params : 3 * x + stats + 2 * params;
}

/** `ms` of a pass that was not timed is null; its shares are NaN (shown as not measured). */
function device(name: string, kind: Device["kind"], shape: [number, number], copyMs: number, ms: Record<"LayerNorm" | "RMSNorm", Record<Dir, number | null>>): Device {
  const [R, D] = shape;
  const copyGbs = (2 * R * D * 4) / copyMs / 1e6;
  const gbs = { copy: { forward: copyGbs, backward: copyGbs } } as Device["gbs"];
  const eff = {} as Device["eff"];
  for (const op of ["LayerNorm", "RMSNorm"] as const) {
    const rate = (dir: Dir) => (ms[op][dir] === null ? NaN : bytesMoved(R, D, op === "RMSNorm", dir) / ms[op][dir]! / 1e6);
    gbs[op] = { forward: rate("forward"), backward: rate("backward") };
    eff[op] = { forward: gbs[op].forward / copyGbs, backward: gbs[op].backward / copyGbs };
  }
  return { name, kind, shape, eff, gbs };
}

/** Median ms of `f` over `reps` timed batches of calls sized to ~targetMs each. */
function timeMs(f: () => void, reps: number, targetMs: number): number {
  let t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < targetMs || calls < 2) {
    f();
    calls++;
  }
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    t0 = performance.now();
    for (let i = 0; i < calls; i++) f();
    times.push((performance.now() - t0) / calls);
  }
  return median(times);
}

/** The CPU through the wasm backend: the synchronous ops writing into reused buffers, against Float32Array.set. */
function measureWasm(ctx: ExperimentContext, shape: [number, number], reps: number): Device | null {
  if (!listBackends().includes("wasm")) return null;
  const [R, D] = shape;
  const rng = new Rng(deriveSeed(ctx.seed, ID));
  const mk = (n: number, std = 1) => rng.fillNormal(new Float32Array(n), std);
  const x = tensor(mk(R * D), [R, D]);
  const dy = tensor(mk(R * D), [R, D]);
  const w = tensor(mk(D, 0.1).map((v) => 1 + v), [D]);
  const b = tensor(mk(D, 0.1), [D]);
  const y = tensor(new Float32Array(R * D), [R, D]);
  const dx = tensor(new Float32Array(R * D), [R, D]);
  const dw = tensor(new Float32Array(D), [D]);
  const db = tensor(new Float32Array(D), [D]);
  const before = getBackend();
  try {
    setBackend("wasm");
    const copyMs = timeMs(() => y.data.set(x.data), reps, 20);
    const ms = { LayerNorm: { forward: 0, backward: 0 }, RMSNorm: { forward: 0, backward: 0 } };
    const ln = layerNormForward(x, D, { weight: w, bias: b, out: y });
    const mean: Tensor = ln.mean;
    const rstd: Tensor = ln.rstd;
    ms.LayerNorm.forward = timeMs(() => void layerNormForward(x, D, { weight: w, bias: b, out: y }), reps, 20);
    ms.LayerNorm.backward = timeMs(() => void layerNormBackward(dy, x, D, { weight: w, bias: b, mean, rstd, out: dx, into: { dweight: dw, dbias: db } }), reps, 20);
    const rs = rmsNormForward(x, D, { weight: w, out: y });
    ms.RMSNorm.forward = timeMs(() => void rmsNormForward(x, D, { weight: w, out: y }), reps, 20);
    ms.RMSNorm.backward = timeMs(() => void rmsNormBackward(dy, x, D, { weight: w, rstd: rs.rstd, out: dx, into: { dweight: dw } }), reps, 20);
    return device("this machine's CPU, wasm backend", "CPU (wasm)", shape, copyMs, ms);
  } finally {
    setBackend(before);
  }
}

export const memoryEfficiency: Experiment = {
  id: ID,
  title: "LayerNorm is not as efficient in (GPU) memory access as RMSNorm",
  async run(ctx: ExperimentContext): Promise<ClaimResult> {
    const cpuShape: [number, number] = ctx.full ? [8192, 1024] : [4096, 1024];
    const reps = ctx.full ? 15 : 7;
    ctx.progress.log(`timing LayerNorm, RMSNorm and a copy at [${cpuShape.join(", ")}] on the wasm backend`);
    const devices: Device[] = [];
    const wasm = measureWasm(ctx, cpuShape, reps);
    if (wasm) devices.push(wasm);
    let gpuNote: string;
    if (ctx.env?.gpuBandwidth) {
      ctx.progress.log("timing the WebGPU kernels against a copy kernel");
      let answer: { results: GpuBandwidthResult[]; note?: string };
      try {
        answer = await ctx.env.gpuBandwidth({ shape: ctx.full ? [16384, 1024] : [8192, 1024], softwareShape: [256, 1024], reps: ctx.full ? 9 : 5 });
      } catch (e) {
        answer = { results: [], note: `the WebGPU measurement failed: ${(e as Error).message}` };
      }
      for (const r of answer.results) {
        const ms = { LayerNorm: { forward: r.ms.layerNormForward, backward: r.ms.layerNormBackward }, RMSNorm: { forward: r.ms.rmsNormForward, backward: r.ms.rmsNormBackward } };
        devices.push(device(`WebGPU: ${r.adapter}${r.cpu ? " — a CPU renderer" : ""} (${r.timing})`, r.cpu ? "CPU (software WebGPU)" : "GPU", r.shape, r.copyMs, ms));
      }
      gpuNote = answer.results.length > 0 ? answer.note ?? "" : `no WebGPU adapter: ${answer.note ?? "none found"}`;
    } else {
      gpuNote = "this front end offers no WebGPU";
    }

    const lessEfficient = (d: Device, dir: Dir) => d.eff.LayerNorm[dir] < MARGIN * d.eff.RMSNorm[dir];
    const passes = (d: Device) => (["forward", "backward"] as const).filter((dir) => Number.isFinite(d.eff.LayerNorm[dir]) && Number.isFinite(d.eff.RMSNorm[dir]));
    const judge = (d: Device) => {
      const less = passes(d).map((dir) => lessEfficient(d, dir));
      return less.length > 0 && less.every(Boolean) ? "less efficient" : less.some(Boolean) ? "mixed" : "as efficient";
    };
    const gpus = devices.filter((d) => d.kind === "GPU");
    const verdict =
      gpus.length === 0 ? "inconclusive" : gpus.every((d) => judge(d) === "less efficient") ? "reproduced" : gpus.some((d) => judge(d) === "as efficient") ? "not reproduced" : "inconclusive";

    const rows = devices.flatMap((d) =>
      (["forward", "backward"] as const).flatMap((dir) =>
        (["LayerNorm", "RMSNorm"] as const).map((op): Record<string, string | number | null> => {
          const v = d.eff[op][dir];
          return Number.isFinite(v) ? { device: d.kind, pass: dir, op, share: Number((100 * v).toPrecision(3)) } : { device: d.kind, pass: dir, op, share: null, why: "not timed" };
        }),
      ),
    );
    const charts: ChartSpec[] = [
      {
        id: "memory-share-of-copy", title: "Achieved bandwidth as a share of a copy of the same bytes on the same device (higher: closer to the memory's limit)", kind: "bar",
        x: { field: "pass", title: "" }, y: { field: "share", title: "% of copy bandwidth" }, series: "op", facet: "device", marker: "why", data: rows,
        caption: "Bytes counted once: forward reads x and writes y, backward reads dy and x and writes dx (plus parameters and row statistics). The CPU's copy is Float32Array.set; WebGPU's is a compute shader copying the same bytes with vec4 loads and stores.",
      },
    ];
    const evidence: Record<string, number | string | boolean | null> = {};
    for (const d of devices) {
      evidence[`${d.name}: shape`] = `[${d.shape.join(", ")}]`;
      evidence[`${d.kind}: copy bandwidth`] = `${formatNumber(d.gbs.copy.forward)} GB/s`;
      for (const dir of ["forward", "backward"] as const) {
        evidence[`${d.kind}, ${dir}: LayerNorm · RMSNorm, share of copy bandwidth`] = passes(d).includes(dir) ? `${percent(d.eff.LayerNorm[dir])} · ${percent(d.eff.RMSNorm[dir])}` : "not timed (a software renderer runs the backward at a few MB/s)";
      }
      evidence[`${d.kind}: LayerNorm is`] = `${judge(d)} (rule: under ${percent(MARGIN)} of RMSNorm's share in every pass timed)`;
    }
    evidence["WebGPU"] = gpuNote || "measured";
    const say = (d: Device) => `${d.kind}: LayerNorm ${passes(d).map((p) => percent(d.eff.LayerNorm[p])).join("/")} vs RMSNorm ${passes(d).map((p) => percent(d.eff.RMSNorm[p])).join("/")} of copy (${passes(d).map((p) => (p === "forward" ? "fwd" : "bwd")).join("/")})`;
    return {
      id: ID,
      title: this.title,
      shortTitle: "LayerNorm is less memory-efficient than RMSNorm (on GPUs)",
      explanation:
        "LayerNorm needs the row's mean before its variance; RMSNorm needs only the mean square. A kernel that reads the row twice, or keeps it in slow memory between two reductions, moves more bytes than a copy would — the seed's worry about GPU memory access. " +
        "normkit's kernels read each row once and keep it (registers or workgroup memory on the GPU, cache on the CPU), so both should approach the copy limit. We measure the achieved bandwidth of both ops, forward and backward (from saved statistics), as a share of a copy of the same bytes on the same device. " +
        `Devices: the CPU through the wasm backend at [${cpuShape.join(", ")}], and WebGPU where this front end reaches an adapter (${gpuNote || "measured"}).`,
      verdict,
      rule:
        `On a device, LayerNorm counts as less efficient when its share of copy bandwidth is under ${percent(MARGIN)} of RMSNorm's in every pass timed (forward and backward; software renderers: forward only), and as efficient when in none. ` +
        "The claim is about GPUs: reproduced when LayerNorm is less efficient on every hardware GPU measured; not reproduced when it is as efficient on one; inconclusive when mixed, or when no hardware GPU was measured (CPU results, including software WebGPU, are shown and not scored).",
      evidence,
      charts,
      headline: "LayerNorm vs RMSNorm, % of copy bandwidth: " + devices.map((d) => `${d.kind} ${passes(d).map((p) => `${percent(d.eff.LayerNorm[p])} vs ${percent(d.eff.RMSNorm[p])} (${p === "forward" ? "fwd" : "bwd"})`).join(", ")}`).join("; ") + (gpus.length === 0 ? "; no hardware GPU" : ""),
      summary: devices.length ? devices.map(say).join("; ") + (gpus.length === 0 ? " — no hardware GPU here" : "") : "nothing measured",
    };
  },
};
