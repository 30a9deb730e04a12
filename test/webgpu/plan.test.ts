/** The WebGPU kernel plans (no GPU needed): every default plan is one the kernels can run. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { NormError } from "../../src/index.js";
import { LOOP_ROWS, backwardBlocks, defaultPlan, partialRows, resolvePlan } from "../../src/backends/webgpu/plan.js";

const widths = [1, 2, 3, 4, 5, 7, 8, 31, 64, 100, 127, 512, 768, 1000, 1024, 1025, 4096, 4097, 8192, 8193, 16384, 20001, 65536];

test("default plans are valid for every width and subgroup size", () => {
  for (const sg of [0, 4, 8, 16, 32, 64]) {
    for (const D of widths) {
      for (const backward of [false, true]) {
        const p = defaultPlan(D, backward, sg);
        const what = `D=${D} sg=${sg} ${backward ? "bwd" : "fwd"} ${JSON.stringify(p)}`;
        assert.ok(Number.isInteger(Math.log2(p.T)) && p.T >= 4 && p.T <= 256, what);
        assert.equal(p.vec, D % 4 === 0 ? 4 : 1, what);
        assert.ok(p.sg === 0 || (p.sg === sg && p.T % sg === 0), what);
        const K = Math.ceil(D / p.vec / p.T);
        if (p.store === "regs") assert.ok(K <= (backward ? 4 : 8), what);
        if (p.store === "reread") assert.ok(backward && K <= 8, what);
        if (p.wgsum) assert.ok(backward && p.T < 256 && (256 / p.T) * D * 4 <= 16384, what);
        assert.deepEqual(resolvePlan(D, backward, sg), p, what);
      }
    }
  }
});

test("backward partial rows stay bounded and workgroups cover the rows", () => {
  for (const D of [64, 512, 768, 1024, 4096]) {
    for (const rows of [1, 7, 1000, 65535, 1 << 20]) {
      const p = defaultPlan(D, true, 32);
      const blocks = backwardBlocks(rows, p);
      assert.ok(blocks >= 1 && blocks <= 1024, `${D} ${rows}: ${blocks}`);
      assert.ok(partialRows(blocks, p) <= 8192, `${D} ${rows}`);
    }
  }
});

test("the loop backward sums at most LOOP_ROWS rows per partial row (its float32 sums stay short) up to 65535 workgroups", () => {
  for (const [D, over] of [[20000, {}], [1000, { T: 4, sg: 0, store: "loop" as const }], [65539, { vec: 1 as const, store: "loop" as const }]] as const) {
    const p = resolvePlan(D, true, 0, over);
    assert.equal(p.store, "loop");
    const teams = 256 / p.T;
    for (const rows of [1, 15, 16, 17, 1000, 65536, 1 << 20]) {
      const blocks = backwardBlocks(rows, p);
      const chunk = Math.ceil(rows / blocks);
      assert.ok(blocks >= 1 && blocks <= 65535, `D=${D} rows=${rows}: ${blocks} workgroups`);
      // up to 65535 workgroups (a 1-D dispatch): 2^20 rows of 20000 (80 GB of x) would need more
      if (rows <= 65535 * teams * LOOP_ROWS) assert.ok(Math.ceil(chunk / teams) <= LOOP_ROWS, `D=${D} rows=${rows}: ${Math.ceil(chunk / teams)} rows per partial row`);
    }
  }
});

test("forced plans that cannot run are NormErrors", () => {
  for (const bad of [{ T: 3 }, { T: 512 }, { vec: 4 as const }, { sg: 16 }, { T: 4, store: "regs" as const }]) {
    assert.throws(() => resolvePlan(1026, true, 32, bad), (e: unknown) => e instanceof NormError && e.code === "BAD_ARGUMENT", JSON.stringify(bad));
  }
  assert.equal(resolvePlan(1024, true, 32, { T: 256, store: "loop", sg: 0 }).store, "loop");
});
