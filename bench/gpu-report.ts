/**
 * `npm run bench:gpu-report [-- results.json]`: one GPU benchmark result (bench/gpu.ts; default:
 * the newest bench/results/gpu-*.json) → a Markdown report beside it (.md) for the README: the
 * GPU named, the copy limits, normkit's default kernels with GB/s and % of the copy limit beside
 * PyTorch CUDA, the best variant per case, and the issue's targets as met / missed.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface GpuResults {
  when: string;
  device: string;
  software: boolean;
  note: string;
  quick: boolean;
  iters: number;
  timestamps: boolean;
  timestampGridNs?: number | null;
  perPass?: number;
  subgroupSize: number;
  dawnOptions: string[];
  node: string;
  copies: { shape: [number, number]; bytes: number; copyBufferGBs: number | null; copyBufferColdGBs: number | null; copyBufferWallGBs?: number | null; copyKernelGBs: number | null }[];
  kernels: { shape: [number, number]; op: string; dir: string; variant: string; isDefault: boolean; ms: number; gbs: number | null }[];
  /** GroupNorm [N, C, S, G] (absent in results from before it was benchmarked) */
  groupNorm?: { shape: [number, number, number, number]; dir: string; ms: number; gbs: number | null; copyGBs: number | null }[];
  /** issue #12 cases: fused add + norm, half storage (bench/gpu-ext.ts; absent in older results) */
  ext?: { shape: [number, number]; op: string; dtype: string; dir: string; ms: number; gbs: number | null }[];
  torch: {
    device: string; torch: string;
    rows: { shape: [number, number]; op: string; dir: string; ms: number; gbs: number }[];
    groupNorm?: { shape: number[]; dir: string; ms: number; gbs: number }[];
    ext?: { shape: [number, number]; op: string; dtype: string; dir: string; ms?: number; gbs?: number; error?: string }[];
  } | { skipped: string } | null;
}

const fmt = (v: number | null | undefined, digits = 3) => (v == null || !Number.isFinite(v) ? "—" : v >= 100 ? v.toFixed(0) : v.toPrecision(digits));
const us = (ms: number | null | undefined) => (ms == null ? "—" : `${fmt(ms * 1000)} µs`);
const key = (s: [number, number]) => `[${s[0]}, ${s[1]}]`;
const same = (a: [number, number], b: [number, number]) => a[0] === b[0] && a[1] === b[1];

/** The copy limit of a shape: the faster of copyBufferToBuffer (warm) and the copy kernel. */
export function copyLimit(r: GpuResults, shape: [number, number]): number | null {
  const c = r.copies.find((c) => same(c.shape, shape));
  const v = Math.max(c?.copyBufferGBs ?? 0, c?.copyKernelGBs ?? 0);
  return v > 0 ? v : null;
}

export interface TargetRow {
  shape: [number, number];
  op: string;
  dir: string;
  target: string;
  value: number | null;
  met: boolean | null;
}

/**
 * The issue's targets on the default kernels: forward ≥ 85% of the copy limit and at least as fast
 * as PyTorch; backward within 1.2× PyTorch's time. null where a side was not measured.
 */
export function targets(r: GpuResults): TargetRow[] {
  const torch = r.torch && "rows" in r.torch ? r.torch.rows : [];
  const out: TargetRow[] = [];
  for (const k of r.kernels.filter((k) => k.isDefault)) {
    const t = torch.find((t) => same(t.shape, k.shape) && t.op === k.op && t.dir === k.dir);
    const base = { shape: k.shape, op: k.op, dir: k.dir };
    if (k.dir === "forward") {
      const lim = copyLimit(r, k.shape);
      const frac = lim !== null && k.gbs !== null ? k.gbs / lim : null;
      out.push({ ...base, target: "≥ 85% of copy", value: frac, met: frac === null ? null : frac >= 0.85 });
      out.push({ ...base, target: "time ≤ PyTorch", value: t ? k.ms / t.ms : null, met: t ? k.ms <= t.ms : null });
    } else {
      out.push({ ...base, target: "time ≤ 1.2× PyTorch", value: t ? k.ms / t.ms : null, met: t ? k.ms <= 1.2 * t.ms : null });
    }
  }
  return out;
}

function table(head: string[], rows: string[][], align: ("l" | "r")[]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${align.map((a) => (a === "r" ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export function gpuMarkdown(r: GpuResults): string {
  const torch = r.torch && "rows" in r.torch ? r.torch : null;
  const lines: string[] = [];
  lines.push(`**${r.device}**, ${r.when.slice(0, 10)}${r.software ? " — a software renderer: CPU numbers, not GPU results" : ""}${r.quick ? " — quick mode (shapes shrunk): not for quoting" : ""}.`);
  lines.push(
    `Node ${r.node}, Dawn options ${r.dawnOptions.length ? r.dawnOptions.map((o) => `\`${o}\``).join(", ") : "none"}; ` +
      `timestamps ${r.timestamps ? `on a ${r.timestampGridNs ?? "?"} ns grid${(r.perPass ?? 1) > 1 ? `, ${r.perPass} dispatches per timed pass` : ""}` : "absent (wall clock)"}; ` +
      `subgroup size ${r.subgroupSize || "none"}; median of ${r.iters} timed passes. ` +
      (torch ? `PyTorch ${torch.torch} on ${torch.device}, CUDA events, same run.` : `PyTorch: ${r.torch && "skipped" in r.torch ? `skipped (${r.torch.skipped})` : "not run"}.`),
  );
  lines.push("");
  lines.push("Copy limit (GB/s, read + write):");
  lines.push("");
  lines.push(table(
    ["shape", "MiB", "copyBufferToBuffer", "first use (cold)", "wall clock, 1 submit", "copy kernel"],
    r.copies.map((c) => [key(c.shape), fmt(c.bytes / 2 ** 20), fmt(c.copyBufferGBs), fmt(c.copyBufferColdGBs), fmt(c.copyBufferWallGBs), fmt(c.copyKernelGBs)]),
    ["l", "r", "r", "r", "r", "r"],
  ));
  lines.push("");
  lines.push("Kernels (default plan; time, GB/s, % of the copy limit), PyTorch CUDA beside them:");
  lines.push("");
  const rows: string[][] = [];
  for (const k of r.kernels.filter((k) => k.isDefault)) {
    const t = torch?.rows.find((t) => same(t.shape, k.shape) && t.op === k.op && t.dir === k.dir);
    const lim = copyLimit(r, k.shape);
    const all = r.kernels.filter((o) => same(o.shape, k.shape) && o.op === k.op && o.dir === k.dir && o.variant !== "default, Dawn robustness off");
    const best = all.reduce((a, b) => (b.ms < a.ms ? b : a));
    const nr = r.kernels.find((o) => same(o.shape, k.shape) && o.op === k.op && o.dir === k.dir && o.variant === "default, Dawn robustness off");
    rows.push([
      key(k.shape), k.op, k.dir, us(k.ms), fmt(k.gbs), lim !== null && k.gbs !== null ? `${((100 * k.gbs) / lim).toFixed(0)}%` : "—",
      t ? us(t.ms) : "—", t ? fmt(t.gbs) : "—", t ? `${(k.ms / t.ms).toFixed(2)}×` : "—",
      best === k ? "default" : `${best.variant}: ${us(best.ms)}`, nr ? us(nr.ms) : "—",
    ]);
  }
  lines.push(table(
    ["shape", "op", "dir", "normkit", "GB/s", "% copy", "PyTorch", "GB/s", "normkit ÷ PyTorch", "fastest variant", "robustness off"],
    rows, ["l", "l", "l", "r", "r", "r", "r", "r", "r", "l", "r"],
  ));
  if (r.groupNorm?.length) {
    lines.push("");
    lines.push("GroupNorm [N, C, S] in G groups (forward; backward from the saved statistics), PyTorch's `F.group_norm` beside it:");
    lines.push("");
    lines.push(table(
      ["[N, C, S], G", "dir", "normkit", "GB/s", "% copy", "PyTorch", "GB/s", "normkit ÷ PyTorch"],
      r.groupNorm.map((k) => {
        const t = torch?.groupNorm?.find((t) => t.shape.join() === k.shape.join() && t.dir === k.dir);
        return [
          `[${k.shape.slice(0, 3).join(", ")}], ${k.shape[3]}`, k.dir, us(k.ms), fmt(k.gbs),
          k.gbs !== null && k.copyGBs ? `${((100 * k.gbs) / k.copyGBs).toFixed(0)}%` : "—",
          t ? us(t.ms) : "—", t ? fmt(t.gbs) : "—", t ? `${(k.ms / t.ms).toFixed(2)}×` : "—",
        ];
      }),
      ["l", "l", "r", "r", "r", "r", "r", "r"],
    ));
  }
  if (r.ext?.length) lines.push("", ...extMarkdown(r));
  const tg = targets(r);
  const count = (m: boolean | null) => tg.filter((t) => t.met === m).length;
  lines.push("");
  lines.push(`Targets (default kernels): ${count(true)} met, ${count(false)} missed, ${count(null)} not measured.`);
  const missed = tg.filter((t) => t.met === false);
  if (missed.length) {
    lines.push("");
    lines.push(table(["missed", "shape", "target", "measured"], missed.map((t) => [`${t.op} ${t.dir}`, key(t.shape), t.target, t.target.includes("%") ? `${(100 * t.value!).toFixed(0)}%` : `${t.value!.toFixed(2)}×`]), ["l", "l", "l", "r"]));
  }
  return lines.join("\n") + "\n";
}

/**
 * The issue #12 section: every case beside PyTorch, then the two ratios the issue sets targets for
 * on the CPU, measured here on the GPU: the fused add's cost (addRmsNorm ÷ rmsNorm forward, same
 * kernels and dtype; CPU target ≤ 1.15) and half storage's (bfloat16 ÷ float32 rmsNorm forward;
 * CPU target ≤ 0.7, half the bytes).
 */
export function extMarkdown(r: GpuResults): string[] {
  const ext = r.ext ?? [];
  const torch = r.torch && "rows" in r.torch ? (r.torch.ext ?? []) : [];
  const lines = ["Issue #12 kernels (fused residual add + norm, half storage; float32 rows: the same kernels in float32), PyTorch beside them (add: `F.*_norm(x + r)`, two kernels):", ""];
  lines.push(table(
    ["shape", "op", "dtype", "dir", "normkit", "GB/s", "% copy", "PyTorch", "normkit ÷ PyTorch"],
    ext.map((k) => {
      const t = torch.find((t) => same(t.shape, k.shape) && t.op === k.op && t.dtype === k.dtype && t.dir === k.dir);
      const lim = copyLimit(r, k.shape);
      return [
        key(k.shape), k.op, k.dtype, k.dir, us(k.ms), fmt(k.gbs), lim !== null && k.gbs !== null ? `${((100 * k.gbs) / lim).toFixed(0)}%` : "—",
        t?.ms !== undefined ? us(t.ms) : t?.error ? `error: ${t.error.slice(0, 60)}` : "—", t?.ms !== undefined ? `${(k.ms / t.ms).toFixed(2)}×` : "—",
      ];
    }),
    ["l", "l", "l", "l", "r", "r", "r", "r", "r"],
  ));
  const find = (shape: [number, number], op: string, dtype: string) => ext.find((k) => same(k.shape, shape) && k.op === op && k.dtype === dtype && k.dir === "forward");
  const shapes = [...new Map(ext.map((k) => [key(k.shape), k.shape])).values()];
  lines.push("", table(
    ["shape", "addRmsNorm ÷ rmsNorm (float32)", "addRmsNorm ÷ rmsNorm (bfloat16)", "bfloat16 ÷ float32 (rmsNorm)", "float16 ÷ float32 (rmsNorm)"],
    shapes.map((sh) => {
      const ratio = (a?: { ms: number }, b?: { ms: number }) => (a && b && b.ms > 0 ? `${(a.ms / b.ms).toFixed(2)}×` : "—");
      return [key(sh), ratio(find(sh, "addRmsNorm", "float32"), find(sh, "rmsNorm", "float32")), ratio(find(sh, "addRmsNorm", "bfloat16"), find(sh, "rmsNorm", "bfloat16")),
        ratio(find(sh, "rmsNorm", "bfloat16"), find(sh, "rmsNorm", "float32")), ratio(find(sh, "rmsNorm", "float16"), find(sh, "rmsNorm", "float32"))];
    }),
    ["l", "r", "r", "r", "r"],
  ));
  return lines;
}

function newestGpu(dir: string): string {
  const files = readdirSync(dir).filter((f) => /^gpu-.*\.json$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no GPU results in ${dir}: run npm run bench:gpu first`);
  return `${dir}${files.at(-1)}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"))) {
  const dir = fileURLToPath(new URL("../../bench/results/", import.meta.url));
  const file = process.argv.slice(2).find((a) => a.endsWith(".json")) ?? newestGpu(dir);
  const md = gpuMarkdown(JSON.parse(readFileSync(file, "utf8")) as GpuResults);
  writeFileSync(file.replace(/\.json$/, ".md"), md);
  process.stdout.write(md + `\nwritten: ${file.replace(/\.json$/, ".md")}\n`);
}
