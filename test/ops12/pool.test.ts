/**
 * The pool on issue #12's calls: every golden case of the row ops (half storage, weightOffset,
 * castingMode, the fused add) and of BatchNorm through the workers (minElements 0) gives the
 * synchronous wasm backend's bits — y, h, dx, statistics for any thread count; the column sums
 * for one thread (rows) or any (BatchNorm, split by channels) — and large inputs do too: h in
 * place over a shared residual or a plain one, half BatchNorm with running statistics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { onBackend, rng } from "../helpers.js";
import { input, opsCases, runOpsCase, type Outputs } from "./cases.js";
import { throwsNorm } from "../core/hostile.js";

const bitsOf = (a: nk.AnyTensor) => [...new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)];
const sameBits = (a: nk.AnyTensor, b: nk.AnyTensor, what: string) => assert.deepEqual(bitsOf(a), bitsOf(b), what);
const isShared = (a: nk.AnyTensor) => a.data.buffer instanceof SharedArrayBuffer;

/** One golden case through the pool, as runOpsCase does through the synchronous API. */
async function poolCase(pool: nk.Pool, c: (typeof opsCases)[number]): Promise<Outputs> {
  const x = input(c.x), dy = input(c.dy), weight = input(c.weight), bias = input(c.bias), eps = c.eps ?? undefined;
  const o = { weight, bias, eps, weightOffset: c.weightOffset, castingMode: c.castingMode };
  const res: Outputs = {};
  const grads = (g: { dx: nk.AnyTensor; dweight: nk.AnyTensor | null; dbias: nk.AnyTensor | null; dinputBias?: nk.AnyTensor | null }) => {
    res.dx = g.dx;
    for (const k of ["dweight", "dbias", "dinputBias"] as const) if (g[k]) res[k] = g[k]!;
  };
  const ns = c.normalizedShape!;
  if (c.op === "layerNorm") {
    res.y = await pool.layerNorm(x, ns, o);
    grads(await pool.layerNormBackward(dy, x, ns, o));
  } else if (c.op === "rmsNorm") {
    res.y = await pool.rmsNorm(x, ns, o);
    grads(await pool.rmsNormBackward(dy, x, ns, o));
  } else if (c.op === "addLayerNorm" || c.op === "addRmsNorm") {
    const ao = { ...o, inputBias: input(c.inputBias) };
    const f = await (c.op === "addLayerNorm" ? pool.addLayerNorm : pool.addRmsNorm)(x, input(c.residual!), ns, ao);
    [res.y, res.h] = [f.y, f.h];
    grads(await (c.op === "addLayerNorm" ? pool.addLayerNormBackward : pool.addRmsNormBackward)(dy, f.h, ns, { ...ao, dh: input(c.dh) }));
  } else {
    const common = { weight, bias, eps, momentum: c.momentum, numBatchesTracked: c.numBatchesTracked, training: c.training };
    const running = () => ({ runningMean: input(c.runningMean) as nk.Tensor | undefined, runningVar: input(c.runningVar) as nk.Tensor | undefined });
    const r = running();
    grads(await pool.batchNormBackward(dy, x, { ...common, ...running() }));
    res.y = await pool.batchNorm(x, { ...common, ...r });
    if (r.runningMean) res.runningMean = r.runningMean;
    if (r.runningVar) res.runningVar = r.runningVar;
  }
  return res;
}

test("pool = synchronous wasm on every golden case of the row ops, the add ops and BatchNorm, 1–3 threads", async () => {
  const pools = await Promise.all([1, 2, 3].map((threads) => nk.createPool({ threads, minElements: 0 })));
  try {
    const cases = opsCases.filter((c) => c.op !== "groupNorm" && c.op !== "instanceNorm");
    for (const c of cases) {
      const want = onBackend("wasm", () => runOpsCase(c));
      for (const pool of pools) {
        const got = await poolCase(pool, c);
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), c.name);
        for (const k of Object.keys(want)) {
          // row ops' column sums are per-thread partials: bitwise with one thread
          const partial = ["dweight", "dbias", "dinputBias"].includes(k) && c.op !== "batchNorm" && pool.threads > 1;
          if (partial) continue;
          sameBits(got[k]!, want[k]!, `${c.name}.${k} threads=${pool.threads}`);
        }
      }
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
});

test("pool, large inputs: half LayerNorm/RMSNorm, the fused add with h in place (shared and plain residual), half BatchNorm = synchronous wasm", async () => {
  const pool = await nk.createPool({ threads: 3 });
  try {
    const r = rng(1212);
    const [rows, D] = [600, 768]; // 460,800 values: past minElements, so on the workers
    const x16 = nk.cast(r.tensor([rows, D], 2, 1), "float16"), dy16 = nk.cast(r.tensor([rows, D]), "float16");
    const w = nk.cast(r.tensor([D], 0.3), "bfloat16");
    const o = { weight: w, weightOffset: 1, castingMode: "llama" as const };
    const y = await pool.rmsNorm(x16, D, o);
    assert.ok(isShared(y), "ran on the workers");
    sameBits(y, onBackend("wasm", () => nk.rmsNorm(x16, D, o)), "rmsNorm float16 y");
    const g = await pool.layerNormBackward(dy16, x16, D, o);
    sameBits(g.dx, onBackend("wasm", () => nk.layerNormBackward(dy16, x16, D, o)).dx, "layerNorm float16 dx");

    const xb = nk.cast(r.tensor([rows, D]), "bfloat16"), resb = nk.cast(r.tensor([rows, D], 4), "bfloat16");
    const ib = r.tensor([D], 0.1);
    const want = onBackend("wasm", () => nk.addLayerNorm(xb, resb, D, { inputBias: ib }));
    for (const shared of [true, false]) {
      const res = { ...resb, data: shared ? new Uint16Array(new SharedArrayBuffer(2 * rows * D)) : new Uint16Array(rows * D) };
      res.data.set(resb.data);
      const got = await pool.addLayerNorm(xb, res, D, { inputBias: ib, residualOut: res });
      assert.equal(got.h.data, res.data, "h is residual's memory");
      sameBits(res, want.h, `h in place (shared residual: ${shared})`);
      sameBits(got.y, want.y, `y (shared residual: ${shared})`);
    }
    const gAdd = await pool.addLayerNormBackward(nk.cast(dy16, "float32") as never, want.h, D, {}).catch((e: unknown) => e);
    assert.ok(gAdd instanceof nk.NormError && gAdd.code === "BAD_DTYPE", "dy of another dtype than h");

    const xbn = nk.cast(r.tensor([16, 32, 24, 24], 1.5, 3), "bfloat16"), dybn = nk.cast(r.tensor([16, 32, 24, 24]), "bfloat16");
    const bo = { weight: r.tensor([32], 0.5, 1), bias: r.tensor([32]), training: true };
    const rm = nk.tensor(new Float32Array(32), [32]), rv = nk.tensor(new Float32Array(32).fill(1), [32]);
    const rm2 = nk.tensor(new Float32Array(32), [32]), rv2 = nk.tensor(new Float32Array(32).fill(1), [32]);
    const ybn = await pool.batchNorm(xbn, { ...bo, runningMean: rm, runningVar: rv });
    assert.ok(isShared(ybn));
    sameBits(ybn, onBackend("wasm", () => nk.batchNorm(xbn, { ...bo, runningMean: rm2, runningVar: rv2 })), "batchNorm bfloat16 y");
    assert.deepEqual([...rm.data], [...rm2.data]);
    assert.deepEqual([...rv.data], [...rv2.data]);
    const gbn = await pool.batchNormBackward(dybn, xbn, bo);
    const gsync = onBackend("wasm", () => nk.batchNormBackward(dybn, xbn, bo));
    sameBits(gbn.dx, gsync.dx, "batchNorm dx");
    sameBits(gbn.dweight!, gsync.dweight!, "batchNorm dweight (channels split: bitwise)");
    sameBits(gbn.dbias!, gsync.dbias!, "batchNorm dbias");
  } finally {
    await pool.close();
  }
});

test("pool: issue #12 calls validate as the synchronous ops (aliasing, dtypes, keys) and fail after close", async () => {
  const pool = await nk.createPool({ threads: 2, minElements: 0 });
  const x = rng(3).tensor([4, 8]), res = rng(4).tensor([4, 8]);
  await throwsNorm(() => pool.addRmsNorm(x, res, 8, { residualOut: x }), "BAD_ARGUMENT", "residualOut", ["overlapping x"]);
  await throwsNorm(() => pool.addRmsNorm(nk.cast(x, "float16"), res, 8), "BAD_DTYPE", "residual");
  await throwsNorm(() => pool.layerNorm(x, 8, { weightOfset: 1 } as never), "UNKNOWN_OPTION", "weightOfset");
  await throwsNorm(() => pool.batchNorm(x, { training: true, runningMean: nk.cast(rng(5).tensor([8]), "float16") as never }), "BAD_DTYPE", "runningMean");
  await pool.close();
  await throwsNorm(() => pool.addLayerNorm(x, res, 8), "BAD_ARGUMENT", "pool", ["closed"]);
  await throwsNorm(() => pool.batchNorm(x, { training: true }), "BAD_ARGUMENT", "pool", ["closed"]);
});
