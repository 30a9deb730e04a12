/**
 * normkit's variants: the synchronous ops on the `js` and `wasm` backends, and the worker pool
 * (`createPool({ threads })`, 2 threads, and 1 thread as the like-for-like base of the threads
 * comparison) when the package exports it. The synchronous ops are timed the way PyTorch's autograd
 * runs them: the LayerNorm/RMSNorm modules' forward (which saves mean/rstd) and their backward from
 * those saved statistics (dx written, dγ/dβ accumulated). The plain pool variants time the
 * public signatures as they come (backward recomputes the statistics); the `out` variants reuse
 * outputs, and their backward passes the statistics saved by forward (`mean`/`rstd`), writes dx
 * into `out` and adds dγ/dβ `into` reused tensors. The `resident` variants (issue #11) hold every
 * tensor in normkit's WebAssembly memory (`wasmTensor`): x, dy, out, the saved statistics, the
 * weights and the gradients `into`, on one thread and on the pool with 2 threads, so the kernels
 * run in place: the fastest way to call each.
 */
import type { Peer, Runner } from "./child.js";
import { EPS } from "./lib.js";
import * as nk from "../src/index.js";
import type { Tensor } from "../src/index.js";

type AsyncOp = (...args: unknown[]) => Promise<Tensor | { dx: Tensor }>;
interface Pool {
  layerNorm: AsyncOp; layerNormBackward: AsyncOp; rmsNorm: AsyncOp; rmsNormBackward: AsyncOp;
  layerNormForward?: (...args: unknown[]) => Promise<{ mean?: Tensor; rstd: Tensor }>;
  rmsNormForward?: (...args: unknown[]) => Promise<{ rstd: Tensor }>;
  close(): unknown;
}
const createPool = (nk as Record<string, unknown>)["createPool"] as ((o: { threads: number }) => Promise<Pool> | Pool) | undefined;
/** normkit's resident tensors (issue #11), where this build has them */
const wasmTensor = (nk as Record<string, unknown>)["wasmTensor"] as ((shape: number[], data?: Float32Array) => Tensor & { free(): void }) | undefined;

const pools = new Map<number, Pool>();
const poolErrors = new Map<number, string>();
const POOL_THREADS = [2, 1];

const syncTimed = {
  forward: "module.forward(x): validation, allocation of y/mean/rstd, kernel",
  backward: "module.backward(dy) from the statistics saved by forward: dx written, dγ/dβ accumulated",
};

function backendSkip(name: string): string | undefined {
  if (nk.listBackends().includes(name)) return undefined;
  try {
    nk.setBackend(name);
    return undefined;
  } catch (e) {
    return `setBackend('${name}') threw: ${(e as Error).message}`;
  }
}

export const peer: Peer = {
  async hello() {
    for (const t of POOL_THREADS) {
      if (createPool === undefined) poolErrors.set(t, "createPool is not exported by this normkit build");
      else {
        try {
          pools.set(t, await createPool({ threads: t }));
        } catch (e) {
          poolErrors.set(t, `createPool({ threads: ${t} }) threw: ${(e as Error).message}`);
        }
      }
    }
    const poolTimed = {
      forward: "await pool.layerNorm/rmsNorm(x, D, { weight, bias })",
      backward: "await pool.layerNormBackward/rmsNormBackward(dy, x, D, …): the public signature, which recomputes the statistics",
    };
    const wasmSkip = backendSkip("wasm");
    const residentSkip = wasmTensor === undefined ? "wasmTensor is not exported by this normkit build" : undefined;
    return {
      peer: "normkit",
      versions: { normkit: "working tree", backends: nk.listBackends().join(",") },
      variants: [
        { id: "normkit-js", peer: "normkit", label: "normkit js", threads: 1, timed: syncTimed },
        { id: "normkit-wasm", peer: "normkit", label: "normkit wasm", threads: 1, timed: syncTimed, ...(wasmSkip ? { skip: wasmSkip } : {}) },
        {
          id: "normkit-wasm-out", peer: "normkit", label: "normkit wasm, out= (reused outputs)", threads: 1,
          timed: {
            forward: "layerNorm/rmsNorm(x, D, { weight, bias, out }): validation, kernel, y written into a reused tensor",
            backward: "layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd, out, into }): saved statistics, dx into a reused tensor, dγ/dβ added into reused tensors",
          },
          ...(wasmSkip ? { skip: wasmSkip } : {}),
        },
        {
          id: "normkit-wasm-resident", peer: "normkit", label: "normkit wasm, resident tensors", threads: 1,
          timed: {
            forward: "layerNorm/rmsNorm(x, D, { weight, bias, out }) with every tensor a wasmTensor (in wasm memory): the kernel in place",
            backward: "layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd, out, into }), every tensor a wasmTensor",
          },
          ...(wasmSkip || residentSkip ? { skip: wasmSkip ?? residentSkip! } : {}),
        },
        {
          id: "normkit-wasm-2t-resident", peer: "normkit", label: "normkit wasm pool, 2 threads, resident tensors", threads: 2,
          timed: {
            forward: "await pool.layerNorm/rmsNorm(x, D, { weight, bias, out }), every tensor a wasmTensor: both threads in place",
            backward: "await pool.layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd, out, into }), every tensor a wasmTensor",
          },
          ...(poolErrors.has(2) || residentSkip ? { skip: poolErrors.get(2) ?? residentSkip! } : {}),
        },
        {
          id: "normkit-wasm-2t-shared", peer: "normkit", label: "normkit wasm pool, 2 threads, shared x and out", threads: 2,
          timed: {
            forward: "await pool.layerNorm/rmsNorm(x, D, { weight, bias, out }) with x and out in SharedArrayBuffers (sharedTensor), out reused: the pool copies them into its wasm memory and back",
            backward: "await pool.layerNormBackward/rmsNormBackward(dy, x, D, { weight, bias, mean, rstd, out, into }): x, dy, statistics and out shared, out and into reused",
          },
          ...(poolErrors.has(2) ? { skip: poolErrors.get(2)! } : {}),
        },
        ...POOL_THREADS.map((t) => ({
          id: `normkit-wasm-${t}t`, peer: "normkit", label: `normkit wasm pool, ${t} thread${t > 1 ? "s" : ""}`, threads: t, timed: poolTimed,
          ...(poolErrors.has(t) ? { skip: poolErrors.get(t)! } : {}),
        })),
      ],
    };
  },

  async prepare(variant, d) {
    const { c } = d;
    const x: Tensor = nk.tensor(d.x, [c.rows, c.D]);
    const dy: Tensor = nk.tensor(d.dy, [c.rows, c.D]);
    const paramOpts = () => c.op === "layerNorm"
      ? { weight: nk.tensor(d.weight, [c.D]), bias: nk.tensor(d.bias, [c.D]), eps: EPS }
      : { weight: nk.tensor(d.weight, [c.D]), eps: EPS };
    if (variant === "normkit-wasm-out" || variant === "normkit-wasm-2t-shared" || variant.endsWith("resident")) {
      const shared = variant === "normkit-wasm-2t-shared";
      const resident = variant.endsWith("resident");
      const pooled = shared || variant === "normkit-wasm-2t-resident";
      const p = pooled ? pools.get(2) : undefined;
      if (pooled && p === undefined) return { skip: poolErrors.get(2) ?? "no pool" };
      if (resident && wasmTensor === undefined) return { skip: "wasmTensor is not exported by this normkit build" };
      const made: Array<{ free(): void }> = [];
      if (!pooled && backendSkip("wasm")) return { skip: backendSkip("wasm")! };
      if (c.dir === "backward" && (nk as Record<string, unknown>)["layerNormForward"] === undefined) return { skip: "this normkit build has no saved-statistics backward" };
      const ten = (data: Float32Array, shape: number[]): Tensor => {
        if (!resident) return shared ? nk.sharedTensor(shape, data) : nk.tensor(data, shape);
        const t = wasmTensor!(shape, data);
        made.push(t);
        return t;
      };
      const params = () => (resident
        ? c.op === "layerNorm"
          ? { weight: ten(d.weight, [c.D]), bias: ten(d.bias, [c.D]), eps: EPS }
          : { weight: ten(d.weight, [c.D]), eps: EPS }
        : paramOpts());
      const xs = ten(d.x, [c.rows, c.D]);
      const out = ten(new Float32Array(c.rows * c.D), [c.rows, c.D]);
      const ln = c.op === "layerNorm";
      let opts: Record<string, unknown> = { ...params(), out };
      let args: unknown[] = [xs, c.D, opts];
      if (c.dir === "backward") {
        // the statistics forward saved (computed by the same code the timed call would use)
        nk.setBackend("wasm");
        const stats = ln
          ? (({ mean, rstd }) => ({ mean: ten(mean.data, [c.rows]), rstd: ten(rstd.data, [c.rows]) }))(nk.layerNormForward(xs, c.D, paramOpts()))
          : { rstd: ten(nk.rmsNormForward(xs, c.D, paramOpts()).rstd.data, [c.rows]) };
        const into = resident
          ? { dweight: ten(new Float32Array(c.D), [c.D]), dbias: ln ? ten(new Float32Array(c.D), [c.D]) : null }
          : { dweight: nk.tensor(new Float32Array(c.D), [c.D]), dbias: ln ? nk.tensor(new Float32Array(c.D), [c.D]) : null };
        opts = { ...params(), ...stats, out, into };
        args = [ten(d.dy, [c.rows, c.D]), xs, c.D, opts];
      }
      type Op = (...a: unknown[]) => unknown;
      const sync = (c.dir === "forward" ? (ln ? nk.layerNorm : nk.rmsNorm) : ln ? nk.layerNormBackward : nk.rmsNormBackward) as Op;
      const fn = p === undefined ? null : ((c.dir === "forward" ? (ln ? p.layerNorm : p.rmsNorm) : ln ? p.layerNormBackward : p.rmsNormBackward) as Op);
      return {
        select: () => nk.setBackend("wasm"),
        run: fn === null ? () => void sync(...args) : async () => void (await fn.apply(p, args)),
        output: () => out.data.slice(),
        dispose: () => made.forEach((t) => t.free()),
      } satisfies Runner;
    }
    const poolThreads = /^normkit-wasm-(\d+)t$/.exec(variant)?.[1];
    if (poolThreads !== undefined) {
      const p = pools.get(Number(poolThreads));
      if (p === undefined) return { skip: poolErrors.get(Number(poolThreads)) ?? "no pool" };
      const opts = paramOpts();
      let last: Float32Array = new Float32Array(0);
      const fn = c.dir === "forward" ? (c.op === "layerNorm" ? p.layerNorm : p.rmsNorm) : c.op === "layerNorm" ? p.layerNormBackward : p.rmsNormBackward;
      const args = c.dir === "forward" ? [x, c.D, opts] : [dy, x, c.D, opts];
      return {
        run: async () => {
          const r = await fn.apply(p, args);
          last = "dx" in r ? r.dx.data : r.data;
        },
        output: () => last,
      } satisfies Runner;
    }
    const backend = variant === "normkit-js" ? "js" : variant === "normkit-wasm" ? "wasm" : null;
    if (backend === null) return { skip: `unknown variant ${variant}` };
    const why = backendSkip(backend);
    if (why) return { skip: why };
    const m = c.op === "layerNorm" ? new nk.LayerNorm(c.D, { eps: EPS }) : new nk.RMSNorm(c.D, { eps: EPS });
    m.weight!.value.data.set(d.weight);
    if (c.op === "layerNorm") m.bias!.value.data.set(d.bias);
    let last = m.forward(x).data;
    return {
      select: () => nk.setBackend(backend),
      run: c.dir === "forward" ? () => { last = m.forward(x).data; } : () => { last = m.backward(dy).data; },
      output: () => last,
    } satisfies Runner;
  },
};

process.on("exit", () => { for (const p of pools.values()) void p.close(); });
