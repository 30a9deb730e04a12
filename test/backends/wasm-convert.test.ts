/**
 * The wasm kernels' half-precision conversions (assembly/convert.ts) against src/dtype.ts, bit for
 * bit: every float16 and bfloat16 pattern widened; float32 → half at every float16 value, every
 * tie between neighbours and the float32 values next to it (all exponents: subnormal, normal,
 * overflow to Inf), NaNs with payloads, and 1M random patterns; the SIMD body and the scalar tail.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { wasmRuntime } from "../../src/backends/wasm/index.js";
import { bf16FromF32Pattern, f16FromF32Pattern, f32PatternFromF16 } from "../../src/dtype.js";
import { rng } from "../helpers.js";

const rt = wasmRuntime!;

/** Runs a kernel over `n` inputs placed in wasm memory; returns the outputs. */
function run(kind: "widenF16" | "widenBf16" | "narrowF16" | "narrowBf16", input: Uint16Array | Uint32Array): Uint16Array | Uint32Array {
  const n = input.length;
  const widen = kind.startsWith("widen");
  const [SRC, DST] = rt.layout([(widen ? 2 : 4) * n + 16, (widen ? 4 : 2) * n + 16]);
  const buf = rt.kernels.memory.buffer;
  if (widen) new Uint16Array(buf, SRC, n).set(input);
  else new Uint32Array(buf, SRC, n).set(input);
  rt.kernels[kind](DST, SRC, n);
  const out = widen ? new Uint32Array(buf, DST, n).slice() : new Uint16Array(buf, DST, n).slice();
  rt.trim();
  return out;
}

/** Compares in two calls: n − 3 (a scalar tail after the SIMD body) and the last 3 (tail only). */
function check(kind: Parameters<typeof run>[0], input: Uint16Array | Uint32Array, want: (v: number) => number): void {
  const parts = [input.subarray(0, input.length - 3), input.subarray(input.length - 3)];
  for (const p of parts) {
    const got = run(kind, p);
    for (let i = 0; i < p.length; i++) {
      const w = want(p[i]!) >>> 0;
      if (got[i] !== w) assert.fail(`${kind}(0x${p[i]!.toString(16)}) = 0x${got[i]!.toString(16)}, src/dtype.ts: 0x${w.toString(16)}`);
    }
  }
}

test("wasm widenF16 / widenBf16 = src/dtype.ts on all 65,536 patterns (NaN payloads kept)", () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  check("widenF16", all, f32PatternFromF16);
  check("widenBf16", all, (h) => h << 16);
});

test("wasm narrowF16 / narrowBf16 = src/dtype.ts at every half value, tie and near-tie, NaNs, and 1M random float32 patterns", () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const pats: number[] = [];
  for (let h = 0; h < 0x7c00; h++) {
    // each non-negative finite float16 value, the midpoint to the next one, and float32 neighbours of both
    const a = f32PatternFromF16(h) >>> 0, b = f32PatternFromF16(h + 1) >>> 0;
    f[0] = (new Float32Array(new Uint32Array([a]).buffer)[0]! + new Float32Array(new Uint32Array([b]).buffer)[0]!) / 2;
    const mid = u[0]!;
    for (const p of [a, a + 1, a - 1, mid, mid + 1, mid - 1]) for (const s of [0, 0x80000000]) pats.push((p + s) >>> 0);
  }
  // overflow edges, Inf, NaNs with payloads and signs
  for (const p of [0x477fe000, 0x477fefff, 0x477ff000, 0x477fffff, 0x47800000, 0x7f800000, 0x7f800001, 0x7fc00000, 0x7fffffff, 0x7fa01234, 0xffc00001, 0x33000000, 0x33000001, 0x387fffff, 0x38800000]) {
    pats.push(p >>> 0, (p | 0x80000000) >>> 0);
  }
  const r = rng(7);
  for (let i = 0; i < 1 << 20; i++) pats.push(Math.floor(r.u() * 4294967296) >>> 0);
  const input = Uint32Array.from(pats);
  check("narrowF16", input, (v) => f16FromF32Pattern(v | 0));
  // bfloat16: every bfloat16 value's pattern ± the tie (0x8000) and neighbours, and the random ones
  const bf: number[] = [];
  for (let h = 0; h < 65536; h++) for (const d of [0, 0x7fff, 0x8000, 0x8001, 0xffff]) bf.push(((h << 16) + d) >>> 0);
  check("narrowBf16", Uint32Array.from([...bf, ...pats]), (v) => bf16FromF32Pattern(v | 0));
});
