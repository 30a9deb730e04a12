/**
 * Accuracy at every width (issue #9 §1): rows from 1 to 2^20 wide and GroupNorm groups of 10^4
 * to 10^6 values, forward and backward, on `js`, `wasm` and the worker pool, against the float64
 * reference, within 4 × PyTorch's own float32 error on the same inputs (test/fixtures/accuracy.json,
 * tools/gen_accuracy.py). Also the finite rows whose float32 sums used to fail, and the wasm
 * kernels' float64 redo of rows whose float32 squares overflow.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createPool, reference, sharedTensor } from "../../src/index.js";
import { backendKernels, listBackends } from "../../src/backends/registry.js";
import { accuracyError, expectedOf, inputsOf, type AccuracyCase, type AccuracyFixture, type Output } from "../accuracy.js";
import { assertBitwise } from "../helpers.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/accuracy.json", import.meta.url));
const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as AccuracyFixture;

type Got = Partial<Record<Output, Float32Array>>;

/** Forward, then backward from the forward's float32 statistics (as the ops do), on one backend's kernels. */
function runKernels(name: string, c: AccuracyCase, p: ReturnType<typeof inputsOf>): Got {
  const k = backendKernels(name as "js");
  const R = c.op === "groupNorm" ? p.N * p.G : p.rows;
  const y = new Float32Array(p.n), mean = new Float32Array(R), rstd = new Float32Array(R), dx = new Float32Array(p.n);
  const dweight = p.weight ? new Float32Array(p.weight.length) : null;
  const dbias = p.bias ? new Float32Array(p.bias.length) : null;
  if (c.op === "groupNorm") {
    k.groupNormForward(y, mean, rstd, p.x, p.weight, p.bias, p.N, p.C, p.S, p.G, c.eps);
    k.groupNormBackward(dx, dweight, dbias, p.dy, p.x, mean, rstd, p.weight, p.N, p.C, p.S, p.G);
  } else if (c.op === "layerNorm") {
    k.layerNormForward(y, mean, rstd, p.x, p.weight, p.bias, p.rows, p.D, c.eps);
    k.layerNormBackward(dx, dweight, dbias, p.dy, p.x, mean, rstd, p.weight, p.rows, p.D);
  } else {
    k.rmsNormForward(y, rstd, p.x, p.weight, p.bias, p.rows, p.D, c.eps);
    k.rmsNormBackward(dx, dweight, dbias, p.dy, p.x, rstd, p.weight, p.rows, p.D);
  }
  const got: Got = { y, rstd, dx };
  if (c.op !== "rmsNorm") got.mean = mean;
  if (dweight) got.dweight = dweight;
  if (dbias) got.dbias = dbias;
  return got;
}

const errors = new Map<string, string[]>();
for (const c of fixture.cases) {
  test(`accuracy ${c.name}: ${listBackends().join(", ")} within 4 × PyTorch's float32 error`, () => {
    const p = inputsOf(c);
    const want = expectedOf(c, p);
    const bad: string[] = [];
    for (const name of listBackends()) {
      const msg = accuracyError(c, runKernels(name, c, p), want, name);
      if (msg !== null) bad.push(msg);
    }
    errors.set(c.name, bad);
    assert.deepEqual(bad, []);
  });
}
