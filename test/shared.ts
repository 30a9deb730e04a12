/** Test helpers that also run in browsers (no Node imports): comparison and the test-data PRNG. */

/** null when `got` matches `want` (NaN/±Inf exactly, finite values within `tol`, absolute), else why not. */
export function closeError(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): string | null {
  if (got.length !== want.length) return `${what}: length ${got.length} ≠ ${want.length}`;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!Number.isFinite(w)) {
      if (!(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)))) return `${what}[${i}]: expected ${w}, got ${g}`;
      continue;
    }
    const e = Math.abs(g - w);
    if (!(e <= worst)) {
      worst = Number.isNaN(e) ? Infinity : e;
      at = i;
    }
  }
  return worst <= tol ? null : `${what}: max error ${worst} at [${at}] (got ${got[at]}, want ${want[at]}) > tolerance ${tol}`;
}

/** null when two float32 arrays are bitwise equal (NaN payloads included), else the first difference. */
export function bitwiseError(a: Float32Array, b: Float32Array, what: string): string | null {
  if (a.length !== b.length) return `${what}: length ${a.length} ≠ ${b.length}`;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `${what}[${i}]: ${a[i]} !== ${b[i]} (bitwise)`;
  return null;
}

/** Deterministic PRNG (mulberry32) + Box–Muller normals, for test data. */
export function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
  return {
    u,
    normal,
    tensor(shape: number[], scale = 1, offset = 0) {
      const n = shape.reduce((a, b) => a * b, 1);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = offset + scale * normal();
      return { shape, data: d };
    },
  };
}
