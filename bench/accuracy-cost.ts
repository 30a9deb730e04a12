/**
 * What the accurate sums cost (docs/accuracy.md): the wasm kernels of a base commit (default: the
 * last one before them) against this checkout's, compiled alike here and timed alternately in one
 * process, through the same row loops (src/backends/wasm/runtime.ts, index.ts) the ops and the
 * pool use. Rounds rotate the order; the ratio (this checkout ÷ base) is taken round by round and
 * its median and 25–75% range are printed, for wall time and for this process's CPU time (the
 * steadier one on a shared machine).
 *   npm run build && node build/bench/accuracy-cost.js [base commit] [rounds]
 */
import asc from "assemblyscript/asc";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WasmRuntime } from "../src/backends/wasm/runtime.js";
import { wasmKernelsOn } from "../src/backends/wasm/index.js";
import { KERNELS_WASM_BASE64 } from "../src/backends/wasm/kernels.generated.js";
import type { Kernels } from "../src/backends/types.js";
import { median, quantile } from "./lib.js";

const BASE = process.argv[2] ?? "4412ac8";
const ROUNDS = Number(process.argv[3] ?? 21);
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

console.log(`\nbase ${BASE} vs this checkout, Node ${process.version}; ratio = accurate ÷ base, median of per-round ratios [25–75%]\n`);
console.log("| case | base (median) | accurate (median) | ratio, wall | ratio, CPU |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
