/**
 * Every golden case of issue #12 (test/fixtures/ops-cases.json: PyTorch, every new op, option and
 * dtype) through the public API on every synchronous backend, with the backward recomputing the
 * statistics and with the forward's saved ones (bitwise the same result). Each output must have
 * the expected dtype and pass the case's rule (test/ops-cases.ts: tolerance, or 1 ulp of a half dtype).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nk from "../../src/index.js";
import { decodeOut, outputError } from "../ops-cases.js";
import { eachBackend } from "../helpers.js";
import { opsCases, runOpsCase, valuesOf } from "./cases.js";

test("ops-cases.json is loaded: every op of issue #12", () => {
  for (const op of ["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm", "groupNorm", "batchNorm", "instanceNorm"]) {
    assert.ok(opsCases.some((c) => c.op === op), op);
  }
});

eachBackend((backend) => {
  for (const c of opsCases) {
    test(`[${backend}] ops golden ${c.op} ${c.name}`, () => {
      nk.setBackend(backend);
      const got = runOpsCase(c);
      for (const name of Object.keys(c.expected)) {
        const t = got[name];
        assert.ok(t, `${name} missing from the result`);
        const { values, dtype } = valuesOf(t);
        assert.equal(dtype, decodeOut(c.expected[name]!).dtype, `${c.name}.${name}: dtype`);
        const err = outputError(c, name, values);
        if (err !== null) assert.fail(err);
      }
      for (const k of Object.keys(got)) assert.ok(k in c.expected, `unexpected output ${k}`);
      // the backward from the forward's saved statistics: bitwise the same
      if (["layerNorm", "rmsNorm", "addLayerNorm", "addRmsNorm", "groupNorm"].includes(c.op)) {
        const again = runOpsCase(c, true);
        for (const k of ["dx", "dweight", "dbias", "dinputBias"]) {
          if (!got[k]) continue;
          assert.deepEqual([...new Uint8Array(again[k]!.data.buffer, again[k]!.data.byteOffset, again[k]!.data.byteLength)],
            [...new Uint8Array(got[k]!.data.buffer, got[k]!.data.byteOffset, got[k]!.data.byteLength)], `${c.name}.${k} with saved statistics`);
        }
      }
    });
  }
});
