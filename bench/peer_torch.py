"""PyTorch CPU peer of normkit's benchmark: answers run.ts over stdin/stdout, one JSON message per
line (the protocol of bench/lib.ts), like the Node children. Forward is timed under torch.no_grad()
(inference); backward is torch.autograd.grad from the graph of one forward call, i.e. the backward
kernel from the statistics forward saved, as autograd runs it in training.

Issue #12's cases: the fused add + norm is PyTorch's unfused baseline, h = x + r then the norm (two
ops, as Hugging Face decoder layers run it); half cases run on bfloat16 tensors (weights too), and
float16 where this PyTorch has CPU kernels for it (1.13 has none for layer_norm or rsqrt)."""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-5
HAS_RMS = hasattr(F, "rms_norm")


def send(m):
    sys.stdout.write(json.dumps(m) + "\n")
    sys.stdout.flush()


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
FUSED = ("addLayerNorm", "addRmsNorm")


def make_data(c):
    # the same formulas as lib.ts inputX/inputDy/inputW/inputB/inputR, in float64, rounded to
    # float32, then (half cases) to the case's dtype
    n, D = c["rows"] * c["D"], c["D"]
    i = np.arange(n, dtype=np.float64)
    j = np.arange(D, dtype=np.float64)
    dt = DTYPES[c.get("dtype", "float32")]
    f = lambda a: torch.from_numpy(a.astype(np.float32)).reshape(-1).to(dt)
    d = {
        "x": f(np.sin(i * 0.7 + 0.3) * 2).reshape(c["rows"], D),
        "dy": f(np.cos(i * 1.3)).reshape(c["rows"], D),
        "w": f(1 + 0.1 * np.sin(j)),
        "b": f(0.1 * np.cos(j)),
    }
    if c["op"] in FUSED:
        d["r"] = f(np.cos(i * 0.37 + 1.1) * 1.5).reshape(c["rows"], D)
    return d


def half_skip(c):
    """Why this PyTorch cannot run the case's dtype on the CPU (None if it can), from a tiny call."""
    dt = DTYPES[c.get("dtype", "float32")]
    if dt == torch.float32:
        return None
    x = torch.ones(2, 8, dtype=dt)
    try:
        F.layer_norm(x, (8,), x[0], x[0], EPS)
        rms_norm(x, x[0])
    except RuntimeError as e:
        return f"PyTorch {torch.__version__} has no CPU {c['dtype']} kernel: {e}"[:300]
    return None


def rms_norm(x, w):
    if HAS_RMS:
        return F.rms_norm(x, (x.shape[-1],), w, EPS)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def prepare(c, d):
    """One timed call: forward returns y (fused: (y, h)), backward dx."""
    D = c["D"]
    ln = c["op"] in ("layerNorm", "addLayerNorm")
    fused = c["op"] in FUSED
    fwd = lambda x, w, b: F.layer_norm(x, (D,), w, b, EPS) if ln else rms_norm(x, w)
    if c["dir"] == "forward":
        x, w, b = d["x"], d["w"], d["b"]
        if fused:
            r = d["r"]

            def run_fused():
                with torch.no_grad():
                    h = x + r
                    return fwd(h, w, b), h
            return run_fused

        def run():
            with torch.no_grad():
                return fwd(x, w, b)
        return run
    x = d["x"].clone().requires_grad_(True)
    w = d["w"].clone().requires_grad_(True)
    b = d["b"].clone().requires_grad_(True)
    if fused:
        # dx = dr: autograd hands the add's one gradient to both
        r = d["r"].clone().requires_grad_(True)
        y = fwd(x + r, w, b)
        inputs = (x, r, w, b) if ln else (x, r, w)
    else:
        y = fwd(x, w, b)
        inputs = (x, w, b) if ln else (x, w)
    dy = d["dy"]
    return lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True)[0]


def check_values(out, idx):
    """The values at flat indices idx of the output (of y, then of h for a fused forward), as floats."""
    outs = out if isinstance(out, tuple) else (out,)
    ix = torch.tensor(idx, dtype=torch.long)
    return [v for o in outs for v in o.detach().reshape(-1)[ix].float().tolist()]


def main():
    # one process per thread count: switching torch.set_num_threads back and forth in one process
    # would time the thread pool's wake-up after each switch rather than the op
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    # settle the thread pool first: on a busy 2-core machine the first ~tens of calls of a fresh
    # 2-thread pool took ~15 ms each (measured) instead of ~20 µs, which would be timed as the op
    x, w = torch.randn(64, 768), torch.ones(768)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        F.layer_norm(x, (768,), w, w)
    rms = "F.rms_norm" if HAS_RMS else "manual x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w (no F.rms_norm in this PyTorch)"
    timed = {
        "forward": f"with torch.no_grad(): F.layer_norm(x, (D,), w, b, eps) / {rms}",
        "backward": "torch.autograd.grad(y, (x, w[, b]), dy, retain_graph=True) on one forward's graph (saved mean/rstd)",
        "fused forward": "with torch.no_grad(): h = x + r, then the forward above on h (unfused: two ops); bfloat16 tensors in the half cases",
        "fused backward": "torch.autograd.grad(y, (x, r, w[, b]), dy, retain_graph=True) through the norm and the add",
        "half forward": "the forward above on bfloat16 tensors (x, w, b)",
        "half backward": "the backward above on bfloat16 tensors",
    }
    covers = [{"ops": ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm"], "dtypes": ["float32", "float16", "bfloat16"]}]
    manual = {} if HAS_RMS else {"opLabel": {
        "rmsNorm": f"PyTorch CPU (manual RMSNorm formula), {threads} thread{'s' if threads > 1 else ''}",
        "addRmsNorm": f"PyTorch CPU, x + r then the manual RMSNorm formula, {threads} thread{'s' if threads > 1 else ''}",
    }}
    send({
        "peer": f"pytorch-{threads}t",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "variants": [
            {"id": f"torch-{threads}t", "peer": f"pytorch-{threads}t", "label": f"PyTorch CPU, {threads} thread{'s' if threads > 1 else ''}",
             "threads": threads, "timed": timed, "covers": covers, **manual}
        ],
    })
    data, runners, check_idx, skip = None, {}, [], None
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            if req["cmd"] == "quit":
                break
            if req["cmd"] == "case":
                runners.clear()
                data = None
                c = req["case"]
                skip = half_skip(c)
                data = (c, make_data(c) if skip is None else None)
                check_idx = req["check"]
                send({"ok": True})
                continue
            c, d = data
            v = req["variant"]
            if skip is not None:
                send({"skip": skip})
                continue
            first = v not in runners
            if first:
                t0 = time.perf_counter()
                runners[v] = prepare(c, d)
                w0 = time.perf_counter()
                k = 0
                while True:
                    runners[v]()
                    k += 1
                    if k >= 3 or time.perf_counter() - w0 > 0.2:
                        break
                warmup_ms = (time.perf_counter() - t0) * 1e3
            run = runners[v]
            times = []
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                out = run()
                times.append((time.perf_counter() - t0) * 1e3)
                if len(times) >= req["maxReps"] or (time.perf_counter() - start) * 1e3 >= req["budgetMs"]:
                    break
            reply = {"times": times}
            if first:
                reply["check"] = check_values(out, check_idx)
                reply["warmupMs"] = warmup_ms
            send(reply)
        except Exception as e:  # reported as this variant's error, the benchmark goes on
            send({"error": f"{type(e).__name__}: {e}"[:300]})


if __name__ == "__main__":
    main()
