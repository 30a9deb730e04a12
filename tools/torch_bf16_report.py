#!/usr/bin/env python3
"""How PyTorch's own bfloat16 CPU kernels fare on the golden cases: F.layer_norm / F.group_norm in
bfloat16 against each case's expected y (the float64 result), counted against the 1-ulp contract.

usage: torch_bf16_report.py [OPS.json=test/fixtures/ops-cases.json]
"""
import base64, json, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from halfprec import TDT, passes_each  # noqa: E402


def torch_bf16_report(path):
    """PyTorch's native bfloat16 F.layer_norm / F.group_norm (CPU) on the bfloat16 cases with
    bfloat16 parameters, against the cases' expected y: elements more than 1 ulp off, and the
    largest error relative to the output's largest magnitude."""
    def dec(t):
        if t is None:
            return None
        if "f32" in t:
            return torch.from_numpy(np.frombuffer(base64.b64decode(t["f32"]), "<f4").reshape(t["shape"]).copy())
        u = np.frombuffer(base64.b64decode(t["u16"]), "<u2").astype(np.int16).reshape(t["shape"]).copy()
        return torch.from_numpy(u).view(TDT[t["dtype"]])

    total = off = 0
    for c in json.load(open(path))["cases"]:
        x, w, b = dec(c["x"]), dec(c["weight"]), dec(c["bias"])
        plain = c.get("castingMode", "gemma") == "gemma" and not c.get("channelsLast") and not c.get("weightOffset")
        if x.dtype != torch.bfloat16 or not plain or any(p is not None and p.dtype != torch.bfloat16 for p in (w, b)):
            continue
        eps = c["eps"] if c["eps"] is not None else 1e-5
        if c["op"] == "layerNorm":
            y = F.layer_norm(x, c["normalizedShape"], w, b, eps)
        elif c["op"] == "groupNorm":
            y = F.group_norm(x, c["numGroups"], w, b, eps)
        else:
            continue
        e = np.frombuffer(base64.b64decode(c["expected"]["y"]["f64"]), "<f8")
        got = y.float().numpy().ravel()
        n = int((~passes_each(got, e, "bfloat16")).sum())
        total, off = total + e.size, off + n
        rel = np.abs(got - e).max() / np.abs(e).max()
        print(f"{c['name']:32s} {e.size:6d} elements, {n:5d} more than 1 ulp off, max error {rel:.2g} of max |y|")
    print(f"PyTorch {torch.__version__} bfloat16 on the CPU: {off} of {total} elements more than 1 ulp off")


if __name__ == "__main__":
    torch.set_num_threads(1)
    torch_bf16_report(sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "ops-cases.json")))
