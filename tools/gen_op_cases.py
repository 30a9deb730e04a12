#!/usr/bin/env python3
"""Golden cases for issue #12's ops and options, computed by PyTorch (format: tools/FIXTURES.md).

Writes two files:
- OPS.json (test/fixtures/ops-cases.json): addLayerNorm, addRmsNorm, instanceNorm, and the existing
  ops with weightOffset, castingMode, channelsLast + SiLU, momentum null, float16/bfloat16 tensors.
- DTYPE.json (test/fixtures/dtype-cases.json): float32 -> float16/bfloat16 conversions by torch's
  `.to()`, and float64 -> float16/bfloat16 rounded once (exact rational arithmetic).

Every case is computed twice by the same torch code: in float64 (the expected outputs) and in
float32 (its error sets the tolerance). Half inputs are float32 tensors holding half values; the
roundings a casting mode or the residual add makes are emulated by an explicit rounding to the
dtype (`rnd`), whose gradient is the identity (as a straight-through cast). Roundings of values a
float32 kernel cannot compute exactly (x-hat, the statistics) must not be ambiguous: a draw whose
float64 value lies within 2^-20 (relative) of a rounding boundary is redrawn, so every float32
kernel rounds such values as the reference does.

usage: gen_op_cases.py [SEED=12] [OPS.json] [DTYPE.json]
Helpers: halfprec.py (rounding, encoding, the pass rule), gen_dtype_cases.py (DTYPE.json);
torch_bf16_report.py measures PyTorch's own bfloat16 kernels on the cases.
"""
import json, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import F32_EPS, tol as tol32  # noqa: E402  (the shared tolerance rule)
from gen_dtype_cases import dtype_cases  # noqa: E402
from halfprec import TDT, Ambiguous, enc_in, enc_out, passes, passes_each, promote, rnd  # noqa: E402


# ---------------------------------------------------------------- the ops, in torch

def row_norm(x, nd, w, b, eps, rms, offset, mode, dts):
    """LayerNorm (rms False) / RMSNorm over the last `nd` dims, with weightOffset and castingMode."""
    dims = tuple(range(-nd, 0))
    xdt, wdt = dts["x"], dts["weight"]
    if rms:
        mean, xc = None, x
        rstd = torch.rsqrt((x * x).mean(dims, keepdim=True) + eps)
    else:
        mean = x.mean(dims, keepdim=True)
        xc = x - mean
        rstd = torch.rsqrt((xc * xc).mean(dims, keepdim=True) + eps)
    if xdt == "float32":
        mode = "gemma"  # castingMode is for half inputs only
    if mode == "gemma":  # everything in float32, y rounded once
        xhat = xc * rstd
        y = xhat * (w + offset) if w is not None else xhat
        pdt = xdt
    elif mode == "llama":  # x-hat rounded to x's dtype, then the affine in float32
        # x-hat's float32 error grows with |mean|·rstd where x − mean cancels
        xhat = rnd(xc * rstd, xdt, check=0 if rms else mean.abs() * rstd)
        y = xhat * (w + offset) if w is not None else xhat
        pdt = "float32"
    else:  # "none": statistics in float32, every elementwise op rounded to its dtype, as torch half ops
        rh = rnd(rstd, xdt, check=0)
        if not rms:
            xc = rnd(x - rnd(mean, xdt, check=x.abs().mean(dims, keepdim=True)), xdt)
        xhat = rnd(xc * rh, xdt)
        y, pdt = xhat, xdt
        if w is not None:
            pdt = promote(xdt, wdt)
            y = xhat * rnd(w + offset, wdt)
    if b is not None:
        if mode == "none":
            y = rnd(y, pdt)
        y = y + b
    return y


def add_input(x, r, ib, xdt):
    """h = (x + residual) + inputBias in float32, rounded once to x's dtype (exact emulation)."""
    h = x.detach().float() + r.detach().float()
    if ib is not None:
        h = h + ib.detach().float()
    return h.to(TDT[xdt]).float()


def group_norm(x, G, w, b, eps, channels_last, activation):
    xc = x.movedim(-1, 1) if channels_last else x
    y = F.group_norm(xc, G, w, b, eps)
    if activation == "silu":
        y = y * torch.sigmoid(y)
    return y.movedim(1, -1) if channels_last else y


def momentum_factor(case):
    m = case["momentum"]
    return 1.0 / (case["numBatchesTracked"] + 1) if m is None else m


def compute(case, T, prec):
    """Forward + backward of `case` in precision `prec` from float32 tensors T (holding each input's
    values); returns (outputs, output dtypes). Outputs are unrounded (the kernel's final rounding is
    the one the tolerance rule allows)."""
    op, dts = case["op"], case["_dtypes"]
    P = {k: (v.to(prec).clone() if v is not None else None) for k, v in T.items()}
    for k in ("x", "weight", "bias", "inputBias"):
        if P.get(k) is not None:
            P[k].requires_grad_(True)
    out, odt = {}, {}
    if op in ("layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm"):
        rms = op in ("rmsNorm", "addRmsNorm")
        nd = len(case["normalizedShape"])
        eps = case["eps"] if case["eps"] is not None else (F32_EPS if rms else 1e-5)
        offset, mode = case.get("weightOffset", 0), case.get("castingMode", "gemma")
        if op.startswith("add"):
            h = add_input(T["x"], T["residual"], T.get("inputBias"), dts["x"]).to(prec).requires_grad_(True)
            out["h"], odt["h"] = h.detach().clone(), dts["x"]
            src = h
        else:
            src = P["x"]
        y = row_norm(src, nd, P["weight"], P["bias"], eps, rms, offset, mode, dts)
        # backward: the float32 math of the "gemma" graph, except llama's dweight = sum dy * x-hat
        # rounded to x's dtype (Liger's _CASTING_MODE_LLAMA backward); "none" differentiates as "gemma"
        g = y if mode in ("gemma", "llama") else row_norm(src, nd, P["weight"], P["bias"], eps, rms, offset, "gemma", dts)
        g.backward(P["dy"])
        out["y"], odt["y"] = y.detach(), dts["x"]
        if op.startswith("add"):
            dx = h.grad + (P["dh"] if P.get("dh") is not None else 0)
            out["dx"] = dx
            if P.get("inputBias") is not None:
                out["dinputBias"], odt["dinputBias"] = dx.reshape(-1, *case["normalizedShape"]).sum(0), dts["inputBias"]
        else:
            out["dx"] = P["x"].grad
        odt["dx"] = dts["x"]
    elif op == "groupNorm":
        eps = case["eps"] if case["eps"] is not None else 1e-5
        y = group_norm(P["x"], case["numGroups"], P["weight"], P["bias"], eps, case.get("channelsLast", False), case.get("activation"))
        y.backward(P["dy"])
        out["y"], out["dx"] = y.detach(), P["x"].grad
        odt["y"] = odt["dx"] = dts["x"]
    elif op in ("batchNorm", "instanceNorm"):
        eps = case["eps"] if case["eps"] is not None else 1e-5
        rm = P.get("runningMean")
        rv = P.get("runningVar")
        if op == "batchNorm":
            y = F.batch_norm(P["x"], rm, rv, P["weight"], P["bias"], case["training"], momentum_factor(case), eps)
        else:
            y = F.instance_norm(P["x"], rm, rv, P["weight"], P["bias"], case["useInputStats"], momentum_factor(case), eps)
        y.backward(P["dy"])
        out["y"], out["dx"] = y.detach(), P["x"].grad
        odt["y"] = odt["dx"] = dts["x"]
        for k, v in (("runningMean", rm), ("runningVar", rv)):
            if v is not None:
                out[k], odt[k] = v.detach(), "float32"
    for k in ("weight", "bias"):
        if P.get(k) is not None:
            out["d" + k], odt["d" + k] = P[k].grad, dts[k]
    return {k: v.detach() for k, v in out.items()}, odt


# ---------------------------------------------------------------- cases

TENSORS = ("x", "residual", "inputBias", "dy", "dh", "weight", "bias", "runningMean", "runningVar")
STATS = []  # (case name, output, dtype, elements within 1 ulp only thanks to the tolerance)
REDRAWS = [0]  # draws rejected as ambiguous


def make_case(name, op, draw, opts, tries=200):
    """`draw()` gives {input name: float32 tensor or None, "_dtypes": {name: dtype}}; the values of
    half inputs are rounded to their dtype here. Redraws while a rounding is ambiguous."""
    for _ in range(tries):
        T = draw()
        dts = {k: "float32" for k in TENSORS}
        dts.update(T.pop("_dtypes"))
        T = {k: (v.to(TDT[dts[k]]).float() if v is not None else None) for k, v in T.items()}
        case = dict(opts, op=op, _dtypes=dts)
        try:
            ref, odt = compute(case, T, torch.float64)
        except Ambiguous:
            REDRAWS[0] += 1
            continue
        break
    else:
        raise RuntimeError(f"{name}: no unambiguous draw in {tries} tries")
    f32, _ = compute(case, T, torch.float32)
    c = {"name": name, "op": op}
    for k in TENSORS:
        if k in T:
            c[k] = enc_in(T[k], dts[k]) if T[k] is not None else None
    c.update(opts)
    c["expected"], c["tolerance"], c["ulp"] = {}, {}, {}
    for k, v in ref.items():
        dt = odt[k]
        c["expected"][k] = enc_out(v, dt)
        if k == "h":  # the residual stream is exact: float32 math rounded once, as the reference emulates
            c["tolerance"][k], c["ulp"][k] = 0.0, 0
            assert torch.equal(f32[k].double(), v), f"{name}: h differs between float32 and float64"
            continue
        if dt == "float32":
            c["tolerance"][k] = tol32(v, f32[k])
        else:
            fin = torch.isfinite(v)
            c["tolerance"][k] = 4 * ((v[fin] - f32[k].double()[fin]).abs().max().item() if fin.any() else 0.0)
            c["ulp"][k] = 1
        got = f32[k].to(TDT[dt]).double().numpy()
        assert passes(got, v.numpy(), dt, c["ulp"].get(k, 0), c["tolerance"][k]), f"{name}.{k}: float32 torch fails its own case"
        if dt != "float32":
            fin = np.isfinite(v.numpy())
            n = int((fin & ~passes_each(got, v.numpy(), dt)).sum())
            STATS.append((name, k, dt, n))
            # an emulated rounding the float32 path made differently would show here as > 1 ulp
            assert n == 0 or opts.get("castingMode", "gemma") == "gemma", f"{name}.{k}: float32 torch > 1 ulp off in an emulated mode"
    if not c["ulp"]:
        del c["ulp"]
    return c


def cases(seed):
    g = torch.Generator().manual_seed(seed)
    rn = lambda *s, scale=1.0, shift=0.0: torch.randn(*s, generator=g, dtype=torch.float32) * scale + shift
    out = []

    def add(name, op, draw, **opts):
        out.append(make_case(name, op, draw, opts))

    # ---- LayerNorm / RMSNorm: weightOffset, float32
    D = 24
    add("ln_f32_offset1", "layerNorm", lambda: {"x": rn(3, D), "dy": rn(3, D), "weight": rn(D, scale=0.1), "bias": rn(D), "_dtypes": {}},
        normalizedShape=[D], eps=None, weightOffset=1)
    add("rms_f32_offset1_gemma", "rmsNorm", lambda: {"x": rn(2, 2, D), "dy": rn(2, 2, D), "weight": rn(D, scale=0.1), "bias": None, "_dtypes": {}},
        normalizedShape=[D], eps=1e-6, weightOffset=1)
    add("rms_f32_offset1_no_weight", "rmsNorm", lambda: {"x": rn(3, 16), "dy": rn(3, 16), "weight": None, "bias": None, "_dtypes": {}},
        normalizedShape=[16], eps=1e-6, weightOffset=1)
    add("ln_f32_offset1_multidim", "layerNorm", lambda: {"x": rn(2, 3, 5), "dy": rn(2, 3, 5), "weight": rn(3, 5, scale=0.2), "bias": None, "_dtypes": {}},
        normalizedShape=[3, 5], eps=1e-5, weightOffset=1)

    # ---- castingMode x dtype x weightOffset (small rows: the emulated roundings must be unambiguous)
    for dt in ("float16", "bfloat16"):
        short = "f16" if dt == "float16" else "bf16"
        for mode in ("gemma", "llama", "none"):
            for off in (0, 1):
                D = 32
                add(f"rms_{short}_{mode}_offset{off}", "rmsNorm",
                    lambda: {"x": rn(3, D), "dy": rn(3, D), "weight": rn(D, scale=0.3 if off else 1.0, shift=0 if off else 1.0), "bias": None,
                             "_dtypes": {"x": dt, "dy": dt, "weight": dt}},
                    normalizedShape=[D], eps=1e-6, weightOffset=off, castingMode=mode)
            D = 20
            add(f"ln_{short}_{mode}_affine", "layerNorm",
                lambda: {"x": rn(3, D, scale=2.0, shift=0.5), "dy": rn(3, D), "weight": rn(D, shift=1.0), "bias": rn(D), "_dtypes": {"x": dt, "dy": dt, "weight": dt, "bias": dt}},
                normalizedShape=[D], eps=1e-5, castingMode=mode)
            # float32 parameters with half x: the mixed-dtype paths of each mode
            add(f"rms_{short}_{mode}_f32_weight_offset1", "rmsNorm",
                lambda: {"x": rn(2, 24), "dy": rn(2, 24), "weight": rn(24, scale=0.3), "bias": None, "_dtypes": {"x": dt, "dy": dt}},
                normalizedShape=[24], eps=None, weightOffset=1, castingMode=mode)
            add(f"ln_{short}_{mode}_f32_params", "layerNorm",
                lambda: {"x": rn(2, 16), "dy": rn(2, 16), "weight": rn(16, shift=1.0), "bias": rn(16), "_dtypes": {"x": dt, "dy": dt}},
                normalizedShape=[16], eps=1e-5, weightOffset=1, castingMode=mode)
        add(f"rms_{short}_none_no_weight", "rmsNorm", lambda: {"x": rn(3, 16), "dy": rn(3, 16), "weight": None, "bias": None, "_dtypes": {"x": dt, "dy": dt}},
            normalizedShape=[16], eps=1e-6, castingMode="none")

    # ---- the existing ops with half x/dy and half or float32 parameters (default castingMode)
    for dt in ("float16", "bfloat16"):
        short = "f16" if dt == "float16" else "bf16"
        for pdt in (dt, "float32"):
            ps = "half" if pdt == dt else "f32"
            pd = {"weight": pdt, "bias": pdt}
            add(f"ln_{short}_{ps}_params", "layerNorm", lambda: {"x": rn(4, 48, scale=3, shift=1), "dy": rn(4, 48), "weight": rn(48), "bias": rn(48), "_dtypes": {"x": dt, "dy": dt, **pd}},
                normalizedShape=[48], eps=None)
            add(f"rms_{short}_{ps}_weight", "rmsNorm", lambda: {"x": rn(2, 3, 40), "dy": rn(2, 3, 40), "weight": rn(40), "bias": None, "_dtypes": {"x": dt, "dy": dt, **pd}},
                normalizedShape=[40], eps=None)
            add(f"gn_{short}_{ps}_params", "groupNorm", lambda: {"x": rn(2, 6, 5), "dy": rn(2, 6, 5), "weight": rn(6), "bias": rn(6), "_dtypes": {"x": dt, "dy": dt, **pd}},
                numGroups=3, eps=None)
            add(f"bn_{short}_{ps}_params_train", "batchNorm",
                lambda: {"x": rn(4, 3, 5, shift=2), "dy": rn(4, 3, 5), "weight": rn(3), "bias": rn(3), "runningMean": rn(3), "runningVar": rn(3).abs() + 0.5, "_dtypes": {"x": dt, "dy": dt, **pd}},
                training=True, momentum=0.1, eps=None)
        add(f"bn_{short}_eval", "batchNorm",
            lambda: {"x": rn(6, 4), "dy": rn(6, 4), "weight": rn(4), "bias": rn(4), "runningMean": rn(4), "runningVar": rn(4).abs() + 0.5, "_dtypes": {"x": dt, "dy": dt}},
            training=False, momentum=0.1, eps=1e-5)
        add(f"gn_{short}_no_affine_4d", "groupNorm", lambda: {"x": rn(2, 4, 3, 3), "dy": rn(2, 4, 3, 3), "weight": None, "bias": None, "_dtypes": {"x": dt, "dy": dt}},
            numGroups=2, eps=1e-5)
        # wider rows
        add(f"ln_{short}_wide_1024", "layerNorm", lambda: {"x": rn(2, 1024), "dy": rn(2, 1024), "weight": rn(1024), "bias": rn(1024), "_dtypes": {"x": dt, "dy": dt, "weight": dt, "bias": dt}},
            normalizedShape=[1024], eps=1e-5)
        add(f"rms_{short}_wide_odd_4097", "rmsNorm", lambda: {"x": rn(1, 4097), "dy": rn(1, 4097), "weight": rn(4097), "bias": None, "_dtypes": {"x": dt, "dy": dt, "weight": dt}},
            normalizedShape=[4097], eps=None)
        add(f"ln_{short}_offset_cancellation", "layerNorm", lambda: {"x": rn(3, 256, scale=4, shift=1000), "dy": rn(3, 256), "weight": rn(256), "bias": rn(256), "_dtypes": {"x": dt, "dy": dt, "weight": dt, "bias": dt}},
            normalizedShape=[256], eps=1e-5)

    # ---- float16 overflow: |x - mean| ~ 800, so the variance (~640,000) and sum of squares exceed 65,504
    x800 = lambda n, D: ((torch.rand(n, D, generator=g) < 0.5).float() * 2 - 1) * (800 + rn(n, D, scale=20)) + 100
    f16 = {"x": "float16", "dy": "float16", "weight": "float16", "bias": "float16"}
    add("ln_f16_overflow_800", "layerNorm", lambda: {"x": x800(3, 512), "dy": rn(3, 512), "weight": rn(512), "bias": rn(512), "_dtypes": f16},
        normalizedShape=[512], eps=1e-5)
    add("rms_f16_overflow_800", "rmsNorm", lambda: {"x": x800(3, 512), "dy": rn(3, 512), "weight": rn(512), "bias": None, "_dtypes": f16},
        normalizedShape=[512], eps=1e-6)
    add("gn_f16_overflow_800", "groupNorm", lambda: {"x": x800(2, 96).reshape(2, 4, 24), "dy": rn(2, 4, 24), "weight": rn(4), "bias": rn(4), "_dtypes": f16},
        numGroups=2, eps=1e-5)
    add("add_ln_f16_overflow_800", "addLayerNorm",
        lambda: {"x": x800(2, 256), "residual": rn(2, 256, scale=50), "dy": rn(2, 256), "weight": rn(256), "bias": rn(256), "_dtypes": {**f16, "residual": "float16"}},
        normalizedShape=[256], eps=1e-5)

    # ---- addLayerNorm / addRmsNorm
    for op, short in (("addLayerNorm", "add_ln"), ("addRmsNorm", "add_rms")):
        D = 32
        # (name, x dtype, parameter dtype, weight, bias, inputBias, dh, weightOffset, eps)
        variants = [
            ("f32_full", "float32", "float32", True, True, True, True, 0, 1e-5),
            ("f32_plain", "float32", "float32", False, False, False, False, 0, None),
            ("f32_weight_dh", "float32", "float32", True, False, False, True, 0, None),
            ("f32_input_bias_only", "float32", "float32", False, False, True, False, 0, 1e-6),
            ("f32_offset1", "float32", "float32", True, True, False, True, 1, None),
            ("f16_full", "float16", "float16", True, True, True, True, 0, 1e-5),
            ("f16_offset1_dh", "float16", "float16", True, False, False, True, 1, None),
            ("bf16_full", "bfloat16", "bfloat16", True, True, True, True, 0, None),
            ("bf16_f32_params", "bfloat16", "float32", True, True, True, True, 1, 1e-6),
        ]
        for vname, xdt, pdt, hw, hb, hib, hdh, off, eps in variants:
            dts = {"x": xdt, "residual": xdt, "dy": xdt, "dh": xdt, "weight": pdt, "bias": pdt, "inputBias": pdt}
            add(f"{short}_{vname}", op,
                lambda: {"x": rn(3, D), "residual": rn(3, D, scale=2), "inputBias": rn(D, scale=0.5) if hib else None, "dy": rn(3, D),
                         "dh": rn(3, D) if hdh else None, "weight": rn(D, shift=0 if off else 1) if hw else None, "bias": rn(D) if hb else None,
                         "_dtypes": dts},
                normalizedShape=[D], eps=eps, weightOffset=off)
        add(f"{short}_f32_multidim_wide", op,
            lambda: {"x": rn(2, 4, 96), "residual": rn(2, 4, 96), "inputBias": rn(4, 96), "dy": rn(2, 4, 96), "dh": rn(2, 4, 96),
                     "weight": rn(4, 96), "bias": rn(4, 96), "_dtypes": {}},
            normalizedShape=[4, 96], eps=1e-5)
        add(f"{short}_bf16_wide_768", op,
            lambda: {"x": rn(2, 768), "residual": rn(2, 768, scale=3), "inputBias": None, "dy": rn(2, 768), "dh": rn(2, 768),
                     "weight": rn(768), "bias": None, "_dtypes": {"x": "bfloat16", "residual": "bfloat16", "dy": "bfloat16", "dh": "bfloat16", "weight": "bfloat16"}},
            normalizedShape=[768], eps=None)
    for dt, short in (("float16", "f16"), ("bfloat16", "bf16")):
        for mode in ("llama", "none"):
            add(f"add_rms_{short}_{mode}_offset1", "addRmsNorm",
                lambda: {"x": rn(3, 24), "residual": rn(3, 24), "inputBias": None, "dy": rn(3, 24), "dh": rn(3, 24), "weight": rn(24, scale=0.3), "bias": None,
                         "_dtypes": {"x": dt, "residual": dt, "dy": dt, "dh": dt, "weight": dt}},
                normalizedShape=[24], eps=1e-6, weightOffset=1, castingMode=mode)
            add(f"add_ln_{short}_{mode}_input_bias", "addLayerNorm",
                lambda: {"x": rn(2, 20), "residual": rn(2, 20), "inputBias": rn(20, scale=0.5), "dy": rn(2, 20), "dh": None, "weight": rn(20, shift=1), "bias": rn(20),
                         "_dtypes": {"x": dt, "residual": dt, "dy": dt, "weight": dt, "bias": dt, "inputBias": dt}},
                normalizedShape=[20], eps=1e-5, castingMode=mode)

    # ---- GroupNorm: channels-last, SiLU
    for name, shape, G, act, dt in (
        ("gn_cl_2d", (2, 3, 4, 6), 3, None, "float32"),
        ("gn_cl_2d_silu", (2, 3, 4, 6), 2, "silu", "float32"),
        ("gn_cl_1d_silu", (2, 7, 8), 4, "silu", "float32"),
        ("gn_cl_3d", (1, 2, 3, 2, 4), 2, None, "float32"),
        ("gn_cf_silu", (2, 6, 9), 3, "silu", "float32"),  # channels-first with SiLU
        ("gn_cl_f16_silu", (2, 4, 4, 8), 4, "silu", "float16"),
        ("gn_cl_bf16_silu", (2, 4, 4, 8), 4, "silu", "bfloat16"),
        ("gn_cl_diffusion_like_f16_silu", (2, 8, 8, 64), 32, "silu", "float16"),
        ("gn_cl_diffusion_like_f32_silu", (1, 8, 8, 128), 32, "silu", "float32"),
    ):
        C = shape[-1] if name.startswith("gn_cl") else shape[1]
        add(name, "groupNorm",
            lambda: {"x": rn(*shape, scale=1.5, shift=0.3), "dy": rn(*shape), "weight": rn(C, shift=1), "bias": rn(C), "_dtypes": {"x": dt, "dy": dt, "weight": dt, "bias": dt}},
            numGroups=G, eps=None if G == 32 else 1e-5, channelsLast=name.startswith("gn_cl"), activation=act)
    add("gn_cl_silu_no_affine", "groupNorm", lambda: {"x": rn(2, 5, 6), "dy": rn(2, 5, 6), "weight": None, "bias": None, "_dtypes": {}},
        numGroups=3, eps=None, channelsLast=True, activation="silu")

    # ---- BatchNorm: momentum null (the module's cumulative average), more training / eval
    for name, shape, train, mom, nbt, affine in (
        ("bn_momentum_null_first_batch", (5, 3), True, None, 0, True),
        ("bn_momentum_null_after_4", (4, 2, 6), True, None, 4, True),
        ("bn_momentum_null_eval", (4, 3), False, None, 7, True),
        ("bn_train_5d", (2, 2, 3, 2, 3), True, 0.1, 0, True),
        ("bn_train_momentum_1", (6, 4), True, 1.0, 0, False),
        ("bn_eval_4d_no_affine", (2, 3, 2, 4), False, 0.1, 0, False),
        ("bn_train_momentum_0", (3, 2, 5), True, 0.0, 0, True),
    ):
        C = shape[1]
        add(name, "batchNorm",
            lambda: {"x": rn(*shape, scale=2, shift=-1), "dy": rn(*shape), "weight": rn(C) if affine else None, "bias": rn(C) if affine else None,
                     "runningMean": rn(C), "runningVar": rn(C).abs() + 0.5, "_dtypes": {}},
            training=train, momentum=mom, eps=1e-5, **({"numBatchesTracked": nbt} if mom is None else {}))

    # ---- InstanceNorm
    for name, shape, affine, running, use, mom, dt in (
        ("in1d_affine_running_train", (2, 3, 7), True, True, True, 0.1, "float32"),
        ("in2d_no_affine_no_running", (2, 4, 3, 5), False, False, True, 0.1, "float32"),
        ("in3d_affine_no_running", (2, 2, 3, 2, 4), True, False, True, 0.1, "float32"),
        ("in2d_affine_running_eval", (2, 3, 4, 4), True, True, False, 0.1, "float32"),
        ("in1d_running_eval_no_affine", (3, 2, 6), False, True, False, 0.1, "float32"),
        ("in2d_running_train_no_affine", (3, 2, 3, 3), False, True, True, 0.3, "float32"),
        ("in1d_momentum_null_first", (2, 3, 5), True, True, True, None, "float32"),
        ("in3d_momentum_null_after_2", (2, 2, 2, 3, 2), False, True, True, None, "float32"),
        ("in2d_f16_affine_running", (2, 3, 4, 4), True, True, True, 0.1, "float16"),
        ("in1d_bf16_eval", (2, 4, 6), True, True, False, 0.1, "bfloat16"),
    ):
        C = shape[1]
        nbt = {"numBatchesTracked": 2 if "after_2" in name else 0} if mom is None else {}
        add(name, "instanceNorm",
            lambda: {"x": rn(*shape, scale=1.5, shift=0.5), "dy": rn(*shape), "weight": rn(C) if affine else None, "bias": rn(C) if affine else None,
                     "runningMean": rn(C) if running else None, "runningVar": rn(C).abs() + 0.5 if running else None,
                     "_dtypes": {"x": dt, "dy": dt, "weight": dt, "bias": dt}},
            useInputStats=use, momentum=mom, eps=1e-5, **nbt)
    return out


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
    ops_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "ops-cases.json")
    dtype_path = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, "dtype-cases.json")
    torch.set_num_threads(1)
    cs = cases(seed)
    with open(ops_path, "w") as f:
        json.dump({"generator": "PyTorch " + torch.__version__, "format": 2, "seed": seed, "cases": cs}, f)
    with open(dtype_path, "w") as f:
        json.dump(dtype_cases(seed), f)
    n_tol = sum(s[3] for s in STATS)
    n_all = sum(1 for _ in STATS)
    print(f"{len(cs)} cases -> {ops_path} ({os.path.getsize(ops_path) / 1e6:.2f} MB); dtype cases -> {dtype_path}")
    print(f"draws redrawn as ambiguous: {REDRAWS[0]}")
    print(f"half outputs: {n_all}; elements of float32 torch more than 1 ulp off (passing by the float32-error tolerance): {n_tol}")
    for name, k, dt, n in STATS:
        if n:
            print(f"  {name}.{k} ({dt}): {n}")
