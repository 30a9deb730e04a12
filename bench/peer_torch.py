"""PyTorch CPU peer of normkit's benchmark: answers run.ts over stdin/stdout, one JSON message per
line (the protocol of bench/lib.ts), like the Node children. Forward is timed under torch.no_grad()
(inference); backward is torch.autograd.grad from the graph of one forward call, i.e. the backward
kernel from the statistics forward saved, as autograd runs it in training."""
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


def make_data(c):
    # the same formulas as lib.ts inputX/inputDy/inputW/inputB, in float64 then rounded to float32
    n, D = c["rows"] * c["D"], c["D"]
    i = np.arange(n, dtype=np.float64)
    j = np.arange(D, dtype=np.float64)
    f = lambda a: torch.from_numpy(a.astype(np.float32)).reshape(-1)
    return {
        "x": f(np.sin(i * 0.7 + 0.3) * 2).reshape(c["rows"], D),
        "dy": f(np.cos(i * 1.3)).reshape(c["rows"], D),
        "w": f(1 + 0.1 * np.sin(j)),
        "b": f(0.1 * np.cos(j)),
    }


def rms_norm(x, w):
    if HAS_RMS:
        return F.rms_norm(x, (x.shape[-1],), w, EPS)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def prepare(c, d):
    D = c["D"]
    ln = c["op"] == "layerNorm"
    fwd = lambda x, w, b: F.layer_norm(x, (D,), w, b, EPS) if ln else rms_norm(x, w)
    if c["dir"] == "forward":
        x, w, b = d["x"], d["w"], d["b"]

        def run():
            with torch.no_grad():
                return fwd(x, w, b)
        return run
    x = d["x"].clone().requires_grad_(True)
    w = d["w"].clone().requires_grad_(True)
    b = d["b"].clone().requires_grad_(True)
    y = fwd(x, w, b)
    dy = d["dy"]
    inputs = (x, w, b) if ln else (x, w)
    return lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True)[0]


def check_indices(c):
    n, D = c["rows"] * c["D"], c["D"]
    return [0, 1, D - 1, D, n // 2 + 3, n - 1]


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
    }
    send({
        "peer": f"pytorch-{threads}t",
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "variants": [
            {"id": f"torch-{t}t", "peer": f"pytorch-{t}t", "label": f"PyTorch CPU, {t} thread{'s' if t > 1 else ''}",
             "threads": t, "timed": timed,
             **({} if HAS_RMS else {"opLabel": {"rmsNorm": f"PyTorch CPU (manual RMSNorm formula), {t} thread{'s' if t > 1 else ''}"}})}
            for t in (threads,)
        ],
    })
    data, runners = None, {}
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
                data = (c, make_data(c))
                send({"ok": True})
                continue
            c, d = data
            v = req["variant"]
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
                flat = out.detach().reshape(-1)
                reply["check"] = [float(flat[i]) for i in check_indices(c)]
                reply["warmupMs"] = warmup_ms
            send(reply)
        except Exception as e:  # reported as this variant's error, the benchmark goes on
            send({"error": f"{type(e).__name__}: {e}"[:300]})


if __name__ == "__main__":
    main()
