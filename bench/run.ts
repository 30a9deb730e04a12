/**
 * `npm run bench [-- --quick] [--only=normkit,floor,onnxruntime,tfjs,pytorch] [--cases='a|b…'] [--out=…]`: normkit's CPU
 * benchmark against its peers. One child process per peer (child.ts; peer_torch.py for PyTorch),
 * driven one at a time: for each case, R rounds, each round giving every variant a time slice in a
 * rotating order, so slow drifts of a shared machine hit all variants alike. Medians of every timed
 * call, GB/s from the bytes the case must move, ratios to normkit's best variant. Writes
 * bench/results/<date>-<host>.json and prints the table; anything that could not run is listed with
 * the reason.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { createInterface } from "node:readline";
import { REPO } from "./deps.js";
import {
  allCases, caseKey, evaluateTargets, summarize, textTable, resultRows, targetRows, RESULT_HEADER, TARGET_HEADER,
  checkIndices, crossCheckLine, loadText, matchesFilter, timedLines, variantCovers, BIG_SHAPE, LATENCY_SHAPE, THREADS_SHAPE,
  type Case, type Hello, type Measurement, type Reply, type Request, type Results, type VariantInfo,
} from "./lib.js";
import { evaluateTargets12, refCheck, refCheckLines, refCheckText } from "./lib12.js";

interface Settings {
  rounds: number;
  /** time slice per variant per round */
  sliceMs: number;
  /** a variant stops being measured in a case once its timed calls add up to this */
  capMs: number;
  /** a call (or warm-up) that runs longer than this is abandoned: the child is killed and restarted */
  callLimitMs: number;
  maxReps: number;
}

const FULL: Settings = { rounds: 7, sliceMs: 150, capMs: 3000, callLimitMs: 30_000, maxReps: 20_000 };
const QUICK: Settings = { rounds: 2, sliceMs: 25, capMs: 400, callLimitMs: 10_000, maxReps: 2_000 };

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Installs bench/'s peers on first use (onnxruntime-node's CUDA download is skipped: the CPU library ships in the package). */
export function ensurePeersInstalled(): void {
  if (existsSync(`${REPO}bench/node_modules`)) return;
  log("installing the benchmark's peers into bench/node_modules (first run) …");
  const r = spawnSync("npm", ["ci", "--prefix", `${REPO}bench`, "--no-audit", "--no-fund"], {
    stdio: "inherit",
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
    shell: process.platform === "win32",
  });
  if (r.status !== 0) log("npm ci --prefix bench failed: the peers that need it will be listed as skipped");
}

/** A python3 that imports torch, or the reasons none does. */
function findTorchPython(): { python: string } | { reason: string } {
  const tried: string[] = [];
  for (const py of [process.env["NORMKIT_BENCH_PYTHON"], "python3", "/usr/bin/python3"]) {
    if (!py || tried.some((t) => t.startsWith(`${py}:`))) continue;
    const r = spawnSync(py, ["-c", "import torch, numpy"], { encoding: "utf8" });
    if (r.status === 0) return { python: py };
    const why = r.error ? r.error.message : (r.stderr.trim().split("\n").at(-1) ?? `exit ${r.status}`);
    tried.push(`${py}: ${why}`);
  }
  return { reason: `no python3 that imports torch and numpy (${tried.join("; ")})` };
}

class Child {
  private proc: ChildProcess | null = null;
  private waiting: ((line: string) => void) | null = null;
  private stderrTail = "";
  hello: Hello | null = null;

  constructor(readonly peer: string, private readonly cmd: string, private readonly args: string[]) {}

  async start(): Promise<void> {
    this.proc = spawn(this.cmd, this.args, { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    this.stderrTail = "";
    this.proc.stderr!.on("data", (b: Buffer) => (this.stderrTail = (this.stderrTail + b.toString()).slice(-2000)));
    // peers may print banners on stdout: only lines that look like JSON messages are replies
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      if (line.startsWith("{") && this.waiting) this.waiting(line);
    });
    this.hello = (await this.receive(120_000)) as unknown as Hello;
    if (!this.hello || !Array.isArray(this.hello.variants)) throw new Error(`bad hello from ${this.peer}`);
  }

  private receive(timeoutMs: number): Promise<Record<string, unknown>> {
    const proc = this.proc!;
    return new Promise((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(timer);
        proc.off("exit", onExit);
        this.waiting = null;
        f();
      };
      const timer = setTimeout(() => done(() => reject(new TimeoutError(timeoutMs))), timeoutMs);
      const onExit = (code: number | null, sig: string | null) =>
        done(() => reject(new Error(`${this.peer} exited (${sig ?? code})${this.stderrTail ? `: ${lastLine(this.stderrTail)}` : ""}`)));
      proc.once("exit", onExit);
      this.waiting = (line) => done(() => resolve(JSON.parse(line)));
    });
  }

  request(req: Request, timeoutMs: number): Promise<Reply> {
    this.proc!.stdin!.write(`${JSON.stringify(req)}\n`);
    return this.receive(timeoutMs) as Promise<Reply>;
  }

  kill(): void {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGKILL");
    this.proc = null;
  }

  async quit(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    p.stdin!.write(`${JSON.stringify({ cmd: "quit" })}\n`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { p.kill("SIGKILL"); resolve(); }, 5000);
      p.once("exit", () => { clearTimeout(t); resolve(); });
    });
  }
}

class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms / 1000} s`);
  }
}

const lastLine = (s: string) => s.trim().split("\n").filter((l) => l.trim() !== "").at(-1)?.slice(0, 300) ?? "";

/** Cases a peer is not run on, by policy (not by failure), with the reason. */
function policySkip(v: VariantInfo, c: Case, quick: boolean): string | undefined {
  if (v.peer !== "tfjs") return undefined;
  if (c.rows === THREADS_SHAPE[0] && c.D === THREADS_SHAPE[1]) return "not run at the threads-comparison shape (single-threaded, and seconds per call at the other shapes)";
  if (c.rows === BIG_SHAPE[0] && c.D === BIG_SHAPE[1]) return "not run at [4096, 4096] (single-threaded, and seconds per call at the other shapes)";
  if (quick && !(c.rows === LATENCY_SHAPE[0] && c.D === LATENCY_SHAPE[1])) return "quick mode runs tfjs at [64, 768] only";
  return undefined;
}

function parseArgs(argv: string[]) {
  const quick = argv.includes("--quick");
  const only = argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
  const out = argv.find((a) => a.startsWith("--out="))?.slice(6);
  const cases = argv.find((a) => a.startsWith("--cases="))?.slice(8);
  return { quick, only, out, cases };
}

export async function main(argv: string[]): Promise<Results> {
  const t0 = Date.now();
  const load0 = os.loadavg()[0]!;
  const args = parseArgs(argv);
  const S = args.quick ? QUICK : FULL;
  ensurePeersInstalled();

  const node = process.execPath;
  const childJs = `${REPO}build/bench/child.js`;
  const specs: { peer: string; cmd: string; args: string[] }[] = [
    { peer: "normkit", cmd: node, args: [childJs, "normkit"] },
    { peer: "normkit12", cmd: node, args: [childJs, "normkit12"] },
    { peer: "floor", cmd: node, args: [childJs, "floor"] },
    { peer: "onnxruntime", cmd: node, args: [childJs, "onnxruntime"] },
    { peer: "onnxruntime-skip", cmd: node, args: [childJs, "onnxruntime-skip"] },
    { peer: "tfjs", cmd: node, args: [childJs, "tfjs"] },
  ];
  const skippedPeers: { peer: string; reason: string }[] = [];
  const py = findTorchPython();
  // one process per thread count (see peer_torch.py)
  if ("python" in py) for (const t of [1, 2]) specs.push({ peer: `pytorch-${t}t`, cmd: py.python, args: [`${REPO}bench/peer_torch.py`, String(t)] });
  else skippedPeers.push({ peer: "pytorch", reason: py.reason });

  const children: Child[] = [];
  for (const s of specs) {
    if (args.only && !args.only.some((o) => s.peer.startsWith(o))) continue;
    const ch = new Child(s.peer, s.cmd, s.args);
    try {
      await ch.start();
      children.push(ch);
      log(`started ${s.peer}: ${ch.hello!.variants.map((v) => v.id + (v.skip ? " (skipped)" : "")).join(", ")}`);
    } catch (e) {
      ch.kill();
      skippedPeers.push({ peer: s.peer, reason: (e as Error).message });
      log(`skipped ${s.peer}: ${(e as Error).message}`);
    }
  }
  const peers = children.map((c) => c.hello!);

  const measurements: Measurement[] = [];
  // quick mode (a smoke test of every peer and direction) keeps two shapes
  const quickShape = (c: Case) => (c.rows === LATENCY_SHAPE[0] && c.D === LATENCY_SHAPE[1]) || (c.rows === 4096 && c.D === 768);
  const cases = allCases().filter((c) => matchesFilter(c, args.cases) && (!args.quick || quickShape(c)));
  for (const c of cases) {
    const key = caseKey(c);
    log(`${key}`);
    const live = new Map<Child, boolean>();
    const check = checkIndices(c);
    const caseReq: Request = { cmd: "case", case: c, check };
    // children none of whose variants runs the case are not asked to prepare it
    const involved = children.filter((ch) => ch.hello!.variants.some((v) => variantCovers(v, c)));
    for (const ch of involved) {
      try {
        await ch.request(caseReq, 120_000);
        live.set(ch, true);
      } catch (e) {
        live.set(ch, false);
        log(`  ${ch.peer} failed to prepare the case: ${(e as Error).message}`);
      }
    }
    const todo: { v: VariantInfo; ch: Child; m: Measurement; spent: number }[] = [];
    for (const ch of involved) {
      for (const v of ch.hello!.variants) {
        if (!variantCovers(v, c)) continue;
        const m: Measurement = { case: c, variant: v.id };
        measurements.push(m);
        const skip = v.skip ?? policySkip(v, c, args.quick) ?? (live.get(ch) ? undefined : `${ch.peer} could not prepare this case`);
        if (skip !== undefined) m.skip = skip;
        else todo.push({ v, ch, m, spent: 0 });
      }
    }
    for (let r = 0; r < S.rounds; r++) {
      // rotate (and on odd rounds reverse) the order, so no variant always runs right after another
      const order = todo.map((_, i) => todo[(i + r) % todo.length]!);
      if (r % 2 === 1) order.reverse();
      for (const t of order) {
        if (t.m.skip !== undefined || t.spent >= S.capMs) continue;
        let reply: Reply;
        try {
          reply = await t.ch.request({ cmd: "measure", variant: t.v.id, budgetMs: S.sliceMs, maxReps: S.maxReps }, S.callLimitMs + S.sliceMs);
        } catch (e) {
          const timedOut = e instanceof TimeoutError;
          t.m.skip = timedOut
            ? `a call did not finish within ${Math.round((S.callLimitMs + S.sliceMs) / 1000)} s (child killed)`
            : `child died: ${(e as Error).message}`;
          log(`  ${t.v.id}: ${t.m.skip}; restarting ${t.ch.peer}`);
          t.ch.kill();
          try {
            await t.ch.start();
            await t.ch.request(caseReq, 120_000);
          } catch (e2) {
            log(`  ${t.ch.peer} did not restart: ${(e2 as Error).message}`);
            for (const o of todo) if (o.ch === t.ch && o.m.skip === undefined) o.m.skip = `${t.ch.peer} did not restart`;
          }
          continue;
        }
        if ("skip" in reply) t.m.skip = reply.skip;
        else if ("error" in reply) t.m.skip = `error: ${reply.error}`;
        else if ("times" in reply) {
          (t.m.times ??= []).push(...reply.times);
          t.spent += reply.times.reduce((a, b) => a + b, 0);
          if (reply.check) {
            (t.m as Measurement & { check?: number[] }).check = reply.check;
            // once per case: a wrong result is not timed further (and its times are dropped)
            const r = refCheck(c, check, reply.check);
            t.m.refError = r.error;
            if (!r.ok) {
              t.m.skip = refCheckText(c, check, reply.check, r);
              log(`  ${t.v.id}: ${t.m.skip}`);
            }
          }
        }
      }
    }
    for (const t of todo) {
      if (t.m.skip !== undefined) delete t.m.times;
    }
    const done = todo.filter((t) => t.m.times).map((t) => `${t.v.id} ${t.m.times!.length}`);
    log(`  runs: ${done.join(", ")}`);
  }
  await Promise.all(children.map((ch) => ch.quit()));

  const isNormkit = (v: string) => v.startsWith("normkit-");
  summarize(measurements, isNormkit);
  crossCheck(measurements);
  for (const m of measurements) delete m.times; // the file keeps runs and quartiles
  const allTargets = evaluateTargets(measurements, {
    normkit1: ["normkit-js", "normkit-wasm", "normkit-wasm-out"],
    normkitPool: "normkit-wasm-2t",
    normkitPoolBase: "normkit-wasm-1t",
    copy: "copy",
    torch1: ["torch-1t"],
    ort1: ["ort-1t"],
  });
  allTargets.push(...evaluateTargets12(measurements, {
    normkit1: ["normkit-js", "normkit-wasm", "normkit-wasm-out", "normkit-fn-js", "normkit-fn-wasm", "normkit-fn-wasm-out", "normkit-fn-wasm-inplace"],
    ortFused1: ["ort-skip-1t"],
  }));
  // a partial run (--cases, --quick) lists the targets of the cases it ran
  const ran = new Set(cases.map(caseKey));
  const targets = allTargets.filter((t) => ran.has(t.case));
  const now = new Date();
  const cpus = os.cpus();
  const results: Results = {
    date: now.toISOString(),
    host: os.hostname(),
    quick: args.quick,
    ...(args.cases || args.only ? { filters: { cases: args.cases, only: args.only } } : {}),
    machine: {
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadavg: [load0, os.loadavg()[0]!],
    },
    peers,
    skippedPeers,
    measurements,
    targets,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  const dir = `${REPO}bench/results`;
  mkdirSync(dir, { recursive: true });
  const file = args.out ?? `${dir}/${now.toISOString().slice(0, 10)}-${os.hostname().replace(/[^\w.-]/g, "_")}${args.quick ? "-quick" : ""}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
  process.stdout.write(`${printable(results)}\nwrote ${file}\n`);
  return results;
}

/**
 * Each variant's checked outputs against normkit js's (same inputs in every child; #12's cases:
 * normkit-fn-js's): a peer that computes something else (another eps, no affine) shows up here
 * rather than as a fast time. The float64 reference check (lib12.ts) is the stricter test.
 */
function crossCheck(ms: Measurement[]): void {
  type M = Measurement & { check?: number[] };
  const refs = new Map<string, number[]>();
  for (const o of ms as M[]) if ((o.variant === "normkit-js" || o.variant === "normkit-fn-js") && o.check) refs.set(caseKey(o.case), o.check);
  for (const m of ms as M[]) {
    const ref = refs.get(caseKey(m.case));
    if (m.check && ref && m.check.length === ref.length) {
      m.checkError = Math.max(...m.check.map((v, i) => Math.abs(v - ref[i]!)));
    }
    delete m.check;
  }
}

/** The terminal report: per-case table, what was timed, skips grouped by reason, targets. */
export function printable(r: Results): string {
  const measured = r.measurements.filter((m) => m.skip === undefined && m.medianMs !== undefined);
  const lines: string[] = [];
  lines.push(`normkit benchmark — ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.platform}, node ${r.machine.node}${loadText(r)}${r.quick ? " (QUICK MODE: few runs, not for quoting)" : ""}`);
  lines.push(`peers: ${r.peers.map((p) => `${p.peer} (${Object.entries(p.versions).map(([k, v]) => `${k} ${v}`).join(", ") || "built in"})`).join("; ")}`);
  lines.push("");
  lines.push(textTable(RESULT_HEADER, resultRows({ ...r, measurements: measured })));
  lines.push("");
  lines.push(crossCheckLine(r.measurements));
  const ref = refCheckLines(r.measurements);
  if (ref.length) lines.push(`Reference check (float64, once per case; error in units of the dtype's epsilon × the row's largest |value|): ${ref.join("; ")}.`);
  // half outputs differ by their ulps (bfloat16: 2⁻⁶ at 2); the reference check above bounds those
  const bad = measured.filter((m) => m.checkError !== undefined && m.checkError > 1e-3 && m.case.dtype === undefined);
  if (bad.length) {
    lines.push("");
    lines.push("WARNING: outputs differing from normkit js by more than 1e-3:");
    for (const m of bad) lines.push(`  ${caseKey(m.case)} ${m.variant}: ${m.checkError!.toExponential(2)}`);
  }
  lines.push("");
  lines.push("What was timed:");
  for (const l of timedLines(r.peers)) lines.push(`  ${l}`);
  const skips = new Map<string, string[]>();
  for (const m of r.measurements) {
    if (m.skip === undefined) continue;
    const k = `${m.variant}: ${m.skip}`;
    skips.set(k, [...(skips.get(k) ?? []), caseKey(m.case)]);
  }
  lines.push("");
  lines.push("Skipped:");
  for (const p of r.skippedPeers) lines.push(`  peer ${p.peer}: ${p.reason}`);
  for (const [k, cs] of skips) lines.push(`  ${k} [${cs.length} case${cs.length > 1 ? "s" : ""}${cs.length <= 3 ? `: ${cs.join("; ")}` : ""}]`);
  lines.push("");
  lines.push("Targets of the issues (normkit's best 1-thread variant unless stated):");
  lines.push(textTable(TARGET_HEADER, targetRows(r.targets)));
  lines.push("");
  lines.push(`${r.seconds} s in all`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"))) {
  await main(process.argv.slice(2));
}
