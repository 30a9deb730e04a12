/**
 * normkit's variants for issue #12's cases, in their own child process: the fused residual add +
 * norm (`addLayerNorm`/`addRmsNorm` and their backward) in float32 and half storage, and the plain
 * norms on bfloat16/float16 tensors (Uint16Array data, `dtype` on the tensor). The classic float32
 * cases stay with peer-normkit.ts. Called through the functional API as a user would:
 * - fresh outputs each call (js and wasm backends);
 * - `out`/`residualOut` (and backward `out`/`into`) reused, as the classic `out=` variant;
 * - `residualOut: residual`, h written over the residual in place (FlashInfer's fused_add_rmsnorm);
 * - the worker pool, 2 threads, inputs and outputs in SharedArrayBuffers.
 * Backward is handed the statistics its forward returned (`mean`/`rstd`), as autograd does.
 */
import type { CaseData, Peer, Runner } from "./child.js";
import { halfValues } from "./lib12.js";
import { EPS, hasBias, isFused, type Case, type Coverage } from "./lib.js";
import * as nk from "../src/index.js";

type Fn = (...args: unknown[]) => any;
interface HalfTensor { shape: readonly number[]; data: Float32Array | Uint16Array; dtype?: "float16" | "bfloat16" }

/** The ops the variants call, by name (the test passes stand-ins under the same names). */
const OPS: Record<string, Fn> = {
  layerNorm: nk.layerNorm, rmsNorm: nk.rmsNorm, layerNormForward: nk.layerNormForward, rmsNormForward: nk.rmsNormForward,
  layerNormBackward: nk.layerNormBackward, rmsNormBackward: nk.rmsNormBackward,
  addLayerNorm: nk.addLayerNorm, addRmsNorm: nk.addRmsNorm, addLayerNormBackward: nk.addLayerNormBackward, addRmsNormBackward: nk.addRmsNormBackward,
} as Record<string, Fn>;
const FORWARD = { layerNorm: "layerNormForward", rmsNorm: "rmsNormForward", addLayerNorm: "addLayerNorm", addRmsNorm: "addRmsNorm" } as const;
const BACKWARD = { layerNorm: "layerNormBackward", rmsNorm: "rmsNormBackward", addLayerNorm: "addLayerNormBackward", addRmsNorm: "addRmsNormBackward" } as const;

let pool: Record<string, Fn | undefined> | null = null;
let poolError = "";

const FUSED_AND_HALF: Coverage[] = [
  { ops: ["addLayerNorm", "addRmsNorm"], dtypes: ["float32", "float16", "bfloat16"] },
  { ops: ["layerNorm", "rmsNorm"], dtypes: ["float16", "bfloat16"] },
];
const timedFresh = {
  "fused forward": "addLayerNorm/addRmsNorm(x, residual, D, { weight, bias }): validation, fresh y and h, kernel",
  "fused backward": "addLayerNormBackward/addRmsNormBackward(dy, h, D, { weight, bias, mean, rstd }): the forward's statistics, fresh dx, dγ, dβ",
  "half forward": "layerNorm/rmsNorm(x, D, { weight, bias }) on half tensors (Uint16Array data, dtype): fresh y",
  "half backward": "layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd }) on half tensors: fresh dx, dγ, dβ",
};
const timedOut = {
  "fused forward": "addLayerNorm/addRmsNorm(x, residual, D, { weight, bias, out, residualOut }): y and h into reused tensors",
  "fused backward": "addLayerNormBackward/addRmsNormBackward(dy, h, D, { weight, bias, mean, rstd, out, into }): dx into a reused tensor, dγ/dβ added into reused ones",
  "half forward": "layerNorm/rmsNorm(x, D, { weight, bias, out }) on half tensors: y into a reused tensor",
  "half backward": "layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd, out, into }) on half tensors",
};

export const peer: Peer = {
  async hello() {
    try {
      pool = (await nk.createPool({ threads: 2 })) as unknown as Record<string, Fn | undefined>;
    } catch (e) {
      poolError = `createPool({ threads: 2 }) threw: ${(e as Error).message}`;
    }
    const v = (id: string, label: string, threads: number, timed: Record<string, string>, covers = FUSED_AND_HALF, skip?: string) =>
      ({ id, peer: "normkit12", label, threads, timed, covers, ...(skip ? { skip } : {}) });
    return {
      peer: "normkit12",
      versions: { normkit: "working tree", backends: nk.listBackends().join(",") },
      variants: [
        v("normkit-fn-js", "normkit js, fresh outputs", 1, timedFresh),
        v("normkit-fn-wasm", "normkit wasm, fresh outputs", 1, timedFresh),
        v("normkit-fn-wasm-out", "normkit wasm, out=/residualOut= (reused outputs)", 1, timedOut),
        v("normkit-fn-wasm-inplace", "normkit wasm, residualOut = residual (h in place)", 1, {
          "fused forward": "addLayerNorm/addRmsNorm(x, residual, D, { weight, bias, out, residualOut: residual }): h over the residual (x and −x alternate, so the stream stays bounded)",
        }, [{ ops: ["addLayerNorm", "addRmsNorm"], dtypes: ["float32", "float16", "bfloat16"], dirs: ["forward"] }]),
        v("normkit-fn-2t-shared", "normkit wasm pool, 2 threads, shared inputs and outputs", 2, {
          "fused forward": "await pool.addLayerNorm/addRmsNorm(x, residual, D, { weight, bias, out, residualOut }), every tensor in a SharedArrayBuffer",
          "fused backward": "await pool.addLayerNormBackward/addRmsNormBackward(dy, h, D, { weight, bias, mean, rstd, out, into }), shared",
          "half forward": "await pool.layerNorm/rmsNorm(x, D, { weight, bias, out }) on shared half tensors",
          "half backward": "await pool.layerNormBackward/rmsNormBackward(dy, x, D, { …, mean, rstd, out, into }) on shared half tensors",
        }, FUSED_AND_HALF, pool === null ? poolError : undefined),
      ],
    };
  },

  async prepare(variant, d) {
    const shared = variant === "normkit-fn-2t-shared";
    const p = shared ? pool : null;
    if (shared && p === null) return { skip: poolError };
    return prepareVariant(variant, d, p);
  },
};

/**
 * One variant's runner on the synchronous ops in `fns` (normkit's exports; a test passes others),
 * or on the pool `p`: "-out" and the pool reuse out/residualOut/into, "-inplace" writes h over
 * the residual.
 */
export function prepareVariant(variant: string, d: CaseData, p: Record<string, Fn | undefined> | null, fns: Record<string, Fn> = OPS): Runner {
  const backend = variant === "normkit-fn-js" ? "js" : "wasm";
  nk.setBackend(backend);
  const reuse = variant === "normkit-fn-wasm-out" || p !== null;
  const inPlace = variant === "normkit-fn-wasm-inplace";
  const c = d.c;
  const half = c.dtype;
  const shape = [c.rows, c.D];
  const sharedMem = p !== null;
  // a tensor of the case's dtype holding `f32` (float32) or `bits` (half), in a SharedArrayBuffer for the pool
  const ten = (f32: Float32Array, bits: Uint16Array | undefined, s: number[]): HalfTensor => {
    const src = half ? bits! : f32;
    const data = sharedMem ? sharedCopy(src) : src;
    return half ? { shape: s, data, dtype: half } : { shape: s, data };
  };
  const empty = (s: number[]) => ten(new Float32Array(s.reduce((a, b) => a * b, 1)), half ? new Uint16Array(s.reduce((a, b) => a * b, 1)) : undefined, s);
  const values = (t: HalfTensor) => (t.data instanceof Uint16Array ? halfValues(t.data, half ?? "bfloat16") : t.data);
  const b = d.bits;
  const x = ten(d.x, b?.x, shape);
  const params = {
    weight: ten(d.weight, b?.weight, [c.D]),
    ...(hasBias(c.op) ? { bias: ten(d.bias, b?.bias, [c.D]) } : {}),
    eps: EPS,
  };
  const fused = isFused(c.op);
  // in place, h goes over the residual: a private copy, as the case's inputs serve every variant
  const residual = !fused ? null : inPlace ? { ...ten(d.residual, b?.residual, shape), data: (half ? b!.residual : d.residual).slice() } : ten(d.residual, b?.residual, shape);
  const call = (name: string): Fn => {
    if (p === null) return fns[name]!;
    return p[name]!.bind(p);
  };
  const select = () => void nk.setBackend(backend);

  if (c.dir === "forward") {
    const fn = call(c.op); // rmsNorm: y; addRmsNorm: { y, h, rstd }
    const out = reuse || inPlace ? { out: empty(shape), ...(fused ? { residualOut: inPlace ? residual! : empty(shape) } : {}) } : {};
    const opts = { ...params, ...out };
    const args = (xt: HalfTensor) => (fused ? [xt, residual, c.D, opts] : [xt, c.D, opts]);
    let last: { y: HalfTensor; h?: HalfTensor } | null = null;
    const keep = (r: any) => void (last = fused ? r : { y: r });
    if (!inPlace) {
      const a = args(x);
      return {
        select,
        run: p === null ? () => keep(fn(...a)) : async () => keep(await fn(...a)),
        output: () => values(last!.y),
        outputH: fused ? () => values(last!.h!) : undefined,
      };
    }
    // in place: the stream grows by x each call, so x and −x alternate (the same work); the check
    // restores the residual and makes one call with x
    const original = residual!.data.slice();
    const negated = half ? (x.data as Uint16Array).map((v) => v ^ 0x8000) : (x.data as Float32Array).map((v) => -v);
    const xs = [args(x), args({ ...x, data: negated })];
    let k = 0;
    return {
      select,
      run: () => keep(fn(...xs[k++ & 1]!)),
      output: () => {
        residual!.data.set(original as never);
        keep(fn(...xs[0]!));
        k = 1;
        return values(last!.y);
      },
      outputH: () => values(last!.h!),
    };
  }

  // backward: the statistics (and h) a forward on the calling thread returns, then the timed call
  const f = fns[FORWARD[c.op]]!(...(fused ? [x, residual, c.D, params] : [x, c.D, params]));
  // statistics are float32 tensors whatever the dtype; h has x's
  const stat = (t: HalfTensor) => ({ shape: [c.rows], data: sharedMem ? sharedCopy(t.data) : t.data });
  const stats = { ...(hasBias(c.op) ? { mean: stat(f.mean) } : {}), rstd: stat(f.rstd) };
  const xin: HalfTensor = fused ? { ...f.h, data: sharedMem ? sharedCopy(f.h.data) : f.h.data } : x;
  const into = reuse ? { into: { dweight: empty([c.D]), dbias: hasBias(c.op) ? empty([c.D]) : null } } : {};
  const opts = { ...params, ...stats, ...(reuse ? { out: empty(shape) } : {}), ...into };
  const a = [ten(d.dy, b?.dy, shape), xin, c.D, opts];
  const fn = call(BACKWARD[c.op]);
  let last: { dx: HalfTensor } | null = null;
  return {
    select,
    run: p === null ? () => void (last = fn(...a)) : async () => void (last = await fn(...a)),
    output: () => values(last!.dx),
  };
}

/** A copy of `a` in a SharedArrayBuffer (same element type). */
function sharedCopy<T extends Float32Array | Uint16Array>(a: T): T {
  const s = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  s.set(a as never);
  return s;
}

process.on("exit", () => void pool?.["close"]?.());
