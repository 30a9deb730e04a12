/**
 * Quick internal timing of the wasm kernels (not a test, not the benchmark: see `npm run bench`).
 * Prints median ms and GB/s (bytes read + written) of js vs wasm kernels vs the copy floor
 * (Float32Array.prototype.set of the same bytes), forward and backward, and the pool with 1 vs 2
 * threads. Runs rotate between contenders so drifting machine load hits them alike, and ratios
 * are taken round by round (see `race`).
 *   npm run build && node build/bench/quick-wasm.js [reps]
 */
import { createPool } from "../src/index.js";
import { backendKernels } from "../src/backends/registry.js";
import { chunkRows, kernelsModule } from "../src/backends/wasm/runtime.js";
import { channelAffine, channelScale, groupNormParamGrads } from "../src/backends/js/channel.js";

const REPS = Number(process.argv[2] ?? 15);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];

function randn(n: number, into?: Float32Array): Float32Array {
  const a = into ?? new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

const quantile = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.round(p * (a.length - 1))];

interface Stat {
  /** median wall ms */
  ms: number;
  /** median CPU ms of this process, and its per-round ratio to the floor's (not measured for the pool) */
  cpu?: number;
  cpuRatio?: [number, number, number];
  /** per-round time ÷ the floor's time in the same round: 25%, 50%, 75% quantiles */
  ratio: [number, number, number];
}

/**
 * Runs each contender once per round, REPS rounds (after one warm-up round), rotating the order.
 * The ratio to the floor (the first contender) is taken round by round, each time against the
 * floor's run of the same round, then its median and 25–75% range are reported: on a shared
 * machine, load drifts between rounds far more than within one, so these ratios are much steadier
 * than a ratio of medians.
 */
function race(contenders: Record<string, () => void>): Record<string, Stat> {
  const names = Object.keys(contenders);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const c: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) contenders[n]();
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      contenders[n]();
      t[n].push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      c[n].push((dc.user + dc.system) / 1000);
    }
  }
  const floor = t[names[0]];
  return Object.fromEntries(
    names.map((n) => {
      const q = t[n].map((v, i) => v / floor[i]);
      const qc = c[n].map((v, i) => v / c[names[0]][i]);
      return [n, {
        ms: median(t[n]), cpu: median(c[n]),
        ratio: [quantile(q, 0.25), quantile(q, 0.5), quantile(q, 0.75)],
        cpuRatio: [quantile(qc, 0.25), quantile(qc, 0.5), quantile(qc, 0.75)],
      }];
    }),
  );
}

/** Stats of rounds timed elsewhere (same layout as race's: t[name][round]), ratios to `floor`. */
function statsOf(t: Record<string, number[]>, floor: string): Record<string, Stat> {
  return Object.fromEntries(
    Object.entries(t).map(([n, v]) => {
      const q = v.map((x, i) => x / t[floor][i]);
      return [n, { ms: median(v), ratio: [quantile(q, 0.25), quantile(q, 0.5), quantile(q, 0.75)] as [number, number, number] }];
    }),
  );
}

function report(title: string, bytes: number, stats: Record<string, Stat>, floor: string): void {
  // the CPU time of a run excludes time the process waited for a core: on a loaded machine its
  // ratio is the steadier one (both are printed)
  console.log(`\n${title}  (${(bytes / 1e6).toFixed(1)} MB moved; ratios to "${floor}": median of per-round ratios [25–75%], wall then CPU)`);
  for (const [n, v] of Object.entries(stats)) {
    const [lo, mid, hi] = v.ratio;
    console.log(
      `  ${n.padEnd(24)} ${v.ms.toFixed(3).padStart(8)} ms  ${(bytes / v.ms / 1e6).toFixed(1).padStart(6)} GB/s  ` +
        `${mid.toFixed(2)}× [${lo.toFixed(2)}–${hi.toFixed(2)}]` +
        (v.cpu === undefined || v.cpuRatio === undefined ? "" : `   cpu ${v.cpu.toFixed(3).padStart(8)} ms  ${v.cpuRatio[1].toFixed(2)}× [${v.cpuRatio[0].toFixed(2)}–${v.cpuRatio[2].toFixed(2)}]`),
    );
  }
}

const js = backendKernels("js");
const wasm = backendKernels("wasm");

/**
 * The same kernels on data already in wasm memory (no streaming copies): what a zero-copy API,
 * with tensors allocated in wasm memory, would give. Not a public path; measured for comparison.
 */
type Raw = Record<string, (...a: number[]) => void> & { memory: WebAssembly.Memory; heapBase(): number };
function inPlace(rows: number, D: number, x: Float32Array, dy: Float32Array, w: Float32Array, b: Float32Array) {
  const ex = new WebAssembly.Instance(kernelsModule()!, {}).exports as unknown as Raw;
  const n = rows * D;
  let p = ex.heapBase();
  const at = (bytes: number) => ((p += (bytes + 15) & ~15), p - ((bytes + 15) & ~15));
  const [W, B, X, Y, DY, DX, M, R, AC, DW64, DB64] = [4 * D, 4 * D, 4 * n, 4 * n, 4 * n, 4 * n, 4 * rows, 4 * rows, 64 * 32, 8 * D, 8 * D].map(at);
  ex.memory.grow(Math.ceil(p / 65536) + 1);
  const f = new Float32Array(ex.memory.buffer);
  f.set(w, W >> 2);
  f.set(b, B >> 2);
  f.set(x, X >> 2);
  f.set(dy, DY >> 2);
  // as the public calls: LayerNorm with weight and bias, RMSNorm with weight only (b = 0)
  const k = {
    lnF: (r: number) => ex.forward(Y, M, R, X, W, B, r, D, 1e-5),
    rmsF: (r: number) => ex.forward(Y, 0, R, X, W, 0, r, D, 1e-5),
    lnB: (r: number) => ex.backward(DX, DW64, DB64, AC, DY, X, M, R, W, r, D),
    rmsB: (r: number) => ex.backward(DX, DW64, DB64, AC, DY, X, 0, R, W, r, D),
  };
  // The same element count as `rows` rows, but the first chunk's rows (as the public path streams
  // them) over and over: the kernels' arithmetic on cached data, i.e. what they cost beyond
  // moving the bytes.
  const cr = Math.min(rows, chunkRows(D, 32));
  const cached = (f: (r: number) => void) => () => {
    for (let r = 0; r < rows; r += cr) f(Math.min(cr, rows - r));
  };
  // The public path's copies alone: each chunk of x in, then a chunk out to y, no kernel (DX is
  // free scratch during the forward cases).
  const streamCopies = (y: Float32Array) => () => {
    for (let r = 0; r < rows; r += cr) {
      const k = Math.min(cr, rows - r);
      f.set(x.subarray(r * D, (r + k) * D), DX >> 2);
      y.set(f.subarray((DX >> 2) + cr * D, (DX >> 2) + (cr + k) * D), r * D);
    }
  };
  return {
    lnF: () => k.lnF(rows), rmsF: () => k.rmsF(rows), lnB: () => k.lnB(rows), rmsB: () => k.rmsB(rows),
    cached: { lnF: cached(k.lnF), rmsF: cached(k.rmsF), lnB: cached(k.lnB), rmsB: cached(k.rmsB) },
    streamCopies,
  };
}

for (const [rows, D] of [[4096, 768], [1024, 4096]] as const) {
  const n = rows * D;
  const x = randn(n), dy = randn(n), w = randn(D), b = randn(D);
  const y = new Float32Array(n), dx = new Float32Array(n), dst = new Float32Array(n), dst2 = new Float32Array(n);
  const mean = new Float32Array(rows), rstd = new Float32Array(rows);
  const dw = new Float32Array(D), db = new Float32Array(D);
  const raw = inPlace(rows, D, x, dy, w, b);
  for (const rms of [false, true]) {
    const op = rms ? "rmsNorm" : "layerNorm";
    const fwd = (k: typeof js) => () =>
      rms ? k.rmsNormForward(y, rstd, x, w, null, rows, D, 1e-5) : k.layerNormForward(y, mean, rstd, x, w, b, rows, D, 1e-5);
    // "fresh y": the output allocated per call, as the public ops must (new Float32Array: the
    // first writes page-fault fresh zero pages), to show that cost apart from the kernel's
    const fresh = () =>
      rms ? wasm.rmsNormForward(new Float32Array(n), rstd, x, w, null, rows, D, 1e-5) : wasm.layerNormForward(new Float32Array(n), mean, rstd, x, w, b, rows, D, 1e-5);
    report(
      `${op} forward [${rows}, ${D}]`, 8 * n,
      race({
        copy: () => dst.set(x), wasm: fwd(wasm), "wasm, fresh y": fresh, "wasm, data in wasm mem": rms ? raw.rmsF : raw.lnF,
        "wasm arithmetic, 1 chunk": rms ? raw.cached.rmsF : raw.cached.lnF,
        "streamed copies, no kernel": raw.streamCopies(y), js: fwd(js),
      }),
      "copy",
    );
    fwd(wasm)();
    (rms ? raw.rmsF : raw.lnF)(); // its statistics for the in-place backward
    const bwd = (k: typeof js) => () =>
      rms ? k.rmsNormBackward(dx, dw, null, dy, x, rstd, w, rows, D) : k.layerNormBackward(dx, dw, db, dy, x, mean, rstd, w, rows, D);
    // backward moves x and dy in, dx out: the floor copies the same 12 bytes per element
    report(
      `${op} backward [${rows}, ${D}]`, 12 * n,
      race({
        "copy (x→a, dy→b half)": () => {
          dst.set(x);
          dst2.set(dy.subarray(0, n >> 1));
        },
        wasm: bwd(wasm),
        "wasm, data in wasm mem": rms ? raw.rmsB : raw.lnB,
        "wasm arithmetic, 1 chunk": rms ? raw.cached.rmsB : raw.cached.lnB,
        js: bwd(js),
      }),
      "copy (x→a, dy→b half)",
    );
  }
}

// GroupNorm [8, 256, 32·32], 32 groups: js (LayerNorm rows, then per-channel passes) vs wasm
// (group rows gathered G apart, the per-channel weight spread over the row kernel's weight)
{
  const [N, C, S, G] = [8, 256, 1024, 32];
  const n = N * C * S;
  const x = randn(n), dy = randn(n), w = randn(C), b = randn(C);
  const y = new Float32Array(n), dx = new Float32Array(n), dst = new Float32Array(n), dst2 = new Float32Array(n);
  const mean = new Float32Array(N * G), rstd = new Float32Array(N * G), dw = new Float32Array(C), db = new Float32Array(C);
  for (const backward of [false, true]) {
    const run = (k: typeof js) => () =>
      backward ? k.groupNormBackward(dx, dw, db, dy, x, mean, rstd, w, N, C, S, G) : k.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    wasm.groupNormForward(y, mean, rstd, x, w, b, N, C, S, G, 1e-5);
    const copy = backward ? () => { dst.set(x); dst2.set(dy.subarray(0, n >> 1)); } : () => dst.set(x);
    // the earlier path: wasm LayerNorm rows, the per-channel work in separate JS passes
    const L = (C / G) * S;
    const g = new Float32Array(n);
    const passes = backward
      ? () => {
        channelScale(g, dy, w, N, C, S);
        wasm.layerNormBackward(dx, null, null, g, x, mean, rstd, null, N * G, L);
        groupNormParamGrads(dw, db, dy, x, mean, rstd, N, C, S, G);
      }
      : () => {
        wasm.layerNormForward(y, mean, rstd, x, null, null, N * G, L, 1e-5);
        channelAffine(y, w, b, N, C, S);
      };
    report(
      `groupNorm ${backward ? "backward" : "forward"} [${N}, ${C}, ${S}] G=${G}`, (backward ? 12 : 8) * n,
      race({ copy, wasm: run(wasm), "wasm rows + js passes": passes, js: run(js) }), "copy",
    );
  }
}

// pool: inputs in shared memory (as a caller of the pool keeps them), 1 vs 2 threads
{
  const [rows, D] = [16384, 1024];
  const n = rows * D;
  const x = { shape: [rows, D], data: randn(n, new Float32Array(new SharedArrayBuffer(4 * n))) };
  const dy = { shape: [rows, D], data: randn(n, new Float32Array(new SharedArrayBuffer(4 * n))) };
  const weight = { shape: [D], data: randn(D) };
  const p1 = await createPool({ threads: 1 });
  const p2 = await createPool({ threads: 2 });
  const t: Record<string, number[]> = { "1 thread": [], sync: [], "2 threads": [] };
  const runs: Record<string, () => Promise<unknown>> = {
    "1 thread": () => p1.layerNorm(x, [D], { weight }),
    sync: async () => wasm.layerNormForward(new Float32Array(n), new Float32Array(rows), new Float32Array(rows), x.data, weight.data, null, rows, D, 1e-5),
    "2 threads": () => p2.layerNorm(x, [D], { weight }),
  };
  const tb: Record<string, number[]> = { "1 thread": [], "2 threads": [] };
  for (let r = -1; r < REPS; r++) {
    for (const [name, f] of Object.entries(runs)) {
      const t0 = performance.now();
      await f();
      if (r >= 0) t[name].push(performance.now() - t0);
    }
    for (const [name, p] of [["1 thread", p1], ["2 threads", p2]] as const) {
      const t0 = performance.now();
      await p.layerNormBackward(dy, x, [D], { weight });
      if (r >= 0) tb[name].push(performance.now() - t0);
    }
  }
  report(`pool layerNorm forward [${rows}, ${D}] (shared inputs, fresh outputs)`, 8 * n, statsOf(t, "1 thread"), "1 thread");
  // pool backward = forward for the statistics + backward, as the synchronous layerNormBackward
  report(`pool layerNormBackward [${rows}, ${D}] (recomputes stats: forward + backward)`, 20 * n, statsOf(tb, "1 thread"), "1 thread");
  await p1.close();
  await p2.close();
}
