/**
 * Run by test/lab/wasm-build.test.ts as `node --experimental-wasm-relaxed-simd …`, where normkit's
 * default is the FMA build (as in Chromium): prints, as JSON, the wasm build before, during and after
 * the lab's suite runner, what the runner reports, and the backend during a run.
 */
import { runExperiments } from "../../lab/suite.js";
import type { ClaimResult, Experiment } from "../../lab/types.js";
import { getBackend, setBackend, wasmBuild } from "../../src/index.js";

const during: Array<{ build: string | null; backend: string }> = [];
const claim = (id: string): ClaimResult => ({ id, title: id, explanation: "", verdict: "inconclusive", rule: "a probe", evidence: {}, charts: [], summary: "a probe" });
const probe = (id: string, then?: () => void): Experiment => ({
  id,
  title: id,
  run: () => {
    during.push({ build: wasmBuild(), backend: getBackend() });
    then?.();
    return claim(id);
  },
});
const before = wasmBuild();
setBackend("js"); // the runner leaves the active backend alone
// the second experiment switches backends as the lab's controls do (setBackend without a build)
const suite = await runExperiments([probe("a", () => setBackend("wasm")), probe("b", () => setBackend("js")), probe("c")], {
  full: false,
  seed: 1,
  corpus: { text: "abc", name: "probe" },
  progress: { start: () => ({ update: () => {}, end: () => {} }), log: () => {} },
});
console.log(JSON.stringify({ before, during, reported: suite.wasmBuild, after: wasmBuild(), backendAfter: getBackend(), failures: suite.failures }));
