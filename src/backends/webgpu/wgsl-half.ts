/**
 * WGSL for half-precision storage: how a tensor of each dtype is bound, loaded as f32 and stored
 * from f32. Math is always f32; only storage is half.
 *
 * - float16 on a device with `shader-f16` (plan `f16: true`): `array<f16>` / `vec2<f16>` /
 *   `vec4<f16>`; loads convert f16 → f32 (exact).
 * - otherwise (every adapter, SwiftShader included; bfloat16 always): `array<u32>` words holding
 *   two halves, little-endian (element 2k in the low 16 bits); float16 loads use
 *   `unpack2x16float`, bfloat16 loads shift the bits into the top of an f32 (exact).
 *
 * Stores round in software, never with WGSL's f32 → f16 conversion: WGSL leaves that conversion's
 * rounding direction to the implementation and makes out-of-range values indeterminate, while
 * normkit's contract is round to nearest even, overflow to ±Inf, NaN kept (src/dtype.ts does the
 * same bit arithmetic on the CPU). A thread stores whole 32-bit words: an item of a half tensor
 * stored through u32 words is 2 or 4 elements (`w`); width-1 half outputs on u32 words would race
 * between threads sharing a word, so kernels write those to a float32 scratch and a cast kernel
 * packs it (castWGSL), one thread per word.
 */
import type { DType } from "../../dtype.js";

/** How one binding is declared: dtype, elements per item `w` (1, 2, 4) and native f16 storage. */
export interface Store {
  dt: DType;
  w: 1 | 2 | 4;
  f16: boolean;
}

/** f32, vec2<f32> or vec4<f32>: the value type of an item of `w` elements. */
export const vecF = (w: number): string => (w === 1 ? "f32" : `vec${w}<f32>`);

const native = (s: Store) => s.f16 && s.dt === "float16";

/** The element type of the binding's array. */
export function storageType(s: Store): string {
  if (s.dt === "float32") return vecF(s.w);
  if (native(s)) return s.w === 1 ? "f16" : `vec${s.w}<f16>`;
  return s.w === 4 ? "vec2<u32>" : "u32"; // w = 1: element e is half (e & 1) of word e >> 1
}

/** Whether storing items of this binding one at a time is safe (no two threads share a word). */
export const storable = (s: Store): boolean => s.dt === "float32" || native(s) || s.w > 1;

export function declare(binding: number, name: string, s: Store, write: boolean): string {
  return `@group(0) @binding(${binding}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<${storageType(s)}>;`;
}

/** `fn ld_<name>(i: u32) -> f32|vecN<f32>`: item i as f32 values. */
export function loadFn(name: string, s: Store): string {
  const F = vecF(s.w);
  let body: string;
  if (s.dt === "float32") body = `return ${name}[i];`;
  else if (native(s)) body = `return ${F}(${name}[i]);`;
  else {
    const up = `up_${s.dt}`;
    body = s.w === 2 ? `return ${up}(${name}[i]);`
      : s.w === 4 ? `let p = ${name}[i]; return vec4<f32>(${up}(p.x), ${up}(p.y));`
      : `return ${up}(${name}[i >> 1u])[i & 1u];`;
  }
  return `fn ld_${name}(i: u32) -> ${F} { ${body} }`;
}

/** `fn st_<name>(i: u32, v)`: stores item i, rounded to nearest even into the binding's dtype. */
export function storeFn(name: string, s: Store): string {
  if (!storable(s)) throw new Error(`internal: ${name} (${s.dt}, width 1) cannot be stored through u32 words`);
  const F = vecF(s.w);
  let body: string;
  if (s.dt === "float32") body = `${name}[i] = v;`;
  else {
    const pk = `pk_${s.dt}`;
    const words = s.w === 4 ? `vec2<u32>(${pk}(v.xy), ${pk}(v.zw))` : s.w === 2 ? `${pk}(v)` : `bits_${s.dt}(v)`;
    body = native(s)
      ? s.w === 1 ? `${name}[i] = bitcast<vec2<f16>>(${words}).x;` : `${name}[i] = bitcast<vec${s.w}<f16>>(${words});`
      : `${name}[i] = ${words};`;
  }
  return `fn st_${name}(i: u32, v: ${F}) { ${body} }`;
}

/**
 * The bit-level helpers every half binding uses (always emitted; unused functions cost nothing):
 * bits_float16/bits_bfloat16 (f32 → half bits, round to nearest even), pk_* (two values → a word),
 * up_* (a word → two f32 values), rnd_* (an f32 rounded to the dtype, as f32).
 */
export const HALF_WGSL = `
fn bits_float16(v: f32) -> u32 {
  let u = bitcast<u32>(v);
  let s = (u >> 16u) & 0x8000u;
  let a = u & 0x7fffffffu;
  if (a >= 0x47800000u) {
    // |v| >= 65536, Inf or NaN: NaN keeps its top payload bits (quiet), the rest overflows to Inf
    return select(s | 0x7c00u, s | 0x7e00u | ((a >> 13u) & 0x3ffu), a > 0x7f800000u);
  }
  if (a >= 0x38800000u) {
    // normal: rebias the exponent, round the 13 dropped bits to nearest even (a carry reaches Inf at 65520)
    return s | ((a - 0x38000000u + 0xfffu + ((a >> 13u) & 1u)) >> 13u);
  }
  if (a <= 0x33000000u) { return s; } // |v| <= 2^-25: ties to the even 0
  // subnormal: the 24-bit significand shifted right by 14..24, rounded to nearest even
  let sh = 126u - (a >> 23u);
  let m = (a & 0x7fffffu) | 0x800000u;
  let rem = m & ((1u << sh) - 1u);
  let hf = 1u << (sh - 1u);
  var q = m >> sh;
  if (rem > hf || (rem == hf && (q & 1u) == 1u)) { q = q + 1u; }
  return s | q;
}
fn bits_bfloat16(v: f32) -> u32 {
  let u = bitcast<u32>(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return (u >> 16u) | 0x40u; } // NaN: quiet, payload top bits kept
  return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
}
fn pk_float16(v: vec2<f32>) -> u32 { return bits_float16(v.x) | (bits_float16(v.y) << 16u); }
fn pk_bfloat16(v: vec2<f32>) -> u32 { return bits_bfloat16(v.x) | (bits_bfloat16(v.y) << 16u); }
fn up_float16(w: u32) -> vec2<f32> { return unpack2x16float(w); }
fn up_bfloat16(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }
fn rnd_float16(v: f32) -> f32 { return unpack2x16float(bits_float16(v)).x; }
fn rnd_bfloat16(v: f32) -> f32 { return bitcast<f32>(bits_bfloat16(v) << 16u); }
`;

/** `fn <name>(v: V) -> V`: each lane rounded to `dt` (identity for float32), for items of `w` lanes. */
export function roundFn(name: string, dt: DType, w: number): string {
  const F = vecF(w);
  if (dt === "float32") return `fn ${name}(v: ${F}) -> ${F} { return v; }`;
  const r = `rnd_${dt}`;
  const lanes = ["x", "y", "z", "w"].slice(0, w).map((c) => `${r}(v${w === 1 ? "" : `.${c}`})`);
  return `fn ${name}(v: ${F}) -> ${F} { return ${w === 1 ? lanes[0] : `${F}(${lanes.join(", ")})`}; }`;
}

/** `enable f16;` when a binding stores native f16. */
export const enableF16 = (stores: readonly (Store | null)[]): string => (stores.some((s) => s !== null && native(s)) ? "enable f16;\n" : "");
