/**
 * Shapes and arrays as a hostile user passes them: holes, fractional/negative/NaN/huge dims,
 * strings in data, views, Float32Array subclasses that override length/subarray, proxies (the
 * policy: genuine typed arrays, subclasses included, give the right answer; proxies a NormError),
 * detached buffers, onnxruntime-style tensors. On every synchronous backend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor as OrtTensor } from "onnxruntime-common";
import * as nk from "../../src/index.js";
import { assertBitwise, eachBackend } from "../helpers.js";
import { t, throwsNorm, unchanged, wave } from "./hostile.js";

/** A subclass lying about its length and handing out wrong subarrays. */
class Liar extends Float32Array {
  override get length(): number {
    return 3;
  }
  override subarray(): Float32Array<ArrayBuffer> {
    return new Float32Array(8).fill(42);
  }
  override set(): void {
    throw new TypeError("Liar.set");
  }
}

const D = 40, rows = 6;
const base = t([rows, D], wave);

eachBackend((backend) => {
  test(`[${backend}] holes, fractional, negative, NaN, infinite and huge dims are NormErrors, never empty results`, async () => {
    nk.setBackend(backend);
    const x = t([3, 4], wave);
    const bad: Array<[unknown, string]> = [
      [new Array(1), "hole"], [[, 4], "hole"], [[4, , ], "hole"], [[1.5], "1.5"], [[-4], "-4"], [[NaN], "NaN"], [[Infinity], "Infinity"], // eslint-disable-line no-sparse-arrays
      [["4"], '"4"'], [[null], "null"], [-1, "-1"], [2.5, "2.5"], [NaN, "NaN"], ["4", '"4"'], [{ length: 1, 0: 4 }, "object"], [null, "null"],
    ];
    for (const [ns, mention] of bad) {
      await unchanged([x], () => throwsNorm(() => nk.layerNorm(x, ns as never), "BAD_NORMALIZED_SHAPE", "normalizedShape", [mention]));
      await throwsNorm(() => nk.rmsNormBackward(x, x, ns as never), "BAD_NORMALIZED_SHAPE", "normalizedShape");
    }
    for (const [shape, mention] of [[new Array(2), "hole"], [[3, 4.5], "4.5"], [[3, -4], "-4"], [[NaN, 4], "NaN"], [[2 ** 53, 4], "9007199254740992"], [[2 ** 40, 2 ** 40], "2^53"], ["[3, 4]", '"[3, 4]"']] as const) {
      await throwsNorm(() => nk.layerNorm({ shape, data: x.data } as never, 4), "BAD_SHAPE", "x.shape", [mention]);
      await throwsNorm(() => nk.tensor(new Float32Array(12), shape as never), "BAD_SHAPE", "shape", [mention]);
    }
    await throwsNorm(() => nk.layerNorm({ shape: [3, 4], data: new Float32Array(11) }, 4), "SHAPE_MISMATCH", "x", ["11", "12"]);
    // a Proxy claiming 2^32 − 1 dims is refused at once, not walked
    const endless = new Proxy([3, 4], { get: (tgt, k) => (k === "length" ? 2 ** 32 - 1 : Reflect.get(tgt, k)) });
    await throwsNorm(() => nk.layerNorm({ shape: endless, data: x.data } as never, 4), "BAD_SHAPE", "x.shape", ["at most 64 dims"]);
  });

  test(`[${backend}] tensor(): strings, null, holes, bigints are NormErrors (no silent NaN); numbers and typed arrays are copied`, async () => {
    nk.setBackend(backend);
    await throwsNorm(() => nk.tensor([1, "2", null, "abc"] as never, [4]), "BAD_DTYPE", "data", ['"2"', "index 1"]);
    await throwsNorm(() => nk.tensor([1, 2, null, 4] as never, [4]), "BAD_DTYPE", "data", ["null", "index 2"]);
    await throwsNorm(() => nk.tensor([1, , 3] as never, [3]), "BAD_DTYPE", "data", ["hole"]); // eslint-disable-line no-sparse-arrays
    await throwsNorm(() => nk.tensor(new BigInt64Array(2) as never, [2]), "BAD_DTYPE", "data", ["bigint"]);
    await throwsNorm(() => nk.tensor({ length: 2, 0: 1, 1: 2 } as never, [2]), "BAD_DTYPE", "data");
    await throwsNorm(() => nk.sharedTensor([2], ["1", "2"] as never), "BAD_DTYPE", "data");
    assert.deepEqual(Array.from(nk.tensor([1, NaN, -Infinity, 0.5], [4]).data), [1, NaN, -Infinity, 0.5]);
    assert.deepEqual(Array.from(nk.tensor(new Float64Array([1, 2]), [2]).data), [1, 2]);
    const shape = [2, 2];
    const made = nk.tensor([1, 2, 3, 4], shape);
    shape[0] = 4; // the tensor keeps its own, frozen copy
    assert.deepEqual(made.shape, [2, 2]);
    assert.ok(Object.isFrozen(made.shape));
  });

  test(`[${backend}] Float32Array subclasses (even lying about length/subarray/set) give the plain array's bits`, () => {
    nk.setBackend(backend);
    const liar = new Liar(rows * D);
    Float32Array.prototype.set.call(liar, base.data);
    const w = t([D], (i) => 1 + i / 50), b = t([D], (i) => i / 40);
    const lw = new Liar(D), lb = new Liar(D);
    Float32Array.prototype.set.call(lw, w.data);
    Float32Array.prototype.set.call(lb, b.data);
    const plain = nk.layerNormForward(base, D, { weight: w, bias: b });
    const sub = nk.layerNormForward({ shape: [rows, D], data: liar }, D, { weight: { shape: [D], data: lw }, bias: { shape: [D], data: lb } });
    assertBitwise(sub.y.data, plain.y.data, "y");
    assertBitwise(sub.rstd.data, plain.rstd.data, "rstd");
    const g = nk.rmsNormBackward({ shape: [rows, D], data: liar }, { shape: [rows, D], data: liar }, D, { weight: { shape: [D], data: lw } });
    assertBitwise(g.dx.data, nk.rmsNormBackward(base, base, D, { weight: w }).dx.data, "rms dx");
    // an out that is a subclass is written through its memory
    const out = new Liar(rows * D);
    nk.layerNorm(base, D, { weight: w, bias: b, out: { shape: [rows, D], data: out } });
    assertBitwise(new Float32Array(out.buffer), plain.y.data, "out subclass");
    // a plain array with an own `length` property is read by its buffer too
    const own = base.data.slice();
    Object.defineProperty(own, "length", { value: 1 });
    assertBitwise(nk.layerNorm({ shape: [rows, D], data: own }, D, { weight: w, bias: b }).data, plain.y.data, "own length");
    assertBitwise(nk.groupNorm({ shape: [2, 3, D], data: liar } as never, 3, {}).data, nk.groupNorm({ shape: [2, 3, D], data: base.data }, 3).data, "groupNorm subclass");
    assertBitwise(nk.batchNorm({ shape: [rows, D], data: liar }, { training: true }).data, nk.batchNorm(base, { training: true }).data, "batchNorm subclass");
  });

  test(`[${backend}] proxies of typed arrays are NormErrors (BAD_DTYPE), including ones lying about their length`, async () => {
    nk.setBackend(backend);
    const lying = new Proxy(base.data, { get: (tgt, k) => (k === "length" ? rows * D : Reflect.get(tgt, k)) });
    const plainProxy = new Proxy(base.data, {});
    for (const p of [lying, plainProxy]) {
      await throwsNorm(() => nk.layerNorm({ shape: [rows, D], data: p }, D), "BAD_DTYPE", "x.data", ["Proxy"]);
      await throwsNorm(() => nk.rmsNormBackward({ shape: [rows, D], data: p }, base, D), "BAD_DTYPE", "dy.data", ["Proxy"]);
      await throwsNorm(() => nk.layerNorm(base, D, { weight: { shape: [D], data: new Proxy(new Float32Array(D), {}) } }), "BAD_DTYPE", "weight.data");
      await throwsNorm(() => nk.layerNorm(base, D, { out: { shape: [rows, D], data: p } }), "BAD_DTYPE", "out.data");
      await throwsNorm(() => nk.tensor(p, [rows, D]), "BAD_DTYPE", "data", ["Proxy"]);
    }
    const throwingTrap = new Proxy(base.data, { getPrototypeOf: () => { throw new Error("trap"); } });
    await throwsNorm(() => nk.layerNorm({ shape: [rows, D], data: throwingTrap }, D), "BAD_DTYPE", "x.data");
    // a tensor whose getter throws
    await throwsNorm(() => nk.layerNorm({ shape: [rows, D], get data(): Float32Array { throw new RangeError("no"); } }, D), "BAD_ARGUMENT", "x", ["no"]);
    await throwsNorm(() => nk.layerNorm({ shape: [rows, D], data: new DataView(new ArrayBuffer(4 * rows * D)) } as never, D), "BAD_DTYPE", "x.data", ["DataView"]);
  });

  test(`[${backend}] views at an offset are read where they point; a detached buffer is DETACHED_BUFFER`, async () => {
    nk.setBackend(backend);
    const big = new Float32Array(rows * D + 7);
    big.set(base.data, 5);
    const view = big.subarray(5, 5 + rows * D);
    assertBitwise(nk.layerNorm({ shape: [rows, D], data: view }, D).data, nk.layerNorm(base, D).data, "view");
    const gone = base.data.slice();
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    await throwsNorm(() => nk.layerNorm({ shape: [rows, D], data: gone }, D), "DETACHED_BUFFER", "x.data");
    const goneEmpty = new Float32Array(0);
    structuredClone(goneEmpty.buffer, { transfer: [goneEmpty.buffer] });
    await throwsNorm(() => nk.layerNorm({ shape: [0, D], data: goneEmpty }, D), "DETACHED_BUFFER", "x.data");
  });

  test(`[${backend}] onnxruntime tensors (onnxruntime-common) are tensors, float16 and bfloat16 ones too; other types are BAD_DTYPE`, async () => {
    nk.setBackend(backend);
    const x = new OrtTensor("float32", base.data.slice(), [rows, D]);
    const w = new OrtTensor("float32", new Float32Array(D).fill(2), [D]);
    const y = nk.layerNorm(x as never, D, { weight: w as never });
    assert.ok(!(y instanceof OrtTensor), "results are normkit tensors");
    assert.deepEqual(y.shape, [rows, D]);
    assertBitwise(y.data, nk.layerNorm(base, D, { weight: t([D], 2) }).data, "ort float32");
    const g = nk.rmsNormBackward(x as never, x as never, [D], {});
    assertBitwise(g.dx.data, nk.rmsNormBackward(base, base, D).dx.data, "ort backward");
    // float16 storage: the same bits as a normkit { shape, data: Uint16Array, dtype } tensor
    const bits = nk.cast(base, "float16");
    const half = new OrtTensor("float16", bits.data.slice(), [rows, D]);
    const yh = nk.layerNorm(half as unknown as nk.HalfTensor, D);
    assert.equal(yh.dtype, "float16");
    assert.deepEqual([...yh.data], [...nk.layerNorm(bits, D).data]);
    const yb = nk.layerNorm({ dims: [rows, D], data: nk.cast(base, "bfloat16").data, type: "bfloat16" } as unknown as nk.HalfTensor, D);
    assert.equal(yb.dtype, "bfloat16");
    await throwsNorm(() => nk.layerNorm({ dims: [rows, D], data: base.data, type: "float16" } as never, D), "BAD_DTYPE", "x.type", ["Float32Array"]);
    await throwsNorm(() => nk.layerNorm(new OrtTensor("int32", new Int32Array(rows * D), [rows, D]) as never, D), "BAD_DTYPE", "x.type", ['"int32"']);
    await throwsNorm(() => nk.layerNorm({ dims: [rows, D], data: base.data } as never, D), "BAD_DTYPE", "x.type", ["undefined"]);
    await throwsNorm(() => nk.layerNorm({ dims: [rows, D + 1], data: base.data, type: "float32" } as never, D), "SHAPE_MISMATCH", "x");
    const m = new nk.GroupNorm(2, 4);
    assert.deepEqual(m.forward(new OrtTensor("float32", new Float32Array(24).map((_, i) => wave(i)), [2, 4, 3]) as never).shape, [2, 4, 3]);
  });
});
