/**
 * The rotating timer of the internal timing scripts (bench/tfjs.ts, bench/cost12.ts): one
 * warm-up call each, then `reps` rounds in which every contender runs once, the order rotated
 * round by round so that drifting machine load hits them alike. Wall and CPU time (this
 * process's: on a shared machine the steadier of the two) per call, in ms; a contender may
 * return its own [wall, cpu] ms to time only part of its call.
 */
export function race(contenders: Record<string, () => void | [number, number]>, reps: number): Record<string, { wall: number[]; cpu: number[] }> {
  const names = Object.keys(contenders);
  const t = Object.fromEntries(names.map((n) => [n, { wall: [] as number[], cpu: [] as number[] }]));
  for (const n of names) contenders[n]!();
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const own = contenders[n]!();
      const dt = performance.now() - t0;
      const dc = process.cpuUsage(c0);
      t[n]!.wall.push(own ? own[0] : dt);
      t[n]!.cpu.push(own ? own[1] : (dc.user + dc.system) / 1000);
    }
  }
  return t;
}
