/**
 * Timing of the float32 ↔ float16/bfloat16 array conversions of src/dtype.ts (not a test, not the
 * benchmark). Contenders, each a function over (src, out) as the library's are, rotated round by
 * round so machine load hits them alike:
 * - the bit arithmetic of src/dtype.ts (what normkit uses: no tables),
 * - a 65,536-entry lookup table (256 KiB) for half → float32, the usual fast alternative,
 * - the runtime's Float16Array (set / read element by element) where it has one,
 * - a plain JS loop copying float32 → float32 (the floor for a per-element loop), and
 *   Float32Array.prototype.set (memcpy) for scale.
 * Prints the median ns per element and each contender's median per-round ratio to the JS copy loop.
 *   npm run build && node build/bench/dtype.js [n=4194304] [reps=15]
 */
import { bf16BitsToF32Array, f16BitsToF32, f16BitsToF32Array, f32ToBf16BitsArray, f32ToF16BitsArray } from "../src/dtype.js";

const N = Number(process.argv[2] ?? 1 << 22);
const REPS = Number(process.argv[3] ?? 21);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];

const src = new Float32Array(N);
for (let i = 0; i < N; i++) src[i] = (Math.random() * 2 - 1) * 8; // float16's normal range
const bits = f32ToF16BitsArray(src);
const out32 = new Float32Array(N);
const out16 = new Uint16Array(N);
const copyDst = new Float32Array(N);

const TABLE = new Float32Array(65536);
for (let h = 0; h < 65536; h++) TABLE[h] = f16BitsToF32(h);

type F16 = { new (n: number): ArrayLike<number> & { [i: number]: number } };
const F16A = (globalThis as { Float16Array?: F16 }).Float16Array;
const f16arr = F16A ? new F16A(N) : null;

function copyLoop(s: Float32Array, o: Float32Array) {
  const n = s.length;
  for (let i = 0; i < n; i++) o[i] = s[i];
}
function tableDecode(s: Uint16Array, o: Float32Array) {
  const n = s.length;
  for (let i = 0; i < n; i++) o[i] = TABLE[s[i]];
}

const contenders: Record<string, () => void> = {
  "JS copy loop f32 → f32 (floor)": () => copyLoop(src, copyDst),
  "Float32Array.set (memcpy)": () => copyDst.set(src),
  "f32 → f16 bits (dtype.ts)": () => void f32ToF16BitsArray(src, out16),
  "f32 → bf16 bits (dtype.ts)": () => void f32ToBf16BitsArray(src, out16),
  "f16 bits → f32 (dtype.ts)": () => void f16BitsToF32Array(bits, out32),
  "f16 bits → f32 (64K table)": () => tableDecode(bits, out32),
  "bf16 bits → f32 (dtype.ts)": () => void bf16BitsToF32Array(bits, out32),
};
if (f16arr) {
  contenders["f32 → Float16Array (runtime)"] = () => copyLoop(src, f16arr as unknown as Float32Array);
  contenders["Float16Array → f32 (runtime)"] = () => copyLoop(f16arr as unknown as Float32Array, out32);
}

const names = Object.keys(contenders);
const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let w = 0; w < 3; w++) for (const n of names) contenders[n](); // warm-up: optimized code, not on-stack replacement
for (let r = 0; r < REPS; r++) {
  for (let i = 0; i < names.length; i++) {
    const n = names[(i + r) % names.length];
    const t0 = performance.now();
    contenders[n]();
    times[n].push(performance.now() - t0);
  }
}
const floor = times[names[0]];
console.log(`${N} elements, ${REPS} rounds; Float16Array: ${F16A ? "yes" : "no"} (node ${process.version})`);
for (const n of names) {
  const ratio = median(times[n].map((t, r) => t / floor[r]));
  console.log(`${n.padEnd(32)} ${((median(times[n]) * 1e6) / N).toFixed(2).padStart(7)} ns/element   ×${ratio.toFixed(2)} the JS copy loop`);
}
