/**
 * What bench/quick-wasm.ts and bench/quick-threads.ts share: contenders raced in rotating rounds,
 * ratios to the first taken round by round, printed with wall and CPU time.
 */
import { race as timeRace } from "./race.js";

/** Rounds: the first command-line argument that is a number (default 15). */
export const REPS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 15);
export const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
const quantile = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.round(p * (a.length - 1))]!;

export function randn(n: number, into?: Float32Array): Float32Array {
  const a = into ?? new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

interface Stat {
  /** median wall ms, and median CPU ms of this process */
  ms: number;
  cpu: number;
  /** per-round time ÷ the floor's time in the same round: 25%, 50%, 75% quantiles (wall, CPU) */
  ratio: [number, number, number];
  cpuRatio: [number, number, number];
}

/**
 * Runs each contender once per round, REPS rounds (after one warm-up round), rotating the order.
 * The ratio to the floor (the first contender) is taken round by round, each time against the
 * floor's run of the same round, then its median and 25–75% range are reported: on a shared
 * machine, load drifts between rounds far more than within one, so these ratios are much steadier
 * than a ratio of medians. A contender may return its own timing (ms, cpu ms) to time only part.
 */
export function race(contenders: Record<string, () => void | [number, number]>): Record<string, Stat> {
  const names = Object.keys(contenders);
  const times = timeRace(contenders, REPS);
  const t = Object.fromEntries(names.map((n) => [n, times[n]!.wall])), c = Object.fromEntries(names.map((n) => [n, times[n]!.cpu]));
  const q3 = (a: number[]): [number, number, number] => [quantile(a, 0.25), quantile(a, 0.5), quantile(a, 0.75)];
  return Object.fromEntries(names.map((n) => [n, {
    ms: median(t[n]!), cpu: median(c[n]!),
    ratio: q3(t[n]!.map((v, i) => v / t[names[0]!]![i]!)),
    cpuRatio: q3(c[n]!.map((v, i) => v / c[names[0]!]![i]!)),
  }]));
}

export function report(title: string, bytes: number, stats: Record<string, Stat>): void {
  // the CPU time of a run excludes time the process waited for a core: on a loaded machine its
  // ratio is the steadier one (both are printed)
  const floor = Object.keys(stats)[0];
  console.log(`\n${title}  (${(bytes / 1e6).toFixed(1)} MB moved; ratios to "${floor}": median of per-round ratios [25–75%], wall then CPU)`);
  for (const [n, v] of Object.entries(stats)) {
    const f = (r: [number, number, number]) => `${r[1].toFixed(2)}× [${r[0].toFixed(2)}–${r[2].toFixed(2)}]`;
    console.log(
      `  ${n.padEnd(34)} ${v.ms.toFixed(3).padStart(8)} ms  ${(bytes / v.ms / 1e6).toFixed(1).padStart(6)} GB/s  ${f(v.ratio)}` +
        `   cpu ${v.cpu.toFixed(3).padStart(8)} ms  ${f(v.cpuRatio)}`,
    );
  }
}

/** `f` run k times in a row; the last run's wall and CPU ms (the bench's floor: caches hot). */
export const backToBack = (f: () => void, k = 5) => (): [number, number] => {
  for (let i = 1; i < k; i++) f();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const dc = process.cpuUsage(c0);
  return [performance.now() - t0, (dc.user + dc.system) / 1000];
};

