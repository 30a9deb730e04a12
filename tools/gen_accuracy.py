#!/usr/bin/env python3
"""PyTorch's own float32 error on wide rows and large groups: the tolerances of the accuracy tests.

For each case (op, input kind, shape) this builds the inputs from a counter-based integer hash
that test/accuracy.ts implements identically (so no array is stored), runs PyTorch in float32 and
in float64 on the same float32 inputs, and writes the largest absolute error of every float32
output (y, mean, rstd, dx, dweight, dbias) to a small JSON fixture. A test allows a backend
4 x PyTorch's error on that output, or the floor (FLOOR_ULPS half-ulps of the output's largest
value) where PyTorch happens to be nearly exact.

usage: /usr/bin/python3 tools/gen_accuracy.py [OUT.json]   (default test/fixtures/accuracy.json)
"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F

F32_EPS = float(np.finfo(np.float32).eps)
# tolerance floor: this many half-ulps (2^-24 relative) of the output's largest absolute value
FLOOR_ULPS = 8
SQRT3 = 1.7320508075688772


# ---- the input generator (mirrored by test/accuracy.ts; change both together) -----------------

def hash32(k):
    """lowbias32 (C. Wellons): a bijective 32-bit integer hash, on uint32 numpy arrays."""
    k = k.astype(np.uint32)
    k ^= k >> np.uint32(16)
    k *= np.uint32(0x7FEB352D)
    k ^= k >> np.uint32(15)
    k *= np.uint32(0x846CA68B)
    k ^= k >> np.uint32(16)
    return k


def uniform(seed, n, start=0):
    """n values in (0, 1): (top 24 bits of hash(hash(seed) + i) + 0.5) / 2^24, exact in float64."""
    h0 = hash32(np.array([seed], dtype=np.uint32))[0]
    i = (np.arange(start, start + n, dtype=np.uint64) + np.uint64(h0)) & np.uint64(0xFFFFFFFF)
    return ((hash32(i.astype(np.uint32)) >> np.uint32(8)).astype(np.float64) + 0.5) / 16777216.0


def normal(seed, n):
    """Irwin-Hall approximation of N(0, 1): (u0 + u1 + u2 + u3 - 2) * sqrt(3), rounded once to float32.
    Every step is exact or one IEEE-rounded float64 operation, so TS and Python agree bit for bit."""
    u = uniform(seed, 4 * n).reshape(n, 4)
    s = ((u[:, 0] + u[:, 1]) + (u[:, 2] + u[:, 3])) - 2.0
    return (s * SQRT3).astype(np.float32)


def values(kind, seed, rows, D):
    """x for a kind of row (float32, shape rows x D); each kind is a case the issue names."""
    n = rows * D
    z = normal(seed, n).astype(np.float64)
    if kind == "normal":
        v = z
    elif kind == "offset":      # 1e4 + noise: a large mean, small spread
        v = 1e4 + z
    elif kind == "constant":    # 0.1 everywhere: variance 0 (LayerNorm), RMS exactly known
        v = np.full(n, 0.1)
    elif kind == "relu":        # relu(N(0, 1)): positive mean, half zeros
        v = np.maximum(z, 0.0)
    elif kind == "heavy":       # a slash distribution, normal / uniform: Cauchy-like tails
        v = z / uniform(seed + 7, n)
    elif kind == "massive":     # N(0, 1) with one activation of 1e4 per row (at D/3)
        v = z.copy()
        v.reshape(rows, D)[:, D // 3] = 1e4
    else:
        raise ValueError(kind)
    return v.astype(np.float32).reshape(rows, D)


# ---- PyTorch --------------------------------------------------------------------------------

def rms_norm(x, w, b, eps):
    """RMSNorm as PyTorch 1.13 users write it (F.rms_norm arrived in 2.4): the float32 formula."""
    rstd = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    y = x * rstd
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y, rstd


def run(case, x32, dy32, w32, b32, dt):
    x = x32.to(dt).requires_grad_(True)
    w = w32.to(dt).requires_grad_(True) if w32 is not None else None
    b = b32.to(dt).requires_grad_(True) if b32 is not None else None
    op, eps = case["op"], case["eps"]
    stats = {}
    if op == "layerNorm":
        D = x.shape[-1]
        y, mean, rstd = torch.native_layer_norm(x, [D], w, b, eps)
        stats = {"mean": mean, "rstd": rstd}
    elif op == "rmsNorm":
        y, rstd = rms_norm(x, w, b, eps)
        stats = {"rstd": rstd}
    elif op == "groupNorm":
        N, C = x.shape[0], x.shape[1]
        S = x.numel() // (N * C)
        y, mean, rstd = torch.native_group_norm(x, w, b, N, C, S, case["numGroups"], eps)
        stats = {"mean": mean, "rstd": rstd}
    y.backward(dy32.to(dt))
    out = {"y": y, **stats, "dx": x.grad}
    if w is not None:
        out["dweight"] = w.grad
    if b is not None:
        out["dbias"] = b.grad
    return {k: v.detach().to(torch.float64).reshape(-1) for k, v in out.items()}


def measure(case):
    shape, s = case["shape"], case["seed"]
    rows = int(np.prod(shape[:-1])) if case["op"] != "groupNorm" else shape[0] * shape[1]
    D = shape[-1]
    x = torch.from_numpy(values(case["kind"], s, rows, D).reshape(shape))
    dy = torch.from_numpy(normal(s + 1, x.numel()).reshape(shape))
    P = shape[1] if case["op"] == "groupNorm" else D
    w = torch.from_numpy((1.0 + 0.5 * normal(s + 2, P).astype(np.float64)).astype(np.float32)) if case["weight"] else None
    b = torch.from_numpy((0.5 * normal(s + 3, P).astype(np.float64)).astype(np.float32)) if case["bias"] else None
    ref = run(case, x, dy, w, b, torch.float64)
    got = run(case, x, dy, w, b, torch.float32)
    err, tol = {}, {}
    for k in ref:
        fin = torch.isfinite(ref[k])
        assert bool(fin.all()), f"{case['name']}: non-finite float64 {k}"
        e = (ref[k] - got[k]).abs().max().item() if torch.isfinite(got[k]).all() else float("inf")
        err[k] = e
        tol[k] = max(4 * e, FLOOR_ULPS * 2.0 ** -24 * ref[k].abs().max().item())
    return err, tol


# ---- the cases ------------------------------------------------------------------------------

def cases():
    out = []
    seed = [100]

    def add(name, op, kind, shape, **kw):
        seed[0] += 10
        c = {"name": name, "op": op, "kind": kind, "shape": shape, "seed": seed[0],
             "weight": kw.get("weight", True), "bias": kw.get("bias", op != "rmsNorm"),
             "eps": kw.get("eps", F32_EPS if op == "rmsNorm" else 1e-5)}
        if op == "groupNorm":
            c["numGroups"] = kw["G"]
        out.append(c)

    # rows from 1 to 2^20 wide, every kind; rows few where wide (the suite must stay fast)
    for op in ("layerNorm", "rmsNorm"):
        short = "ln" if op == "layerNorm" else "rms"
        for kind in ("offset", "constant", "relu", "heavy", "massive"):
            for D in (1, 3, 1000, 65539, 1 << 20):
                rows = 1 if D >= 1 << 20 else 2 if D >= 65536 else 8 if D >= 1000 else 64
                add(f"{short} {kind} [{rows}, {D}]", op, kind, [rows, D])
    # the measurements: LayerNorm relu rows of 262144, RMSNorm on 10^6 values of 0.1
    add("ln relu [4, 262144] (issue)", "layerNorm", "relu", [4, 262144])
    add("rms constant 0.1 [1, 1000000] (issue)", "rmsNorm", "constant", [1, 1000000], weight=False)
    # dweight/dbias summed over many rows (the smaller ones also fit the WebGPU suite's time)
    add("ln relu [65536, 16] many rows", "layerNorm", "relu", [65536, 16])
    add("ln offset [4096, 256] many rows", "layerNorm", "offset", [4096, 256])
    add("rms normal [16384, 64] many rows", "rmsNorm", "normal", [16384, 64], bias=True)
    add("ln relu [8192, 16] many rows", "layerNorm", "relu", [8192, 16])
    add("ln offset [2048, 64] many rows", "layerNorm", "offset", [2048, 64])
    add("rms heavy [4096, 32] many rows", "rmsNorm", "heavy", [4096, 32], bias=True)
    # GroupNorm: groups of 10^4 to 10^6 values; the diffusion shape, positive mean
    add("gn relu [2, 320, 4096] G=32 (issue)", "groupNorm", "relu", [2, 320, 4096], G=32)
    add("gn offset [4, 16, 625] G=1", "groupNorm", "offset", [4, 16, 625], G=1)
    add("gn heavy [3, 32, 1250] G=4", "groupNorm", "heavy", [3, 32, 1250], G=4)
    add("gn massive [2, 8, 12500] G=2", "groupNorm", "massive", [2, 8, 12500], G=2)
    add("gn relu [1, 64, 16384] G=1", "groupNorm", "relu", [1, 64, 16384], G=1)
    return out


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/accuracy.json"
    torch.set_num_threads(1)  # PyTorch's parameter-gradient sums depend on its thread count
    cs = cases()
    for c in cs:
        c["torchError"], c["tolerance"] = measure(c)
        print(f"{c['name']:44s} " + " ".join(f"{k} {v:.2e}" for k, v in c["torchError"].items()), flush=True)
    head = {"generator": "tools/gen_accuracy.py, PyTorch " + torch.__version__ + ", 1 thread",
            "format": 1, "floorUlps": FLOOR_ULPS}
    with open(path, "w") as f:  # one case per line
        f.write(json.dumps(head)[:-1] + ', "cases": [\n' + ",\n".join(json.dumps(c) for c in cs) + "\n]}\n")
    print(len(cs), "cases ->", path)
