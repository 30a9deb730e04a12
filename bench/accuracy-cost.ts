/**
 * What the accurate sums cost (docs/accuracy.md): the wasm kernels of a base commit (default: the
 * last one before them) against this checkout's, compiled alike here and timed alternately in one
 * process, through the same row loops (src/backends/wasm/runtime.ts, index.ts) the ops and the
 * pool use. Rounds rotate the order; the ratio (this checkout ÷ base) is taken round by round and
 * its median and 25–75% range are printed, for wall time and for this process's CPU time (the
 * steadier one on a shared machine).
 *   npm run build && node build/bench/accuracy-cost.js [base commit] [rounds] [--gpu-base=DIR]
 * --gpu-base=DIR also times the WGSL kernels (Node + Dawn) of a built checkout of the base commit
 * (DIR = its build/; `git worktree add`, npm ci, npm run build there) against this one's, wall
 * time per call until its output is read back; without a GPU, Dawn runs on SwiftShader and these
 * are CPU-emulation numbers, which say nothing of a GPU's.
 */
import asc from "assemblyscript/asc";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WasmRuntime } from "../src/backends/wasm/runtime.js";
import { wasmKernelsOn } from "../src/backends/wasm/index.js";
import { KERNELS_WASM_BASE64 } from "../src/backends/wasm/kernels.generated.js";
import type { Kernels } from "../src/backends/types.js";
import { backendKernels } from "../src/backends/registry.js";
import { expectedOf, inputsOf, maxError, runKernels, type AccuracyCase, type AccuracyFixture, type Output } from "../test/accuracy.js";
import { runCase } from "../test/webgpu/wide.js";
import { median, quantile } from "./lib.js";

const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const BASE = positional[0] ?? "4412ac8";
const ROUNDS = Number(positional[1] ?? 21);
const GPU_BASE = process.argv.find((a) => a.startsWith("--gpu-base="))?.slice("--gpu-base=".length);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SRC = "src/backends/wasm/assembly/kernels.ts";

/** Compiles AssemblyScript source with scripts/build-wasm.mjs's flags. */
async function compile(source: string): Promise<Uint8Array<ArrayBuffer>> {
  const dir = mkdtempSync(join(tmpdir(), "normkit-kernels-"));
  try {
    writeFileSync(join(dir, "kernels.ts"), source);
    const { error, stderr } = await asc.main([
      join(dir, "kernels.ts"), "-O3", "--enable", "simd", "--runtime", "stub", "--noAssert", "-o", join(dir, "k.wasm"),
    ]);
    if (error) throw new Error(`${stderr.toString()}\n${error.message}`);
    return new Uint8Array(readFileSync(join(dir, "k.wasm")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseSource = execFileSync("git", ["show", `${BASE}:${SRC}`], { cwd: ROOT, encoding: "utf8" });
const headBytes = await compile(readFileSync(join(ROOT, SRC), "utf8"));
// the shipped module must be what this compiles (same flags), or the comparison is not of it
if (Buffer.from(headBytes).toString("base64") !== KERNELS_WASM_BASE64) {
  throw new Error("this checkout's kernels compile to other bytes than kernels.generated.ts: run npm run build");
}
const kernels: Record<string, Kernels> = {
  base: wasmKernelsOn(new WasmRuntime(new WebAssembly.Module(await compile(baseSource)))),
  accurate: wasmKernelsOn(new WasmRuntime(new WebAssembly.Module(headBytes))),
};

function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() + Math.random() + Math.random() - 1.5) * 2;
  return a;
}

/** Rounds of base and accurate (order alternating); per-round ratios accurate ÷ base. */
function race(run: (k: Kernels) => void, reps: number) {
  const wall: Record<string, number[]> = { base: [], accurate: [] };
  const cpu: Record<string, number[]> = { base: [], accurate: [] };
  for (const k of Object.values(kernels)) run(k); // warm-up
  for (let r = 0; r < reps; r++) {
    for (const name of r % 2 ? ["accurate", "base"] : ["base", "accurate"]) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      run(kernels[name]!);
      wall[name]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[name]!.push((c.user + c.system) / 1000);
    }
  }
  const ratio = (t: Record<string, number[]>) => {
    const q = t.accurate!.map((v, i) => v / t.base![i]!);
    return [quantile(q, 0.25), median(q), quantile(q, 0.75)];
  };
  return { base: median(wall.base!), accurate: median(wall.accurate!), wall: ratio(wall), cpu: ratio(cpu) };
}

const rows: string[][] = [];
const gpuRows: string[][] = [];
function add(name: string, run: (k: Kernels) => void, elements: number): void {
  // about 2·10^8 elements per contender and case (few rounds for big cases, more for small)
  const reps = Math.max(ROUNDS, Math.min(2001, Math.round(2e8 / elements / 2) * 2 + 1));
  const s = race(run, Math.min(reps, ROUNDS * 40));
  const f = ([lo, mid, hi]: number[]) => `${mid!.toFixed(2)}× [${lo!.toFixed(2)}–${hi!.toFixed(2)}]`;
  rows.push([name, `${s.base.toFixed(3)} ms`, `${s.accurate.toFixed(3)} ms`, f(s.wall), f(s.cpu)]);
  console.log(rows[rows.length - 1]!.join("  "));
}

for (const [R, D] of [[4096, 768], [1024, 4096], [64, 768], [4, 262144]] as const) {
  const n = R * D;
  const x = randn(n), dy = randn(n), w = randn(D), b = randn(D);
  const y = new Float32Array(n), dx = new Float32Array(n), mean = new Float32Array(R), rstd = new Float32Array(R);
  const dw = new Float32Array(D), db = new Float32Array(D);
  add(`layerNorm forward [${R}, ${D}]`, (k) => k.layerNormForward(y, mean, rstd, x, w, b, R, D, 1e-5), n);
  kernels.base!.layerNormForward(y, mean, rstd, x, w, b, R, D, 1e-5);
  add(`layerNorm backward [${R}, ${D}]`, (k) => k.layerNormBackward(dx, dw, db, dy, x, mean, rstd, w, R, D), n);
  add(`rmsNorm forward [${R}, ${D}]`, (k) => k.rmsNormForward(y, rstd, x, w, null, R, D, 1e-5), n);
  kernels.base!.rmsNormForward(y, rstd, x, w, null, R, D, 1e-5);
  add(`rmsNorm backward [${R}, ${D}]`, (k) => k.rmsNormBackward(dx, dw, null, dy, x, rstd, w, R, D), n);
}
{
  const [N, C, S, G] = [8, 256, 1024, 32];
  const n = N * C * S;
  const x = randn(n), dy = randn(n), w = randn(C), b = randn(C);
  const y = new Float32Array(n), dx = new Float32Array(n), mean = new Float32Array(N * G), rstd = new Float32Array(N * G);
  const dw = new Float32Array(C), db = new Float32Array(C);
  add(`groupNorm forward [${N}, ${C}, ${S}] G=${G}`, (k) => k.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5), n);
  add(`groupNorm backward [${N}, ${C}, ${S}] G=${G}`, (k) => k.groupNormBackward(dx, dw, db, dy, x, mean, rstd, w, N, C, S, G), n);
}

// ---- accuracy: the largest error of each output on the issue's cases, beside PyTorch float32's
const fixture = JSON.parse(readFileSync(join(ROOT, "test/fixtures/accuracy.json"), "utf8")) as AccuracyFixture;
const ERROR_CASES = [
  "ln relu [4, 262144] (issue)", "rms constant 0.1 [1, 1000000] (issue)", "gn relu [2, 320, 4096] G=32 (issue)",
  "ln offset [1, 1048576]", "ln heavy [1, 1048576]", "ln massive [1, 1048576]", "rms massive [1, 1048576]", "ln relu [65536, 16] many rows",
];
const errorRows: string[][] = [];
/** Rows of errors per output: PyTorch float32 (the fixture), then each runner's. */
async function errors(runners: Record<string, (c: AccuracyCase, p: ReturnType<typeof inputsOf>) => Promise<Partial<Record<Output, ArrayLike<number>>>>>) {
  const out: string[][] = [];
  for (const name of ERROR_CASES) {
    const c = fixture.cases.find((k) => k.name === name)!;
    const p = inputsOf(c);
    const want = expectedOf(c, p);
    const got: Record<string, Partial<Record<Output, ArrayLike<number>>>> = {};
    for (const [r, run] of Object.entries(runners)) got[r] = await run(c, p);
    for (const k of Object.keys(c.torchError) as Output[]) {
      out.push([name, k, c.torchError[k]!.toExponential(1), ...Object.keys(runners).map((r) => (got[r]![k] ? maxError(got[r]![k]!, want[k]!).toExponential(1) : "—"))]);
    }
  }
  return out;
}
errorRows.push(...await errors({
  js: async (c, p) => runKernels(backendKernels("js"), c, p),
  "wasm base": async (c, p) => runKernels(kernels.base!, c, p),
  "wasm accurate": async (c, p) => runKernels(kernels.accurate!, c, p),
}));

const gpuErrorRows: string[][] = [];
if (GPU_BASE !== undefined) await gpuCost(GPU_BASE);

/** The WebGPU kernels of the base build and of this checkout, alternately, on one Dawn adapter each. */
async function gpuCost(dir: string): Promise<void> {
  type Nk = typeof import("../src/webgpu-node.js");
  const load = (path: string) => import(path) as Promise<Nk>;
  const mods: Record<string, Nk> = { base: await load(join(resolve(dir), "src/webgpu-node.js")), accurate: await load("../src/webgpu-node.js") };
  const gpus = { base: await mods.base!.createNodeGpu(), accurate: await mods.accurate!.createNodeGpu() };
  console.log(`\nWebGPU: ${JSON.stringify(gpus.accurate.adapterInfo)}`);
  // wide rows only: SwiftShader spends seconds per call at [4096, 768] on workgroup barriers
  for (const [R, D] of [[8, 65536], [2, 262144]] as const) {
    const data = { x: randn(R * D), w: randn(D), b: randn(D) };
    const ops: Record<string, Record<string, () => Promise<unknown>>> = {};
    for (const [name, gpu] of Object.entries(gpus)) {
      const x = gpu.upload({ shape: [R, D], data: data.x }), weight = gpu.upload({ shape: [D], data: data.w }), bias = gpu.upload({ shape: [D], data: data.b });
      const run = async (f: () => { destroy(): void }[], read: number) => {
        const out = f();
        await (out[read] as unknown as { read(): Promise<unknown> }).read();
        for (const t of out) t.destroy();
      };
      ops[name] = {
        "layerNorm forward": () => run(() => { const f = gpu.layerNormForward(x, D, { weight, bias }); return [f.y, f.mean, f.rstd]; }, 0),
        "layerNorm backward": () => run(() => { const g = gpu.layerNormBackward(x, x, D, { weight, bias }); return [g.dx, g.dweight!, g.dbias!]; }, 1),
        "rmsNorm forward": () => run(() => { const f = gpu.rmsNormForward(x, D, { weight }); return [f.y, f.rstd]; }, 0),
        "rmsNorm backward": () => run(() => { const g = gpu.rmsNormBackward(x, x, D, { weight }); return [g.dx, g.dweight!]; }, 1),
      };
    }
    for (const op of Object.keys(ops.base!)) {
      const t: Record<string, number[]> = { base: [], accurate: [] };
      for (const name of ["base", "accurate"]) await ops[name]![op]!(); // compile, warm up
      for (let r = 0; r < 5; r++) {
        for (const name of r % 2 ? ["accurate", "base"] : ["base", "accurate"]) {
          const t0 = performance.now();
          await ops[name]![op]!();
          t[name]!.push(performance.now() - t0);
        }
      }
      const q = t.accurate!.map((v, i) => v / t.base![i]!);
      const f = (v: number) => v.toFixed(2);
      gpuRows.push([`${op} [${R}, ${D}]`, `${f(median(t.base!))} ms`, `${f(median(t.accurate!))} ms`, `${f(median(q))}× [${f(quantile(q, 0.25))}–${f(quantile(q, 0.75))}]`]);
      console.log(gpuRows[gpuRows.length - 1]!.join("  "));
    }
  }
  gpuErrorRows.push(...await errors({
    "WebGPU base": (c, p) => runCase(gpus.base, c, p),
    "WebGPU accurate": (c, p) => runCase(gpus.accurate, c, p),
  }));
  for (const g of Object.values(gpus)) g.destroy();
}

console.log(`\nbase ${BASE} vs this checkout, Node ${process.version}; ratio = accurate ÷ base, median of per-round ratios [25–75%]\n`);
console.log("| case | base (median) | accurate (median) | ratio, wall | ratio, CPU |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
console.log("\n| case | output | PyTorch float32 | js | wasm base | wasm accurate |");
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const r of errorRows) console.log(`| ${r.join(" | ")} |`);
if (gpuErrorRows.length) {
  console.log("\n| case | output | PyTorch float32 | WebGPU base | WebGPU accurate |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const r of gpuErrorRows) console.log(`| ${r.join(" | ")} |`);
}
if (gpuRows.length) {
  console.log("\n| WebGPU case (wall time per call, read back) | base (median) | accurate (median) | ratio |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const r of gpuRows) console.log(`| ${r.join(" | ")} |`);
}
