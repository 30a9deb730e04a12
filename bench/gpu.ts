/**
 * npm run bench:gpu — normkit's WebGPU kernels on a real GPU (Node + Dawn), against the copy
 * bandwidth of the same device in the same run and, when a python3 with CUDA PyTorch is present,
 * against F.layer_norm / F.rms_norm and their autograd backward on the same GPU (CUDA events).
 *
 *   node build/bench/gpu.js [--quick] [--iters N] [--shapes 8192x4096,...] [--dawn TOGGLE]... [--no-torch] [--no-ext] [--quantized-timestamps]
 *   on the GPU machine: bash .gpu-kit/run.sh node build/bench/gpu.js
 *
 * Kernel time: timestamp queries around each compute pass (one pass per repetition, all in one
 * submit), median over the repetitions; without `timestamp-query`, wall time of many passes in one
 * submit. Dawn's timestamp quantization (65536 ns by default) is turned off and checked; where
 * stamps stay coarse, each timed pass holds a batch of dispatches (gpu-timing.ts). GB/s counts bytes read + written once (forward: x, y; backward: dy, x, dx; plus the
 * parameters and row statistics). The copy limit: copyBufferToBuffer (timed between two empty
 * timestamped passes) and a vec4 copy kernel, over a buffer of x's size. `--quick` shrinks the
 * shapes 64× for a smoke run (on SwiftShader those are CPU numbers, labelled so). The issue #12
 * cases (fused add + norm, bfloat16/float16 storage; bench/gpu-ext.ts) run at the same shapes
 * unless --no-ext, with PyTorch's half-precision and add-then-norm calls beside them.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createNodeGpu, type GpuBackend, type GpuStep, type GpuTensor, type KernelPlan } from "../src/webgpu-node.js";
import { copyPipeline, copyStep, encodeSteps, groupBackward, groupForward, rowBackward, rowForward, submitSteps } from "./gpu-steps.js";
import { BENCH_DAWN_OPTIONS, timeCopies, timePasses, timestampGridNs } from "./gpu-timing.js";
import { gpuMarkdown, type GpuResults } from "./gpu-report.js";
import { timeExtCases } from "./gpu-ext.js";

const args = process.argv.slice(2);
const flag = (f: string) => args.includes(f);
const opt = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag("--quick");
const ITERS = Number(opt("--iters") ?? (quick ? 3 : 30));
const WARMUP = quick ? 1 : 5;
const FULL: [number, number][] = [[8192, 4096], [32768, 1024], [16384, 768], [4096, 8192], [65535, 512]];
/** GroupNorm [N, C, S] in G groups: diffusion U-Net–like activations (S = H·W). */
const GN_FULL: [number, number, number, number][] = [[2, 320, 4096, 32], [8, 512, 1024, 32], [16, 256, 4096, 32]];
const GN_SHAPES: [number, number, number, number][] = flag("--no-groupnorm") ? [] : quick ? GN_FULL.map(([n, c, sp, g]) => [n, c, sp / 16, g]) : GN_FULL;
const SHAPES: [number, number][] = opt("--shapes")
  ? opt("--shapes")!.split(",").map((s) => s.split("x").map(Number) as [number, number])
  : quick ? FULL.map(([r, d]) => [Math.ceil(r / 256), d]) : FULL;
// nanosecond timestamps unless --quantized-timestamps (see gpu-timing.ts), then the user's --dawn options
const dawnOptions = [...(flag("--quantized-timestamps") ? [] : BENCH_DAWN_OPTIONS), ...args.flatMap((a, i) => (args[i - 1] === "--dawn" ? [a] : []))];

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Copy {
  shape: [number, number];
  bytes: number;
  copyBufferGBs: number | null;
  copyBufferColdGBs: number | null;
  /** the copy timed by wall clock, one submit per copy: what a benchmark without timestamps sees */
  copyBufferWallGBs: number | null;
  copyKernelGBs: number | null;
}

/** One GroupNorm timing: [N, C, S, G], direction, time, GB/s, and the copy limit of x's size. */
interface GnRow {
  shape: [number, number, number, number];
  dir: "forward" | "backward";
  ms: number;
  gbs: number | null;
  copyGBs: number | null;
}

interface Row {
  shape: [number, number];
  op: "layerNorm" | "rmsNorm";
  dir: "forward" | "backward";
  variant: string;
  isDefault: boolean;
  plan: KernelPlan;
  ms: number;
  gbs: number | null;
}

/** Kernel variants compared per shape: the default plus the alternatives of plan.ts's table. */
function variants(gpu: GpuBackend, D: number, backward: boolean): [string, Partial<KernelPlan> | undefined][] {
  const list: [string, Partial<KernelPlan> | undefined][] = [["default", undefined], ["naive (256/row, 3 reads, wg-mem)", { T: 256, store: "loop", sg: 0 }]];
  const def = gpu.plan(D, backward);
  if (def.T !== 256) list.push(["wg-row", { T: 256 }]);
  if (def.sg) list.push(["default, wg-mem reduction", { sg: 0 }]);
  if (backward && def.store === "regs") list.push(["reread", { store: "reread" }]);
  if (backward && def.wgsum) list.push(["per-team partials (no wgsum)", { wgsum: false }]);
  return list.filter(([, p]) => {
    try {
      gpu.plan(D, backward, p);
      return true;
    } catch {
      return false;
    }
  });
}

/** The inputs of one shape on one device: x, dy, γ, β (deterministic values). */
function uploadInputs(gpu: GpuBackend, R: number, D: number) {
  const n = R * D;
  const rnd = new Float32Array(n);
  for (let i = 0; i < n; i++) rnd[i] = Math.sin(i * 0.7 + 0.3) * 2;
  const x = gpu.upload({ shape: [R, D], data: rnd });
  const dy = gpu.upload({ shape: [R, D], data: rnd.map((v, i) => Math.cos(i * 1.3)) });
  const w = gpu.upload({ shape: [D], data: new Float32Array(D).map((_, j) => 1 + 0.01 * Math.sin(j)) });
  const b = gpu.upload({ shape: [D], data: new Float32Array(D).map((_, j) => 0.01 * Math.cos(j)) });
  return { x, dy, w, b, all: [x, dy, w, b] };
}

/** Median per-call time of one kernel variant (forward, or backward from saved statistics), with its GB/s. */
async function timeKernel(
  gpu: GpuBackend, inp: ReturnType<typeof uploadInputs>, R: number, D: number, rms: boolean, backward: boolean,
  plan: Partial<KernelPlan> | undefined, perPass: number,
): Promise<{ ms: number; gbs: number | null }> {
  const { x, dy, w, b } = inp;
  let steps: GpuStep[];
  const outs: GpuTensor[] = [];
  if (!backward) {
    const f = rowForward(gpu, rms, x, D, { weight: w, bias: rms ? null : b, plan });
    steps = f.steps;
    outs.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []));
  } else {
    const f = rowForward(gpu, rms, x, D, { weight: w, bias: rms ? null : b });
    submitSteps(gpu, f.steps);
    outs.push(f.out.y, f.out.rstd, ...(f.out.mean ? [f.out.mean] : []));
    const bw = rowBackward(gpu, rms, dy, x, D, { weight: w, bias: rms ? null : b, plan, mean: f.out.mean ?? undefined, rstd: f.out.rstd });
    steps = bw.steps;
    outs.push(bw.grads.dx, ...(bw.grads.dweight ? [bw.grads.dweight] : []), ...(bw.grads.dbias ? [bw.grads.dbias] : []), ...bw.temps);
  }
  await timePasses(gpu, encodeSteps(steps), WARMUP);
  const ms = median(await timePasses(gpu, encodeSteps(steps), ITERS, perPass));
  for (const t of outs) t.destroy();
  const bytes = R * D * 4;
  const params = (rms ? 1 : 2) * D * 4;
  const statsB = (rms ? 1 : 2) * R * 4;
  const moved = backward ? 3 * bytes + statsB + params + params : 2 * bytes + statsB + params;
  return { ms, gbs: gb(moved, ms) };
}

/** GB/s of `bytes` in `ms`; null when the timer cannot resolve it (a software renderer's stamps can be equal). */
const gb = (bytes: number, ms: number) => (ms > 0 ? bytes / ms / 1e6 : null);

/** Timestamp grid of a device, and the dispatches per timed pass it needs (32 where stamps are coarse). */
async function timing(gpu: GpuBackend) {
  const gridNs = await timestampGridNs(gpu);
  return { gridNs, perPass: gridNs !== null && gridNs >= 1000 ? 32 : 1 };
}

async function main() {
  const gpu = await createNodeGpu({ dawnOptions });
  const info = gpu.adapterInfo;
  const software = /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description} ${info.device}`);
  const deviceName = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.replace(/\s+/g, " ").trim();
  console.log(`device: ${deviceName}${software ? "  [software renderer: these are CPU numbers, not GPU results]" : ""}`);
  const { gridNs, perPass } = await timing(gpu);
  console.log(`timestamps: ${gpu.hasTimestamps} (grid ${gridNs ?? "-"} ns${perPass > 1 ? `: COARSE, timing ${perPass} dispatches per pass` : ""}), subgroup size used: ${gpu.subgroupSize || "none (workgroup memory)"}, max buffer ${gpu.maxBytes} B, dawn options ${JSON.stringify(dawnOptions)}`);
  const rows: Row[] = [];
  const copies: Copy[] = [];
  const copyPipe = copyPipeline(gpu.device);

  const t0 = performance.now();
  const progress = (what: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}`);
  for (const [R, D] of SHAPES) {
    progress(`[${R}, ${D}]: copies, then ${2 * 2} op × direction pairs over their variants`);
    const n = R * D;
    const bytes = n * 4;
    const inp = uploadInputs(gpu, R, D);
    const { x } = inp;

    // the copy limit on buffers of x's size: cold (first use of a fresh buffer) and warm
    const dst = gpu.upload({ shape: [R, D], data: new Float32Array(n) });
    const fresh = gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    const cold = await timeCopies(gpu, x.buffer, fresh, bytes, 1);
    fresh.destroy();
    await timeCopies(gpu, x.buffer, dst.buffer, bytes, WARMUP);
    const cb = median(await timeCopies(gpu, x.buffer, dst.buffer, bytes, ITERS, perPass));
    // the same copy timed by wall clock, one submit each (submit → onSubmittedWorkDone), as a
    // benchmark without timestamps would: the difference is the fixed cost of a round trip
    const wall: number[] = [];
    for (let i = 0; i < Math.max(3, Math.min(ITERS, 10)); i++) {
      const enc = gpu.device.createCommandEncoder();
      enc.copyBufferToBuffer(x.buffer, 0, dst.buffer, 0, bytes);
      const t0 = performance.now();
      gpu.device.queue.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
      wall.push(performance.now() - t0);
    }
    const copy = copyStep(gpu.device, copyPipe, x.buffer, dst.buffer, bytes);
    await timePasses(gpu, encodeSteps([copy]), WARMUP);
    const ck = median(await timePasses(gpu, encodeSteps([copy]), ITERS, perPass));
    dst.destroy();
    copies.push({
      shape: [R, D], bytes, copyBufferGBs: gb(2 * bytes, cb), copyBufferColdGBs: gb(2 * bytes, cold[0]!),
      copyBufferWallGBs: gb(2 * bytes, median(wall)), copyKernelGBs: gb(2 * bytes, ck),
    });

    for (const rms of [false, true]) {
      for (const backward of [false, true]) {
        for (const [name, plan] of variants(gpu, D, backward)) {
          const t = await timeKernel(gpu, inp, R, D, rms, backward, plan, perPass);
          rows.push({ shape: [R, D], op: rms ? "rmsNorm" : "layerNorm", dir: backward ? "backward" : "forward", variant: name, isDefault: plan === undefined, plan: gpu.plan(D, backward, plan), ...t });
        }
      }
    }
    for (const t of inp.all) t.destroy();
    if (gpu.errors.length) throw new Error(`GPU errors: ${gpu.errors.join("; ")}`);
  }

  // the default kernels again on a device without Dawn's robustness transform (index clamping):
  // what bounds checks cost (the toggle is silently ignored where unknown; compare, do not assume)
  if (!flag("--no-robustness-run")) {
    progress("default kernels again on a device with Dawn's robustness transform off");
    const nr = await createNodeGpu({ dawnOptions: [...dawnOptions, "enable-dawn-features=allow_unsafe_apis,disable_robustness"] });
    const t = await timing(nr);
    for (const [R, D] of SHAPES) {
      const inp = uploadInputs(nr, R, D);
      for (const rms of [false, true]) {
        for (const backward of [false, true]) {
          const k = await timeKernel(nr, inp, R, D, rms, backward, undefined, t.perPass);
          rows.push({ shape: [R, D], op: rms ? "rmsNorm" : "layerNorm", dir: backward ? "backward" : "forward", variant: "default, Dawn robustness off", isDefault: false, plan: nr.plan(D, backward), ...k });
        }
      }
      for (const x of inp.all) x.destroy();
    }
    nr.destroy();
  }

  // GroupNorm: forward, and backward from the saved statistics; copy limit of x's size
  const gnRows: GnRow[] = [];
  for (const [N, C, S, G] of GN_SHAPES) {
    progress(`groupNorm [${N}, ${C}, ${S}] G=${G}`);
    const x = gpu.upload({ shape: [N, C, S], data: new Float32Array(N * C * S).map((_, i) => Math.sin(i * 0.7 + 0.3) * 2) });
    const dy = gpu.upload({ shape: [N, C, S], data: new Float32Array(N * C * S).map((_, i) => Math.cos(i * 1.3)) });
    const w = gpu.upload({ shape: [C], data: new Float32Array(C).map((_, j) => 1 + 0.01 * Math.sin(j)) });
    const b = gpu.upload({ shape: [C], data: new Float32Array(C).map((_, j) => 0.01 * Math.cos(j)) });
    const bytes = N * C * S * 4;
    const dst = gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    await timeCopies(gpu, x.buffer, dst, bytes, WARMUP);
    const copyGBs = gb(2 * bytes, median(await timeCopies(gpu, x.buffer, dst, bytes, ITERS, perPass)));
    dst.destroy();
    const f = groupForward(gpu, x, G, { weight: w, bias: b });
    await timePasses(gpu, encodeSteps(f.steps), WARMUP);
    const fms = median(await timePasses(gpu, encodeSteps(f.steps), ITERS, perPass));
    submitSteps(gpu, f.steps);
    const bw = groupBackward(gpu, dy, x, G, { weight: w, bias: b, mean: f.out.mean!, rstd: f.out.rstd });
    await timePasses(gpu, encodeSteps(bw.steps), WARMUP);
    const bms = median(await timePasses(gpu, encodeSteps(bw.steps), ITERS, perPass));
    const stats = 2 * N * G * 4;
    gnRows.push({ shape: [N, C, S, G], dir: "forward", ms: fms, gbs: gb(2 * bytes + stats + 2 * C * 4, fms), copyGBs });
    gnRows.push({ shape: [N, C, S, G], dir: "backward", ms: bms, gbs: gb(3 * bytes + stats + 3 * C * 4, bms), copyGBs });
    for (const t of [x, dy, w, b, f.out.y, f.out.mean!, f.out.rstd, bw.grads.dx, bw.grads.dweight!, bw.grads.dbias!, ...bw.temps]) t.destroy();
    if (gpu.errors.length) throw new Error(`GPU errors: ${gpu.errors.join("; ")}`);
  }

  // issue #12: the fused add + norm and half storage, on the #12 kernels (float32 too, as their baseline)
  const ext = flag("--no-ext") ? [] : await timeExtCases(gpu, SHAPES, { iters: ITERS, warmup: WARMUP, perPass, progress });

  if (!flag("--no-torch")) progress("PyTorch on the same shapes (bench/torch_gpu.py)");
  const torch = flag("--no-torch") ? null : runTorch();
  const result = {
    when: new Date().toISOString(),
    device: deviceName,
    software,
    note: software ? "software renderer (SwiftShader): CPU numbers, not GPU results" : "GPU",
    quick,
    iters: ITERS,
    timestamps: gpu.hasTimestamps,
    /** the grid (ns) timestamps fell on, and dispatches (or copies) per timed pass */
    timestampGridNs: gridNs,
    perPass,
    subgroupSize: gpu.subgroupSize,
    dawnOptions,
    node: process.version,
    copies,
    kernels: rows,
    groupNorm: gnRows,
    ext,
    torch,
  };
  const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}gpu-${result.when.slice(0, 10)}-${software ? "swiftshader" : (info.architecture || info.vendor || "gpu").replace(/\W+/g, "_")}${quick ? "-quick" : ""}${opt("--shapes") ? "-shapes" : ""}.json`;
  const md = gpuMarkdown(result as GpuResults);
  writeFileSync(file, JSON.stringify(result, null, 1));
  writeFileSync(file.replace(/\.json$/, ".md"), md);
  // on the device machine, files under $OUT come back
  if (process.env.OUT) {
    writeFileSync(`${process.env.OUT}/${file.split("/").pop()}`, JSON.stringify(result, null, 1));
    writeFileSync(`${process.env.OUT}/${file.split("/").pop()!.replace(/\.json$/, ".md")}`, md);
  }
  printTable(result);
  console.log(`\n${md}\nwritten: ${file} and .md`);
  gpu.destroy();
}

type TorchRow = { shape: [number, number]; op: string; dir: string; ms: number; gbs: number };

/** The PyTorch CUDA side (bench/torch_gpu.py), or null with the reason printed. */
function runTorch(): { device: string; torch: string; rows: TorchRow[]; groupNorm?: { shape: number[]; dir: string; ms: number; gbs: number }[]; ext?: unknown[] } | { skipped: string } {
  const py = process.env.PYTHON ?? "python3";
  const script = fileURLToPath(new URL("../../bench/torch_gpu.py", import.meta.url));
  const r = spawnSync(py, [script, JSON.stringify({ shapes: SHAPES, gn_shapes: GN_SHAPES, ext: !flag("--no-ext"), iters: ITERS, warmup: WARMUP })], { encoding: "utf8", timeout: 600_000 });
  const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) {
    const why = r.error ? String(r.error) : (r.stderr || last || `exit ${r.status}`).trim().split("\n").pop();
    console.log(`PyTorch CUDA: skipped (${why})`);
    return { skipped: why ?? "unknown" };
  }
  return JSON.parse(last);
}

function printTable(r: { device: string; note: string; copies: Copy[]; kernels: Row[]; torch: ReturnType<typeof runTorch> | null }) {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const num = (v: number | null | undefined) => (v == null ? "-" : v >= 100 ? v.toFixed(0) : v.toPrecision(3));
  console.log(`\n${r.device} — ${r.note}`);
  console.log(`${"shape".padEnd(12)} ${"op".padEnd(10)} ${"dir".padEnd(8)} ${"variant".padEnd(34)} ${pad("ms", 9)} ${pad("GB/s", 8)} ${pad("%copy", 6)} ${pad("torch ms", 9)} ${pad("torch÷nk", 9)}`);
  const trows = r.torch && "rows" in r.torch ? r.torch.rows : [];
  for (const k of r.kernels) {
    const c = r.copies.find((c) => c.shape[0] === k.shape[0] && c.shape[1] === k.shape[1])!;
    const limit = Math.max(c.copyBufferGBs ?? 0, c.copyKernelGBs ?? 0);
    const t = trows.find((t) => t.shape[0] === k.shape[0] && t.shape[1] === k.shape[1] && t.op === k.op && t.dir === k.dir);
    console.log(
      `${`${k.shape[0]}x${k.shape[1]}`.padEnd(12)} ${k.op.padEnd(10)} ${k.dir.padEnd(8)} ${k.variant.padEnd(34)} ${pad(k.ms.toFixed(4), 9)} ${pad(num(k.gbs), 8)} ${pad(k.gbs != null && limit > 0 ? ((100 * k.gbs) / limit).toFixed(0) : "-", 6)} ${pad(t ? t.ms.toFixed(4) : "-", 9)} ${pad(t ? (t.ms / k.ms).toFixed(2) : "-", 9)}`,
    );
  }
  console.log("\ncopy limit per shape (GB/s, read + write): copyBufferToBuffer warm / cold (first use of a fresh buffer) / wall clock (one submit per copy) / copy kernel");
  for (const c of r.copies) console.log(`  ${c.shape.join("x").padEnd(12)} ${num(c.copyBufferGBs)} / ${num(c.copyBufferColdGBs)} / ${num(c.copyBufferWallGBs)} / ${num(c.copyKernelGBs)}`);
}

await main();
