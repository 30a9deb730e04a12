/**
 * src/dtype.ts against an independent implementation: Chromium's Float16Array (V8's float16
 * rounding), in headless Chromium (Debian's chromium via playwright-core; skipped when absent).
 * float32 → float16 at every tie and near-tie of every float16 interval (3.1M values), and all
 * 65,536 float16 patterns → float32.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { CHROMIUM, withPage } from "../webgpu/chromium.js";

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium package (CI does) to run the browser tests`;

test("Chromium's Float16Array agrees with src/dtype.ts bit for bit", { skip, timeout: 120_000 }, async (t) => {
  const result = await withPage((page) =>
    page.evaluate(async () => {
      const d = await import("/build/src/dtype.js" as string);
      const F16 = (globalThis as unknown as { Float16Array?: new (n: number | ArrayBufferLike) => Float32Array }).Float16Array;
      if (!F16) return { missing: true };
      // every float32 pattern with low 13 bits at and around float16's tie, all 2^19 high bits
      const lows = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff];
      const n = 1 << 19;
      const x = new Float32Array(n * lows.length);
      const xu = new Uint32Array(x.buffer);
      for (let j = 0; j < lows.length; j++) for (let hi = 0; hi < n; hi++) xu[j * n + hi] = ((hi << 13) | lows[j]) >>> 0;
      const h = new F16(x.length);
      h.set(x);
      const theirs = new Uint16Array((h as unknown as { buffer: ArrayBuffer }).buffer);
      const ours: Uint16Array = d.f32ToF16BitsArray(x);
      let toHalf = 0, nans = 0, firstBad = "";
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== x[i]) {
          // NaN: both quiet NaNs (V8 may canonicalize the payload)
          if ((theirs[i] & 0x7e00) !== 0x7e00 || (ours[i] & 0x7e00) !== 0x7e00) nans++;
        } else if (theirs[i] !== ours[i]) {
          if (!toHalf++) firstBad = `${x[i]}: Float16Array ${theirs[i].toString(16)}, dtype.ts ${ours[i].toString(16)}`;
        }
      }
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const decoded = Float32Array.from(new F16(all.buffer));
      const mine: Float32Array = d.f16BitsToF32Array(all);
      let toF32 = 0;
      for (let i = 0; i < 65536; i++) if (!(Object.is(decoded[i], mine[i]) || (decoded[i] !== decoded[i] && mine[i] !== mine[i]))) toF32++;
      return { missing: false, checked: x.length, toHalf, nans, toF32, firstBad };
    }),
  );
  if (result.missing) return void t.skip("this Chromium has no Float16Array (it shipped in Chromium 135)");
  assert.equal(result.checked, 6 << 19);
  assert.equal(result.toHalf, 0, `float32 → float16 mismatches, first: ${result.firstBad}`);
  assert.equal(result.nans, 0, "NaNs not quiet");
  assert.equal(result.toF32, 0, "float16 → float32 mismatches");
});
