#!/usr/bin/env python3
"""Edge cases of PyTorch semantics that test/core/edge-semantics.test.ts checks normkit against.

- batchnorm_cma: nn.BatchNorm1d(3, momentum=None) (cumulative moving average) over three batches:
  running_mean/running_var/num_batches_tracked after each, and the training-mode y of each batch.
- empty_rows: torch.native_layer_norm / native_group_norm on inputs whose rows have no values
  (x [3, 0] with normalized_shape [0], [3, 2, 0] with [2, 0], group_norm on [2, 4, 0]): the
  shapes and values of mean/rstd (NaN written as the string "NaN").

Inputs are small exact float32 values written in the file. usage: gen_edge_fixtures.py OUT.json
(Debian: /usr/bin/python3 with python3-torch). The shipped file: test/fixtures/edge-cases.json.
"""
import json, math, sys
import torch
import torch.nn.functional as F


def vals(t):
    return [("NaN" if math.isnan(v) else v) for v in t.detach().double().flatten().tolist()]


def main(out):
    batches = [
        [[1., 2, 3], [4, 5, 7], [0, 1, -1]],
        [[2., 0, 1], [1, 1, 1], [5, -2, 3], [0, 0, 0.5]],
        [[10., -3, 2], [-1, 4, 0]],
    ]
    m = torch.nn.BatchNorm1d(3, momentum=None)
    steps = []
    for b in batches:
        y = m(torch.tensor(b))
        steps.append({"x": b, "y": vals(y), "runningMean": vals(m.running_mean), "runningVar": vals(m.running_var),
                      "numBatchesTracked": int(m.num_batches_tracked)})
    empty = []
    for shape, ns in [([3, 0], [0]), ([3, 2, 0], [2, 0]), ([0, 4], [4])]:
        y, mean, rstd = torch.native_layer_norm(torch.zeros(shape), ns, None, None, 1e-5)
        empty.append({"op": "layerNorm", "shape": shape, "normalizedShape": ns, "y": list(y.shape), "mean": vals(mean), "rstd": vals(rstd)})
    for shape, g in [([2, 4, 0], 2)]:
        n, c = shape[0], shape[1]
        y, mean, rstd = torch.native_group_norm(torch.zeros(shape), None, None, n, c, 0, g, 1e-5)
        empty.append({"op": "groupNorm", "shape": shape, "numGroups": g, "y": list(y.shape), "mean": vals(mean), "rstd": vals(rstd)})
    with open(out, "w") as f:
        json.dump({"generator": f"tools/gen_edge_fixtures.py, torch {torch.__version__}", "batchnormCma": steps, "emptyRows": empty}, f)


if __name__ == "__main__":
    main(sys.argv[1])
