/**
 * The pure parts of the benchmark (no peers, no I/O): the cases, byte accounting, statistics,
 * the child-process protocol's types, target checks and table formatting. test/bench/cpu.test.ts
 * covers them without installing any peer.
 */

export type Op = "layerNorm" | "rmsNorm" | "addLayerNorm" | "addRmsNorm";
export type Dir = "forward" | "backward";
/** Storage dtypes of issue #12's half cases (a case without `dtype` is float32). */
export type HalfDType = "float16" | "bfloat16";
export type CaseDType = "float32" | HalfDType;

export interface Case {
  op: Op;
  dir: Dir;
  rows: number;
  D: number;
  /** storage dtype of x, residual, dy, γ, β and of y, h, dx, dγ, dβ (statistics stay float32); absent: float32 */
  dtype?: HalfDType;
}

/** The shapes of the issue; [16384, 1024] exists for the 1-vs-2-threads comparison. */
export const SHAPES: readonly (readonly [number, number])[] = [
  [4096, 768],
  [1024, 4096],
  [16384, 256],
  [64, 768],
  [16384, 1024],
];
export const THREADS_SHAPE: readonly [number, number] = [16384, 1024];
export const LATENCY_SHAPE: readonly [number, number] = [64, 768];
/** Issue #12's shape for the half-storage target (16M elements: 64 MiB in float32, 32 MiB in half). */
export const BIG_SHAPE: readonly [number, number] = [4096, 4096];
/** Shapes of #12's fused float32 cases: BIG_SHAPE and every classic shape. */
export const FUSED_SHAPES: readonly (readonly [number, number])[] = [BIG_SHAPE, ...SHAPES];
/**
 * Shapes of #12's half-storage forward cases (backward: BIG_SHAPE only). The [16384, *] shapes of
 * the thread comparison are left out to keep the full run's length in bounds (each case ≈ 10 s).
 */
export const HALF_SHAPES: readonly (readonly [number, number])[] = [BIG_SHAPE, [4096, 768], [1024, 4096], LATENCY_SHAPE];

export const EPS = 1e-5; // torch's default for both layer_norm and (manual) rms_norm here

const DIRS = ["forward", "backward"] as const;

/** The classic cases (float32 LayerNorm/RMSNorm at SHAPES), then issue #12's (issue12Cases). */
export function allCases(): Case[] {
  const cases: Case[] = [];
  for (const op of ["layerNorm", "rmsNorm"] as const)
    for (const dir of DIRS)
      for (const [rows, D] of SHAPES) cases.push({ op, dir, rows, D });
  return [...cases, ...issue12Cases()];
}

/**
 * Issue #12's cases: the plain float32 norms at BIG_SHAPE (the other shapes are classic cases), the
 * fused add + norm in float32 at FUSED_SHAPES, and bfloat16/float16 storage of all four ops
 * (forward at HALF_SHAPES, backward at BIG_SHAPE), each beside the float32 case of the same shape.
 */
export function issue12Cases(): Case[] {
  const cases: Case[] = [];
  for (const op of ["layerNorm", "rmsNorm"] as const) for (const dir of DIRS) cases.push({ op, dir, rows: BIG_SHAPE[0], D: BIG_SHAPE[1] });
  for (const op of ["addLayerNorm", "addRmsNorm"] as const)
    for (const dir of DIRS)
      for (const [rows, D] of FUSED_SHAPES) cases.push({ op, dir, rows, D });
  for (const dtype of ["bfloat16", "float16"] as const) {
    for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm"] as const) {
      for (const [rows, D] of HALF_SHAPES) cases.push({ op, dir: "forward", rows, D, dtype });
      cases.push({ op, dir: "backward", rows: BIG_SHAPE[0], D: BIG_SHAPE[1], dtype });
    }
  }
  return cases;
}

export const caseKey = (c: Case) => `${c.op} ${c.dir} [${c.rows}, ${c.D}]${c.dtype ? ` ${c.dtype}` : ""}`;

/**
 * `--cases='a|b'`: the cases whose key contains any of the `|`-separated texts (every case without
 * a filter). Not commas: the keys' shapes have them ("[4096, 768]").
 */
export function matchesFilter(c: Case, filter: string | undefined): boolean {
  if (!filter) return true;
  const key = caseKey(c);
  return filter.split("|").some((f) => f !== "" && key.includes(f));
}

/** LayerNorm has γ and β (and saves mean and rstd); RMSNorm has γ only (and saves rstd). */
export const hasBias = (op: Op) => op === "layerNorm" || op === "addLayerNorm";
/** The fused residual add + norm (h = x + residual, y = norm(h)). */
export const isFused = (op: Op) => op === "addLayerNorm" || op === "addRmsNorm";
export const isRms = (op: Op) => op === "rmsNorm" || op === "addRmsNorm";
export const caseDType = (c: Case): CaseDType => c.dtype ?? "float32";
/** Bytes per stored element of the case's tensors (statistics are float32 in every case). */
export const elementBytes = (c: Case) => (c.dtype === undefined ? 4 : 2);
/** A case of issue #12 (fused, half, or at BIG_SHAPE), rather than one of the classic float32 cases. */
export const isIssue12 = (c: Case) => isFused(c.op) || c.dtype !== undefined || (c.rows === BIG_SHAPE[0] && c.D === BIG_SHAPE[1]);

/**
 * Bytes a kernel must move, the same for every variant of a case (so GB/s compares like time):
 * forward reads x, γ (, β) and writes y (fused: reads x and residual, writes y and h); backward
 * reads x (fused: h), dy, the saved row statistics and γ, and writes dx, dγ (, dβ). Tensors take
 * the case's element size, statistics 4 bytes. Statistics written by forward are not counted (not
 * every peer writes them).
 */
export function caseBytes(c: Case): number {
  const n = c.rows * c.D;
  const es = elementBytes(c);
  const params = (hasBias(c.op) ? 2 : 1) * c.D;
  if (c.dir === "forward") return es * ((isFused(c.op) ? 4 : 2) * n + params);
  const stats = (isRms(c.op) ? 1 : 2) * c.rows;
  return es * (2 * n + c.D + n + params) + 4 * stats;
}

/**
 * Float32 elements the memory-floor copy moves: a copy of k floats reads 4k and writes 4k bytes,
 * so k = bytes/8 moves the case's bytes. (Backward moves 3|x|: copying 1.5|x| in, 1.5|x| out.)
 */
export const copyElements = (c: Case) => Math.ceil(caseBytes(c) / 8);

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Linear-interpolated quantile (q in [0, 1]); quantile(xs, 0.5) equals median(xs). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** GB/s (10⁹ bytes per second) from bytes and milliseconds. */
export const gbps = (bytes: number, ms: number) => bytes / (ms * 1e6);

// ---- the protocol between run.ts and its children (JSON, one message per line) ----

export interface VariantInfo {
  /** unique across peers, e.g. "normkit-js", "ort-1t" */
  id: string;
  peer: string;
  label: string;
  threads: number;
  /** what is timed, per direction (shown under the table); other keys (e.g. "fused forward") for what a variant times differently on #12's cases */
  timed: Partial<Record<Dir, string>> & Record<string, string>;
  /** set when the variant cannot run at all */
  skip?: string;
  /** a label for one op where it differs (e.g. PyTorch's RMSNorm as a manual formula) */
  opLabel?: Partial<Record<Op, string>>;
  /** the cases the variant runs on (union of the products); absent: the classic float32 LayerNorm/RMSNorm cases */
  covers?: Coverage[];
}

export interface Coverage {
  ops: Op[];
  dtypes: CaseDType[];
  /** absent: both */
  dirs?: Dir[];
}

const CLASSIC: Coverage[] = [{ ops: ["layerNorm", "rmsNorm"], dtypes: ["float32"] }];

/** Whether a variant runs on a case at all (a variant not covering a case gets no row, not a skip). */
export const variantCovers = (v: Pick<VariantInfo, "covers">, c: Case) =>
  (v.covers ?? CLASSIC).some((k) => k.ops.includes(c.op) && k.dtypes.includes(caseDType(c)) && (k.dirs ?? DIRS).includes(c.dir));

export interface Hello {
  peer: string;
  versions: Record<string, string>;
  variants: VariantInfo[];
}

export type Request =
  /** `check`: the flat indices of the output whose values the first batch reports (checkIndices) */
  | { cmd: "case"; case: Case; check: number[] }
  | { cmd: "measure"; variant: string; budgetMs: number; maxReps: number }
  | { cmd: "quit" };

export type Reply =
  | { ok: true }
  | { times: number[]; check?: number[]; warmupMs?: number }
  | { skip: string }
  | { error: string };

/**
 * Deterministic inputs, computed identically by every child (the Python one too) so outputs can be
 * cross-checked; rounded to float32, then (half cases) to the case's dtype.
 */
export const inputX = (i: number) => Math.sin(i * 0.7 + 0.3) * 2;
export const inputDy = (i: number) => Math.cos(i * 1.3);
export const inputW = (j: number) => 1 + 0.1 * Math.sin(j);
export const inputB = (j: number) => 0.1 * Math.cos(j);
/** the residual stream of the fused cases */
export const inputR = (i: number) => Math.cos(i * 0.37 + 1.1) * 1.5;

/** Rows whose every element #12's cases check: about 16K values, at least 4 rows, spread from first to last. */
export function checkRows(c: Case): number[] {
  const k = Math.min(c.rows, Math.max(4, Math.floor(16384 / Math.max(c.D, 1))));
  if (k <= 1) return [0];
  return [...new Set(Array.from({ length: k }, (_, i) => Math.round((i * (c.rows - 1)) / (k - 1))))];
}

/**
 * Indices of the output elements each child reports back (for a fused forward: of y, then the same
 * of h), checked against the float64 reference and cross-checked between peers: six scattered ones
 * in the classic cases, whole rows (checkRows) in #12's.
 */
export function checkIndices(c: Case): number[] {
  const n = c.rows * c.D;
  if (!isIssue12(c)) return [0, 1, c.D - 1, c.D, Math.floor(n / 2) + 3, n - 1];
  return checkRows(c).flatMap((r) => Array.from({ length: c.D }, (_, i) => r * c.D + i));
}

// ---- results ----

export interface Measurement {
  case: Case;
  variant: string;
  /** milliseconds per call, every timed call (dropped from the results file, which keeps the statistics) */
  times?: number[];
  runs?: number;
  medianMs?: number;
  /** min, 25th percentile, median, 75th percentile, max, ms */
  quartilesMs?: [number, number, number, number, number];
  gbps?: number;
  /** time / normkit's best variant's time in the same case (> 1: slower than normkit) */
  ratio?: number;
  skip?: string;
  /** max |output − normkit js| over the checked elements */
  checkError?: number;
  /** max error against the float64 reference over the checked elements, in units of the dtype's epsilon × the row's max |value| (lib12.ts refCheck) */
  refError?: number;
}

export interface Results {
  date: string;
  host: string;
  quick: boolean;
  /** a partial run's --cases/--only (absent in a full run) */
  filters?: { cases?: string; only?: string[] };
  machine: {
    cpu: string; cores: number; memoryGiB: number; platform: string; node: string;
    /** 1-minute load average when the run started and ended: other work on the machine skews the times */
    loadavg?: [number, number];
  };
  peers: Hello[];
  /** peers that could not start at all */
  skippedPeers: { peer: string; reason: string }[];
  measurements: Measurement[];
  targets: TargetCheck[];
  seconds: number;
}

/** Medians, GB/s and ratios to the best normkit variant of each case. */
export function summarize(ms: Measurement[], isNormkit: (variant: string) => boolean): void {
  for (const m of ms) {
    if (m.times && m.times.length > 0) {
      m.runs = m.times.length;
      m.medianMs = median(m.times);
      m.quartilesMs = [quantile(m.times, 0), quantile(m.times, 0.25), m.medianMs, quantile(m.times, 0.75), quantile(m.times, 1)];
      m.gbps = gbps(caseBytes(m.case), m.medianMs);
    }
  }
  for (const m of ms) {
    const best = bestNormkit(ms, m.case, isNormkit);
    if (m.medianMs !== undefined && best !== undefined) m.ratio = m.medianMs / best.medianMs!;
  }
}

export const sameCase = (a: Case, b: Case) => a.op === b.op && a.dir === b.dir && a.rows === b.rows && a.D === b.D && a.dtype === b.dtype;

export function bestNormkit(ms: Measurement[], c: Case, isNormkit: (v: string) => boolean, threads1?: (v: string) => boolean) {
  let best: Measurement | undefined;
  for (const m of ms) {
    if (!sameCase(m.case, c) || !isNormkit(m.variant) || m.medianMs === undefined) continue;
    if (threads1 && !threads1(m.variant)) continue;
    if (best === undefined || m.medianMs < best.medianMs!) best = m;
  }
  return best;
}

// ---- targets of the issue ----

export interface TargetCheck {
  target: string;
  case: string;
  /** measured value of the ratio the target bounds */
  value: number | null;
  bound: number;
  /** "le": value ≤ bound passes; "ge": value ≥ bound passes */
  sense: "le" | "ge";
  pass: boolean | null;
  note?: string;
}

export interface TargetVariants {
  /** normkit variants that run on the calling thread */
  normkit1: string[];
  /** normkit's multi-threaded variant and the single-threaded one it is compared with */
  normkitPool: string;
  normkitPoolBase: string;
  copy: string;
  torch1: string[];
  ort1: string[];
}

export function check(target: string, c: Case, value: number | undefined, bound: number, sense: "le" | "ge", note?: string): TargetCheck {
  const v = value === undefined || !Number.isFinite(value) ? null : value;
  return {
    target, case: caseKey(c), value: v, bound, sense,
    pass: v === null ? null : sense === "le" ? v <= bound : v >= bound,
    ...(note !== undefined ? { note } : {}),
  };
}

/** The fastest median of the variants `ids` in case `c` (undefined if none was measured). */
export function bestOf(ms: readonly Measurement[], c: Case, ids: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const m of ms) if (sameCase(m.case, c) && ids.includes(m.variant) && m.medianMs !== undefined) best = best === undefined ? m.medianMs : Math.min(best, m.medianMs);
  return best;
}

/** Evaluates the issue's targets on one run's medians; a target whose inputs are missing has pass = null. */
export function evaluateTargets(ms: Measurement[], tv: TargetVariants): TargetCheck[] {
  const t = (c: Case, ids: string[]) => bestOf(ms, c, ids);
  const out: TargetCheck[] = [];
  for (const op of ["layerNorm", "rmsNorm"] as const) {
    for (const [rows, D] of [[4096, 768], [1024, 4096]] as const) {
      const f: Case = { op, dir: "forward", rows, D };
      const nk = t(f, tv.normkit1);
      const div = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
      out.push(check("forward ≤ 1.15× copy floor", f, div(nk, t(f, [tv.copy])), 1.15, "le"));
      out.push(check("forward ≤ 0.8× PyTorch (1 thread)", f, div(nk, t(f, tv.torch1)), 0.8, "le"));
      out.push(check("forward ≤ 0.5× onnxruntime (1 thread)", f, div(nk, t(f, tv.ort1)), 0.5, "le"));
      const b: Case = { op, dir: "backward", rows, D };
      const nb = t(b, tv.normkit1);
      out.push(check("backward ≤ 0.7× PyTorch (1 thread)", b, div(nb, t(b, tv.torch1)), 0.7, "le"));
      out.push(check("backward ≤ 1.3× copy floor", b, div(nb, t(b, [tv.copy])), 1.3, "le"));
    }
    for (const dir of ["forward", "backward"] as const) {
      const l: Case = { op, dir, rows: LATENCY_SHAPE[0], D: LATENCY_SHAPE[1] };
      const nl = t(l, tv.normkit1);
      const ol = t(l, tv.ort1);
      out.push(check("[64, 768] latency ≤ onnxruntime (1 thread)", l, nl === undefined || ol === undefined ? undefined : nl / ol, 1, "le",
        ol === undefined ? "no onnxruntime time for this case" : undefined));
      for (const [rows, D] of SHAPES) {
        if (rows === LATENCY_SHAPE[0] && D === LATENCY_SHAPE[1]) continue; // small inputs stay on the calling thread
        const c: Case = { op, dir, rows, D };
        const one = t(c, [tv.normkitPoolBase]);
        const two = t(c, [tv.normkitPool]);
        const speedup = one === undefined || two === undefined ? undefined : one / two;
        const big = rows === THREADS_SHAPE[0] && D === THREADS_SHAPE[1];
        out.push(check(big ? "pool: 2 threads ≥ 1.4× 1 thread" : "pool: 2 threads faster than 1", c, speedup, big ? 1.4 : 1, "ge"));
      }
    }
  }
  return out;
}

// ---- table ----

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(3)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

export const fmtRatio = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? "—" : `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`);
export const fmtGbps = (g: number | undefined) => (g === undefined || !Number.isFinite(g) ? "—" : g < 0.1 ? g.toFixed(3) : g.toFixed(2));

/** A plain-text table with columns padded to their widest cell (numbers right-aligned). */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  // numeric columns (every non-empty cell starts with a digit or —) are right-aligned
  const right = header.map((_, i) => i > 0 && rows.every((r) => (r[i] ?? "") === "" || /^[\d—]/.test(r[i]!)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ").trimEnd();
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

/** A GitHub-flavoured Markdown table; `|` in cells is escaped. */
export function markdownTable(header: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const sep = header.map((_, i) => (align?.[i] === "r" ? "---:" : "---"));
  return [header, sep, ...rows].map((r, k) => `| ${(k === 1 ? r : r.map(esc)).join(" | ")} |`).join("\n");
}

/** Rows of the results table: one per case × variant, skipped ones with their reason. */
export function variantLabel(peers: Hello[], id: string, op?: Op): string {
  for (const p of peers) for (const v of p.variants) if (v.id === id) return (op && v.opLabel?.[op]) || v.label;
  return id;
}

export function resultRows(r: Pick<Results, "measurements" | "peers">): string[][] {
  return r.measurements.map((m) => [
    caseKey(m.case),
    variantLabel(r.peers, m.variant, m.case.op),
    m.skip !== undefined ? `skipped: ${m.skip}` : fmtMs(m.medianMs),
    m.skip !== undefined ? "" : fmtGbps(m.gbps),
    m.skip !== undefined ? "" : fmtRatio(m.ratio),
    m.skip !== undefined ? "" : String(m.runs ?? m.times?.length ?? 0),
  ]);
}

/** "What was timed", one line per distinct description, naming the variants that share it. */
export function timedLines(peers: Hello[]): string[] {
  const byText = new Map<string, Set<string>>();
  for (const p of peers) {
    for (const v of p.variants) {
      for (const [d, s] of Object.entries(v.timed)) {
        const k = `${d}: ${s}`;
        // variants differing only in thread count share a description: name them once
        byText.set(k, (byText.get(k) ?? new Set()).add(v.label.replace(/, \d+ (intra-op )?threads?$/, "")));
      }
    }
  }
  return [...byText].map(([k, labels]) => `${[...labels].join(" / ")}, ${k}`);
}

export const loadText = (r: Pick<Results, "machine">) =>
  r.machine.loadavg ? `, load average ${r.machine.loadavg[0].toFixed(1)} at start, ${r.machine.loadavg[1].toFixed(1)} at end` : "";

/** One line on how far the peers' outputs were from normkit js's on the checked elements. */
export function crossCheckLine(ms: Measurement[]): string {
  const errs = ms.filter((m) => m.checkError !== undefined && !m.variant.startsWith("normkit-")).map((m) => m.checkError!);
  if (errs.length === 0) return "Cross-check: no peer output was compared with normkit js.";
  return `Cross-check: in ${errs.length} measured peer runs, the checked outputs (y or dx) differ from normkit js's by at most ${Math.max(...errs).toExponential(1)}.`;
}

export const RESULT_HEADER = ["case", "variant", "median", "GB/s", "× normkit", "runs"];

export function targetRows(ts: TargetCheck[]): string[][] {
  return ts.map((t) => [
    t.target,
    t.case,
    t.value === null ? "—" : `${t.value.toFixed(2)}×`,
    `${t.sense === "le" ? "≤" : "≥"} ${t.bound}`,
    t.pass === null ? `n/a${t.note ? ` (${t.note})` : ""}` : t.pass ? "met" : "missed",
  ]);
}

export const TARGET_HEADER = ["target", "case", "measured", "bound", "result"];
