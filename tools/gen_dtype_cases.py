#!/usr/bin/env python3
"""float32 -> float16/bfloat16 by torch's `.to()`, and float64 -> float16/bfloat16 rounded once
(exact rational arithmetic), for test/core/dtype.test.ts (format: FIXTURES.md).

usage: gen_dtype_cases.py [SEED=12] [DTYPE.json]   (gen_op_cases.py also writes it)
"""
import base64, json, math, os, sys
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from halfprec import bits16, round_frac, round_np  # noqa: E402


def dtype_cases(seed):
    r = np.random.default_rng(seed)
    edges = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.996, 65520.0, 65535.0, 65536.0, 1e5, -65520.0, math.inf, -math.inf,
             2.0 ** -14, 2.0 ** -14 * (1 - 2 ** -11), 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * (1 + 2 ** -20), 3 * 2.0 ** -26, 2.0 ** -26,
             1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -11 + 2.0 ** -23, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -23,
             3.4028234663852886e38, -3.4028234663852886e38, 3.3895313892515355e38, 2.0 ** -126, 2.0 ** -149, 2.0 ** -133, 2.0 ** -134, 3 * 2.0 ** -135]
    vals = np.array(edges, dtype=np.float32)
    # every tie and near-tie of both formats at random exponents, and random bit patterns
    hi = r.integers(0, 1 << 19, 600, dtype=np.uint32) << 13
    lows = np.array([0, 1, 0xFFF, 0x1000, 0x1001, 0x1FFF], dtype=np.uint32)
    pats = np.concatenate([(hi[:, None] | lows[None, :]).ravel(),
                           ((r.integers(0, 1 << 16, 400, dtype=np.uint32) << 16)[:, None] | np.array([0x7FFF, 0x8000, 0x8001], dtype=np.uint32)[None, :]).ravel(),
                           r.integers(0, 1 << 32, 2000, dtype=np.uint64).astype(np.uint32),
                           np.array([0x7F800001, 0x7FC00000, 0xFFC12345, 0x7FBFFFFF], dtype=np.uint32)])
    vals = np.concatenate([vals.view(np.uint32), pats]).view(np.float32)
    t = torch.from_numpy(vals.copy())
    f16 = t.to(torch.float16).numpy().view("<u2")
    bf16 = t.to(torch.bfloat16).view(torch.int16).numpy().view("<u2")
    # float64 values that float32 cannot hold: next to the ties of both formats, and random
    d = [1 + 2.0 ** -11 + 2.0 ** -40, 1 + 2.0 ** -11 - 2.0 ** -40, 1 + 2.0 ** -8 + 2.0 ** -40, 1 + 2.0 ** -8 - 2.0 ** -40,
         65520 - 2.0 ** -30, 2.0 ** -25 + 2.0 ** -70, 2.0 ** -25 - 2.0 ** -70, 1e-300, -1e300, 3.3961775292304265e38]
    rnd64 = r.standard_normal(3000) * np.exp2(r.integers(-30, 20, 3000)) + r.standard_normal(3000) * 2.0 ** -30
    rnd64b = r.standard_normal(1000) * np.exp2(r.integers(-140, 128, 1000))
    f64 = np.concatenate([np.array(d), rnd64, rnd64b])
    e16 = np.array([round_frac(float(v), "float16") for v in f64])
    eb16 = np.array([round_frac(float(v), "bfloat16") for v in f64])
    # cross-checks: three roundings must agree
    with np.errstate(over="ignore"):
        assert np.array_equal(e16, f64.astype(np.float16).astype(np.float64)), "round_frac vs numpy float16"
    assert np.array_equal(e16, round_np(f64, "float16")) and np.array_equal(eb16, round_np(f64, "bfloat16")), "round_frac vs round_np"
    fin = np.isfinite(vals)
    assert np.array_equal(round_np(vals[fin].astype(np.float64), "float16"), t[fin].to(torch.float16).double().numpy()), "round_np vs torch float16"
    assert np.array_equal(round_np(vals[fin].astype(np.float64), "bfloat16"), t[fin].to(torch.bfloat16).double().numpy()), "round_np vs torch bfloat16"
    b64 = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
    return {
        "generator": "PyTorch " + torch.__version__ + ", NumPy " + np.__version__, "format": 1,
        "f32": {"u32": b64(vals.view("<u4"))},
        "torchFloat16": {"u16": b64(f16)},
        "torchBfloat16": {"u16": b64(bf16)},
        "f64": {"f64": b64(f64.astype("<f8"))},
        "f64ToFloat16": {"u16": b64(torch.from_numpy(e16).to(torch.float16).numpy().view("<u2"))},
        "f64ToBfloat16": {"u16": b64(bits16(torch.from_numpy(eb16).float(), "bfloat16"))},
    }


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    path = sys.argv[2] if len(sys.argv) > 2 else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "dtype-cases.json"))
    with open(path, "w") as f:
        json.dump(dtype_cases(seed), f)
    print("dtype cases ->", path)
