// Half-precision storage in linear memory: u16 bit patterns (IEEE binary16 or bfloat16) widened
// to float32 and float32 narrowed back, 8 values per iteration (i32x4 bit arithmetic, no tables).
// Bit for bit the conversions of src/dtype.ts (tested against them on every float16 pattern and
// every rounding tie: test/backends/wasm-convert.test.ts): exact widening, NaN payloads kept;
// narrowing to nearest even, overflow to ±Inf, float16 subnormals exact, NaN quiet with its sign
// and top payload bits. `n` values; pointers are byte offsets (f32: 4 bytes, u16: 2 bytes each).

// ---- float16 → float32 -------------------------------------------------------------------------
// The exponent and mantissa move to float32's places ((h & 0x7fff) << 13) and the exponent is
// rebiased (+112 << 23); Inf/NaN get the rest of the rebias (+112 << 23 again); a subnormal (or
// zero) h = m·2⁻²⁴ becomes 2⁻¹⁴·(1 + m/1024) by one more exponent step, and subtracting 2⁻¹⁴ (exact)
// leaves m·2⁻²⁴. The sign is or'ed in last.
@inline function f16to32(h: v128): v128 {
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const e = v128.and(em, i32x4.splat(0x0f800000));
  let o = i32x4.add(em, i32x4.splat(0x38000000));
  o = i32x4.add(o, v128.and(i32x4.eq(e, i32x4.splat(0x0f800000)), i32x4.splat(0x38000000)));
  const sub = f32x4.sub(i32x4.add(o, i32x4.splat(0x00800000)), i32x4.splat(0x38800000));
  o = v128.bitselect(sub, o, i32x4.eq(e, i32x4.splat(0)));
  return v128.or(o, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

@inline function f16to32s(h: u32): u32 {
  const em = (h & 0x7fff) << 13;
  const e = em & 0x0f800000;
  let o = em + 0x38000000;
  if (e == 0x0f800000) o += 0x38000000;
  else if (e == 0) o = reinterpret<u32>(reinterpret<f32>(o + 0x00800000) - reinterpret<f32>(<u32>0x38800000));
  return o | ((h & 0x8000) << 16);
}

export function widenF16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), f16to32(i32x4.extend_low_i16x8_u(h)));
    v128.store(dst + (<usize>i << 2), f16to32(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), f16to32s(<u32>load<u16>(src + (<usize>i << 1))));
}

// ---- bfloat16 → float32: the top 16 bits ---------------------------------------------------------
export function widenBf16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(h), 16), 16);
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}

// ---- float32 → float16 ---------------------------------------------------------------------------
// |x| ≥ 65536 (a ≥ 0x47800000): ±Inf, or a quiet NaN keeping its top payload bits; normal halves:
// rebias and round the 13 dropped bits to nearest even (a carry into the exponent gives 65520 → Inf);
// |x| < 2⁻¹⁴: adding 0.5 rounds |x| to a multiple of 2⁻²⁴ (float32's unit at 0.5), nearest even, so
// the low bits of the sum are the subnormal half's mantissa.
// a = |u| is a non-negative int32, so the comparisons are signed ones (one x86 instruction each;
// the unsigned ones are emulated): a ≥ K as a > K − 1.
@inline function f32to16(u: v128): v128 {
  const a = v128.and(u, i32x4.splat(0x7fffffff));
  const a13 = i32x4.shr_u(a, 13);
  const big = v128.or(i32x4.splat(0x7c00), v128.and(i32x4.gt_s(a, i32x4.splat(0x7f800000)),
    v128.or(i32x4.splat(0x0200), v128.and(a13, i32x4.splat(0x3ff)))));
  const norm = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(0xfff - 0x38000000)), v128.and(a13, i32x4.splat(1))), 13);
  const sub = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  let r = v128.bitselect(norm, sub, i32x4.gt_s(a, i32x4.splat(0x38800000 - 1)));
  r = v128.bitselect(big, r, i32x4.gt_s(a, i32x4.splat(0x47800000 - 1)));
  return v128.or(r, v128.and(i32x4.shr_u(u, 16), i32x4.splat(0x8000)));
}

@inline function f32to16s(u: u32): u32 {
  const a = u & 0x7fffffff;
  let r: u32;
  if (a >= 0x47800000) r = a > 0x7f800000 ? 0x7e00 | ((a >> 13) & 0x3ff) : 0x7c00;
  else if (a >= 0x38800000) r = (a - 0x38000000 + 0xfff + ((a >> 13) & 1)) >> 13;
  else r = reinterpret<u32>(reinterpret<f32>(a) + <f32>0.5) - 0x3f000000;
  return r | ((u >> 16) & 0x8000);
}

export function narrowF16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (<usize>i << 2);
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(f32to16(v128.load(p)), f32to16(v128.load(p, 16))));
  }
  for (; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>f32to16s(load<u32>(src + (<usize>i << 2))));
}

// ---- float32 → bfloat16: round the low 16 bits to nearest even; NaN: quiet, top payload kept ----
@inline function f32tobf(u: v128): v128 {
  const rne = i32x4.shr_u(i32x4.add(i32x4.add(u, i32x4.splat(0x7fff)), v128.and(i32x4.shr_u(u, 16), i32x4.splat(1))), 16);
  const nan = v128.or(i32x4.shr_u(u, 16), i32x4.splat(0x40));
  return v128.bitselect(nan, rne, i32x4.gt_s(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000)));
}

export function narrowBf16(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (<usize>i << 2);
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(f32tobf(v128.load(p)), f32tobf(v128.load(p, 16))));
  }
  for (; i < n; i++) {
    const u = load<u32>(src + (<usize>i << 2));
    const r = (u & 0x7fffffff) > 0x7f800000 ? (u >> 16) | 0x40 : (u + 0x7fff + ((u >> 16) & 1)) >> 16;
    store<u16>(dst + (<usize>i << 1), <u16>r);
  }
}
