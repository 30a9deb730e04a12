"""Rounding to float16/bfloat16 and the golden-case encoding shared by gen_op_cases.py and
gen_dtype_cases.py (format: FIXTURES.md)."""
import base64, math
from fractions import Fraction
import numpy as np
import torch

from gen_fixtures import enc32, enc64  # noqa: F401  (re-exported: the shared float32/float64 encoding)

TDT = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# significand bits (implicit 1 included), exponent of the smallest normal, of the largest finite
FORMAT = {"float16": (11, -14, 15), "bfloat16": (8, -126, 127)}
AMBIGUOUS = 2.0 ** -20  # relative distance to a rounding boundary a float32 kernel may miss


class Ambiguous(Exception):
    """A value the case rounds lies too close to a rounding boundary of its dtype: redraw."""


# ---------------------------------------------------------------- rounding

def round_np(a, dt):
    """float64 array -> the nearest value of dtype `dt` (ties to even, one rounding), as float64."""
    a = np.asarray(a, dtype=np.float64)
    if dt == "float32":
        return a.astype(np.float32).astype(np.float64)
    p, emin, emax = FORMAT[dt]
    with np.errstate(all="ignore"):
        _, e = np.frexp(a)  # a = m * 2^e, |m| in [0.5, 1)
        e = np.maximum(e, emin + 1)  # subnormals share the smallest normal's spacing
        q = np.ldexp(np.rint(np.ldexp(a, p - e)), e - p)  # np.rint: to nearest even
        top = (2 - 2.0 ** (1 - p)) * 2.0 ** emax
        return np.where(np.abs(q) > top, np.copysign(np.inf, a), q)


def round_frac(x, dt):
    """One float64 rounded to `dt` with exact rational arithmetic (independent of round_np)."""
    if x != x or x in (math.inf, -math.inf) or x == 0:
        return x
    p, emin, emax = FORMAT[dt]
    a = abs(Fraction(x))
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    quantum = Fraction(2) ** (max(e, emin) - p + 1)
    q = a / quantum
    n = math.floor(q)
    if q - n > Fraction(1, 2) or (q - n == Fraction(1, 2) and n % 2 == 1):
        n += 1
    v = n * quantum
    if v > (2 - Fraction(2) ** (1 - p)) * Fraction(2) ** emax:
        return math.copysign(math.inf, x)
    return math.copysign(float(v), x)


class _Round(torch.autograd.Function):
    """Forward: `fn(t)` (a rounding); backward: the identity (a straight-through cast)."""

    @staticmethod
    def forward(ctx, t, fn):
        return fn(t)

    @staticmethod
    def backward(ctx, g):
        return g, None


def rnd(t, dt, check=None):
    """t rounded to dtype `dt` (float32 or float64 tensor; returns the same dtype). `check`: a
    magnitude (tensor or number) for the float64 path: raise Ambiguous where a float32 kernel's error,
    taken as 2^-20 (|t| + check), could round t to another value."""
    if t.dtype == torch.float32:
        return _Round.apply(t, lambda v: v.to(TDT[dt]).to(torch.float32))

    def f64(v):
        a = v.detach().numpy()
        r = round_np(a, dt)
        if check is not None and dt != "float32":
            fin = np.isfinite(a)
            mag = check.detach().numpy() if torch.is_tensor(check) else check
            err = AMBIGUOUS * (np.abs(a) + mag)
            lo, hi = round_np(a - err, dt), round_np(a + err, dt)
            if np.any(fin & (lo != hi)):
                raise Ambiguous()
        return torch.from_numpy(r)

    return _Round.apply(t, f64)


def promote(a, b):
    return a if a == b else "float32"


# ---------------------------------------------------------------- encoding

def bits16(t, dt):
    h = t.detach().to(torch.float32).contiguous().to(TDT[dt])
    return (h.numpy() if dt == "float16" else h.view(torch.int16).numpy()).view("<u2")


def enc_in(t, dt):
    """An input tensor: float32 as gen_fixtures.py, half as its little-endian uint16 bit patterns."""
    if dt == "float32":
        return enc32(t)
    return {"shape": list(t.shape), "dtype": dt, "u16": base64.b64encode(bits16(t, dt).tobytes()).decode()}


def enc_out(t, dt):
    e = enc64(t)
    if dt != "float32":
        e["dtype"] = dt
    return e


def ulp_key(v, dt):
    """Integers whose differences count the values of dtype `dt` between two of its values."""
    b = bits16(torch.from_numpy(np.asarray(v, dtype=np.float32)), dt).astype(np.int64)
    return np.where(b & 0x8000, -(b & 0x7FFF), b)


def passes(got, ref, dt, ulp, tol):
    """The rule of FIXTURES.md: NaN/Inf exact; finite values within `ulp` of ref rounded to dt, or within tol."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    fin = np.isfinite(ref)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    if not np.all(same[~fin]):
        return False
    close = np.abs(got - ref) <= tol
    if dt != "float32":
        r32 = round_np(ref, dt).astype(np.float32)
        close |= np.abs(ulp_key(got, dt) - ulp_key(r32, dt)) <= ulp
    return bool(np.all(close[fin]))


def passes_each(got, ref, dt):
    """Per element: within 1 ulp of ref rounded to dt (no tolerance); for the statistics printed at the end."""
    r32 = round_np(ref, dt).astype(np.float32)
    return np.abs(ulp_key(got, dt) - ulp_key(r32, dt)) <= 1
