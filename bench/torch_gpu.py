"""PyTorch CUDA side of bench/gpu.ts: F.layer_norm and F.rms_norm (weight; LayerNorm also bias)
forward and their autograd backward on the same shapes, timed with CUDA events (median of `iters`
single-call timings after `warmup`). Backward is torch.autograd.grad from one forward's graph
(retain_graph), i.e. the backward kernels alone. With cfg "ext": the same in bfloat16/float16 and
the residual add + norm (issue #12). Prints one JSON line; exits 2 without CUDA."""
import json
import os
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # no torch: the caller reports the reason
    print(f"no torch: {e}", file=sys.stderr)
    sys.exit(2)
# NORMKIT_TORCH_DEVICE=cpu: a self-test of this script where there is no GPU (wall-clock timing;
# the numbers mean nothing, the JSON shape and the code paths are what it checks)
ON_CPU = os.environ.get("NORMKIT_TORCH_DEVICE") == "cpu"
if not ON_CPU and not torch.cuda.is_available():
    print("torch has no CUDA device", file=sys.stderr)
    sys.exit(2)

cfg = json.loads(sys.argv[1])
iters, warmup = cfg["iters"], cfg["warmup"]
dev = torch.device("cpu" if ON_CPU else "cuda")
has_rms = hasattr(F, "rms_norm")


def timed(fn):
    for _ in range(warmup):
        fn()
    ts = []
    if ON_CPU:
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
    else:
        torch.cuda.synchronize()
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            ts.append(a.elapsed_time(b))
    ts.sort()
    n = len(ts)
    return ts[n // 2] if n % 2 else (ts[n // 2 - 1] + ts[n // 2]) / 2


rows = []
for R, D in cfg["shapes"]:
    i = torch.arange(R * D, device=dev, dtype=torch.float64)
    x = (torch.sin(i * 0.7 + 0.3) * 2).float().reshape(R, D).requires_grad_(True)
    dy = torch.cos(i * 1.3).float().reshape(R, D)
    j = torch.arange(D, device=dev, dtype=torch.float64)
    w = (1 + 0.01 * torch.sin(j)).float().requires_grad_(True)
    b = (0.01 * torch.cos(j)).float().requires_grad_(True)
    nbytes = R * D * 4
    ops = [("layerNorm", lambda: F.layer_norm(x, (D,), w, b, 1e-5), (x, w, b), 2)]
    if has_rms:
        ops.append(("rmsNorm", lambda: F.rms_norm(x, (D,), w, 1e-6), (x, w), 1))
    for name, fwd, inputs, nstats in ops:
        with torch.no_grad():
            ms = timed(fwd)
        rows.append({"shape": [R, D], "op": name, "dir": "forward", "ms": ms,
                     "gbs": (2 * nbytes + nstats * R * 4 + (len(inputs) - 1) * D * 4) / ms / 1e6})
        y = fwd()
        ms = timed(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True))
        rows.append({"shape": [R, D], "op": name, "dir": "backward", "ms": ms,
                     "gbs": (3 * nbytes + nstats * R * 4 + 2 * (len(inputs) - 1) * D * 4) / ms / 1e6})
        del y
    del x, dy, w, b, i
    if not ON_CPU:
        torch.cuda.empty_cache()

# GroupNorm [N, C, S] in G groups: F.group_norm and its autograd backward (weight and bias)
gn_rows = []
for N, C, S, G in cfg.get("gn_shapes", []):
    i = torch.arange(N * C * S, device=dev, dtype=torch.float64)
    x = (torch.sin(i * 0.7 + 0.3) * 2).float().reshape(N, C, S).requires_grad_(True)
    dy = torch.cos(i * 1.3).float().reshape(N, C, S)
    j = torch.arange(C, device=dev, dtype=torch.float64)
    w = (1 + 0.01 * torch.sin(j)).float().requires_grad_(True)
    b = (0.01 * torch.cos(j)).float().requires_grad_(True)
    nbytes = N * C * S * 4
    fwd = lambda: F.group_norm(x, G, w, b, 1e-5)
    with torch.no_grad():
        ms = timed(fwd)
    gn_rows.append({"shape": [N, C, S, G], "dir": "forward", "ms": ms, "gbs": (2 * nbytes + 2 * N * G * 4 + 2 * C * 4) / ms / 1e6})
    y = fwd()
    ms = timed(lambda: torch.autograd.grad(y, (x, w, b), dy, retain_graph=True))
    gn_rows.append({"shape": [N, C, S, G], "dir": "backward", "ms": ms, "gbs": (3 * nbytes + 2 * N * G * 4 + 3 * C * 4) / ms / 1e6})
    del x, dy, w, b, i, y
    if not ON_CPU:
        torch.cuda.empty_cache()

# issue #12 (bench/gpu-ext.ts): the norms in bfloat16/float16 storage (and float32), and the residual
# add then the norm, h = x + r; F.*_norm(h) (two kernels in eager PyTorch; its fused add + norm lives
# in Liger/FlashInfer/Apex, not in torch). A call the build cannot run (CPU float16 LayerNorm in
# torch 1.13) is reported with its error instead of a time.
ext_rows = []
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
for R, D in cfg["shapes"] if cfg.get("ext") else []:
    for dname, dt in DTYPES.items():
        el = 2 if dt != torch.float32 else 4
        i = torch.arange(R * D, device=dev, dtype=torch.float64)
        x = (torch.sin(i * 0.7 + 0.3) * 2).to(dt).reshape(R, D).requires_grad_(True)
        r = torch.sin(i * 0.11).to(dt).reshape(R, D)
        dy = torch.cos(i * 1.3).to(dt).reshape(R, D)
        j = torch.arange(D, device=dev, dtype=torch.float64)
        w = (1 + 0.01 * torch.sin(j)).to(dt).requires_grad_(True)
        b = (0.01 * torch.cos(j)).to(dt).requires_grad_(True)
        n = R * D
        cases = [("layerNorm", lambda: F.layer_norm(x, (D,), w, b, 1e-5), (x, w, b), 2, False),
                 ("addLayerNorm", lambda: F.layer_norm(x + r, (D,), w, b, 1e-5), None, 2, True)]
        if has_rms:
            cases += [("rmsNorm", lambda: F.rms_norm(x, (D,), w, 1e-6), (x, w), 1, False),
                      ("addRmsNorm", lambda: F.rms_norm(x + r, (D,), w, 1e-6), None, 1, True)]
        for op, fwd, inputs, nstats, add in cases:
            params = nstats * D * el
            try:
                with torch.no_grad():
                    ms = timed(fwd)
                ext_rows.append({"shape": [R, D], "op": op, "dtype": dname, "dir": "forward", "ms": ms,
                                 "gbs": ((4 if add else 2) * n * el + nstats * R * 4 + params) / ms / 1e6})
                if inputs is not None:
                    y = fwd()
                    ms = timed(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True))
                    ext_rows.append({"shape": [R, D], "op": op, "dtype": dname, "dir": "backward", "ms": ms,
                                     "gbs": (3 * n * el + nstats * R * 4 + 2 * params) / ms / 1e6})
                    del y
            except RuntimeError as e:  # e.g. "not implemented for 'Half'" on the CPU
                ext_rows.append({"shape": [R, D], "op": op, "dtype": dname, "dir": "forward", "error": str(e).split("\n")[0][:200]})
        del x, r, dy, w, b, i
        if not ON_CPU:
            torch.cuda.empty_cache()

name = "cpu (self-test)" if ON_CPU else torch.cuda.get_device_name(0)
print(json.dumps({"device": name, "torch": torch.__version__, "rms_norm": has_rms, "rows": rows, "groupNorm": gn_rows, "ext": ext_rows}))
