/**
 * One benchmark child process: `node build/bench/child.js <peer>`. It loads one peer, answers run.ts
 * over stdin/stdout (one JSON message per line, see lib.ts) and times calls with performance.now().
 * Keeping each peer in its own process keeps their thread pools, allocators and JIT state apart.
 */
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { f32ToBf16BitsArray, f32ToF16BitsArray, bf16BitsToF32Array, f16BitsToF32Array } from "../src/dtype.js";
import { checkIndices, inputB, inputDy, inputR, inputW, inputX, isFused, type Case, type Hello, type Reply, type Request } from "./lib.js";

/**
 * Inputs of a case, generated identically in every child. In a half case the Float32Arrays hold
 * the half values exactly (rounded once from float32) and `bits` their bit patterns.
 */
export interface CaseData {
  c: Case;
  x: Float32Array;
  dy: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  /** the fused cases' residual (empty otherwise) */
  residual: Float32Array;
  bits?: { x: Uint16Array; dy: Uint16Array; weight: Uint16Array; bias: Uint16Array; residual: Uint16Array };
}

/**
 * A prepared variant: `run` is one timed call; `output` is what it computed (y forward, dx
 * backward), checked against the reference; absent for a variant that computes no norm (the floor).
 */
export interface Runner {
  run(): unknown;
  output?(): ArrayLike<number> | Promise<ArrayLike<number>>;
  /** a fused forward's h (x + residual), checked like the output */
  outputH?(): ArrayLike<number> | Promise<ArrayLike<number>>;
  /** called before each batch of timed calls (e.g. selects a backend or a thread count) */
  select?(): void | Promise<void>;
  /** already warmed up by prepare (for peers too slow to warm up at full size) */
  warmedUp?: boolean;
  dispose?(): void;
}

export interface Peer {
  hello(): Promise<Hello>;
  prepare(variant: string, d: CaseData): Promise<Runner | { skip: string }>;
}

export function makeData(c: Case): CaseData {
  const n = c.rows * c.D;
  const x = new Float32Array(n);
  const dy = new Float32Array(n);
  const residual = new Float32Array(isFused(c.op) ? n : 0);
  for (let i = 0; i < n; i++) {
    x[i] = inputX(i);
    dy[i] = inputDy(i);
  }
  for (let i = 0; i < residual.length; i++) residual[i] = inputR(i);
  const weight = new Float32Array(c.D);
  const bias = new Float32Array(c.D);
  for (let j = 0; j < c.D; j++) {
    weight[j] = inputW(j);
    bias[j] = inputB(j);
  }
  const d: CaseData = { c, x, dy, weight, bias, residual };
  if (c.dtype !== undefined) {
    const [encode, decode] = c.dtype === "float16" ? [f32ToF16BitsArray, f16BitsToF32Array] : [f32ToBf16BitsArray, bf16BitsToF32Array];
    const half = (a: Float32Array) => {
      const b = encode(a);
      decode(b, a); // the float32 copy holds the half values
      return b;
    };
    d.bits = { x: half(x), dy: half(dy), weight: half(weight), bias: half(bias), residual: half(residual) };
  }
  return d;
}


const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split("\n")[0]!.slice(0, 300);

export async function serve(peer: Peer): Promise<void> {
  const send = (m: Hello | Reply) => process.stdout.write(`${JSON.stringify(m)}\n`);
  let data: CaseData | null = null;
  let checkIdx: number[] = [];
  const runners = new Map<string, Runner | { skip: string }>();
  const release = () => {
    for (const r of runners.values()) {
      try {
        if ("run" in r) r.dispose?.();
      } catch {
        // a peer failing to free its buffers must not stop the benchmark; the process ends soon anyway
      }
    }
    runners.clear();
  };
  send(await peer.hello());
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as Request;
    try {
      if (req.cmd === "quit") break;
      if (req.cmd === "case") {
        release();
        data = null; // let the previous case's arrays go before allocating the next
        data = makeData(req.case);
        checkIdx = req.check ?? checkIndices(req.case);
        send({ ok: true });
        continue;
      }
      if (data === null) throw new Error("measure before case");
      let r = runners.get(req.variant);
      let warmupMs: number | undefined;
      let check: number[] | undefined;
      if (r === undefined) {
        const t0 = performance.now();
        try {
          r = await peer.prepare(req.variant, data);
        } catch (e) {
          r = { skip: errText(e) };
        }
        runners.set(req.variant, r);
        if ("run" in r) {
          await r.select?.();
          if (!r.warmedUp) {
            // warm up: JIT, lazy initialisation, first-touch of output pages
            const w0 = performance.now();
            let k = 0;
            do {
              const p = r.run();
              if (p instanceof Promise) await p;
              k++;
            } while (k < 3 && performance.now() - w0 < 200);
          }
        }
        warmupMs = performance.now() - t0;
      }
      if ("skip" in r) {
        send({ skip: r.skip });
        continue;
      }
      await r.select?.();
      const times: number[] = [];
      const start = performance.now();
      do {
        const t0 = performance.now();
        const p = r.run();
        if (p instanceof Promise) await p;
        times.push(performance.now() - t0);
      } while (times.length < req.maxReps && performance.now() - start < req.budgetMs);
      if (warmupMs !== undefined && r.output) {
        // the first batch also reports what the variant computed, for the checks
        const out = await r.output();
        check = checkIdx.map((i) => out[i]!);
        if (r.outputH) {
          const h = await r.outputH();
          check.push(...checkIdx.map((i) => h[i]!));
        }
      }
      send({ times, ...(check ? { check } : {}), ...(warmupMs !== undefined ? { warmupMs } : {}) });
    } catch (e) {
      send({ error: errText(e) });
    }
  }
  release();
}

// entry point: node build/bench/child.js <peer>
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const name = process.argv[2];
  const mods: Record<string, string> = {
    normkit: "./peer-normkit.js",
    normkit12: "./peer-normkit12.js",
    floor: "./peer-floor.js",
    onnxruntime: "./peer-ort.js",
    "onnxruntime-skip": "./peer-ort-skip.js",
    tfjs: "./peer-tfjs.js",
  };
  if (name === undefined || !(name in mods)) {
    process.stderr.write(`usage: child.js ${Object.keys(mods).join("|")}\n`);
    process.exit(2);
  }
  const mod = (await import(mods[name]!)) as { peer: Peer };
  await serve(mod.peer);
  process.exit(0);
}
