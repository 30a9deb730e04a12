/**
 * Where the time of issue #12's RMSNorm forward calls goes on the wasm backend, against the float32
 * rmsNorm (#12's targets: fused add ≤ 1.15× RMSNorm alone, bfloat16 ≤ 0.7× float32 at [4096, 4096];
 * docs/benchmark.md). Not a test and not the benchmark: the public calls with `out=`/`residualOut=`
 * (as the bench's fastest 1-thread variant), then the stages of their chunk loop on a raw kernels
 * instance, each over the same
 * rows × D values chunk by chunk as the job loop (src/backends/wasm/jobs-rows.ts) streams them:
 * - the copies into and out of linear memory (float32: 4 bytes a value each way; half: 2);
 * - the half ⇄ float32 conversions in wasm (widen after the copy in, narrow before the copy out);
 * - the forward kernel on one chunk already in memory (its arithmetic on cached data), and the
 *   fused add's h = x + residual kernel likewise.
 * Contenders take turns in rotating order (bench/race.ts); medians of REPS rounds, wall and CPU time.
 *   npm run build && node build/bench/cost12.js [rows] [D] [reps]
 */
import { addRmsNorm, rmsNorm } from "../src/index.js";
import { chunkRows, kernelsModule, type KernelExports } from "../src/backends/wasm/runtime.js";
import { f32ToBf16BitsArray, f32ToF16BitsArray } from "../src/dtype.js";
import { median } from "./lib.js";
import { race } from "./race.js";

const [ROWS, D, REPS] = [4096, 4096, 15].map((d, i) => Number(process.argv[2 + i] ?? d)) as [number, number, number];
const n = ROWS * D;
const x = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const r = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const w = Float32Array.from({ length: D }, () => 1 + (Math.random() - 0.5) / 4);
const half = (dtype: "bfloat16" | "float16", a: Float32Array) =>
  ({ shape: a.length === D ? [D] : [ROWS, D], data: dtype === "bfloat16" ? f32ToBf16BitsArray(a) : f32ToF16BitsArray(a), dtype });

// the public calls, output reused (the bench's normkit-fn-wasm-out variant)
const y32 = new Float32Array(n);
const calls = {
  "float32 rmsNorm(x, D, { weight, out })": () => void rmsNorm({ shape: [ROWS, D], data: x }, D, { weight: { shape: [D], data: w }, out: { shape: [ROWS, D], data: y32 } }),
  ...Object.fromEntries((["bfloat16", "float16"] as const).map((dt) => {
    const xh = half(dt, x), wh = half(dt, w), yh = { ...xh, data: new Uint16Array(n) };
    return [`${dt} rmsNorm(x, D, { weight, out })`, () => void rmsNorm(xh, D, { weight: wh, out: yh })];
  })),
  ...Object.fromEntries((["float32", "bfloat16"] as const).map((dt) => {
    const t = (a: Float32Array) => (dt === "float32" ? { shape: a.length === D ? [D] : [ROWS, D], data: a } : half(dt, a));
    const xt = t(x), rt = t(r), wt = t(w), yt = t(new Float32Array(n)), ht = t(new Float32Array(n));
    return [`${dt} addRmsNorm(x, r, D, { weight, out, residualOut })`, () => void addRmsNorm(xt, rt, D, { weight: wt, out: yt, residualOut: ht })];
  })),
};

// the stages on a raw instance: X (float32 chunk), Y (float32 chunk), U (u16 scratch of a chunk)
const ex = new WebAssembly.Instance(kernelsModule()!, {}).exports as unknown as KernelExports;
const cr = chunkRows(D, ex.FLUSH.value as number);
const cn = cr * D;
let p = ex.heapBase();
const at = (bytes: number) => ((p += (bytes + 15) & ~15), p - ((bytes + 15) & ~15));
const [W, X, Y, RS, U] = [4 * D, 4 * cn, 4 * cn, 4 * cr, 2 * cn].map(at) as [number, number, number, number, number];
ex.memory.grow(Math.ceil(p / 65536) + 1);
const f = new Float32Array(ex.memory.buffer);
const u = new Uint16Array(ex.memory.buffer);
f.set(w, W >> 2);
f.set(x.subarray(0, cn), X >> 2);
const xb = f32ToBf16BitsArray(x), yb = new Uint16Array(n);
/** `step(k)` for each chunk of k rows, over all ROWS rows */
const chunks = (step: (r: number, k: number) => void) => () => {
  for (let r = 0; r < ROWS; r += cr) step(r, Math.min(cr, ROWS - r));
};
const stages = {
  "float32 copies in + out (Float32Array.set)": chunks((r, k) => {
    f.set(x.subarray(r * D, (r + k) * D), X >> 2);
    y32.set(f.subarray(Y >> 2, (Y >> 2) + k * D), r * D);
  }),
  "half copies in + out (Uint16Array.set)": chunks((r, k) => {
    u.set(xb.subarray(r * D, (r + k) * D), U >> 1);
    yb.set(u.subarray(U >> 1, (U >> 1) + k * D), r * D);
  }),
  "bfloat16 widen + narrow (wasm)": chunks((_, k) => {
    ex.widenBf16(X, U, k * D);
    ex.narrowBf16(U, Y, k * D);
  }),
  "float16 widen + narrow (wasm)": chunks((_, k) => {
    ex.widenF16(X, U, k * D);
    ex.narrowF16(U, Y, k * D);
  }),
  "RMSNorm forward kernel (a chunk in memory)": chunks((_, k) => ex.forward(Y, 0, RS, X, W, 0, k, D, 1e-6)),
  "fused add kernel h = x + residual (a chunk in memory)": chunks((_, k) => ex.addRows(Y, X, Y, 0, k, D)),
};

const all: Record<string, () => void> = { ...calls, ...stages };
const t = race(all, REPS);
const f32Call = "float32 rmsNorm(x, D, { weight, out })";
const [w0, c0] = [median(t[f32Call]!.wall), median(t[f32Call]!.cpu)];
console.log(`[${ROWS}, ${D}], ${REPS} rounds, chunks of ${cr} rows; medians (× the float32 call's)`);
console.log("   wall ms            CPU ms");
for (const k of Object.keys(all)) {
  const [a, b] = [median(t[k]!.wall), median(t[k]!.cpu)];
  console.log(`${a.toFixed(2).padStart(9)} ${(a / w0).toFixed(2).padStart(6)}×  ${b.toFixed(2).padStart(9)} ${(b / c0).toFixed(2).padStart(6)}×  ${k}`);
}
