import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLabArgs, selectExperiments, UsageError, DEFAULT_OUT, DEFAULT_SEED } from "../../lab/args.js";
import { main } from "../../lab/cli.js";
import { fakeExperiments } from "../fixtures/lab-fake-experiments.js";

const sink = () => {
  let text = "";
  return { write: (s: string) => void (text += s), get text() { return text; } };
};

test("lab args: defaults", () => {
  assert.deepEqual(parseLabArgs([]), { full: false, experiments: [], seed: DEFAULT_SEED, out: DEFAULT_OUT, corpus: null, readmeAssets: false, help: false });
});

test("lab args: every flag", () => {
  const o = parseLabArgs(["--full", "--seed", "42", "--out", "r", "--corpus", "a.txt", "--readme-assets", "--experiment", "x"]);
  assert.deepEqual(o, { full: true, experiments: ["x"], seed: 42, out: "r", corpus: "a.txt", readmeAssets: true, help: false });
  assert.equal(parseLabArgs(["--seed=0"]).seed, 0);
  assert.equal(parseLabArgs(["-h"]).help, true);
  assert.equal(parseLabArgs(["--help"]).help, true);
});

test("lab args: --experiment is repeatable and takes comma lists, deduplicated in order", () => {
  assert.deepEqual(parseLabArgs(["--experiment", "a", "--experiment", "b, c", "--experiment=a"]).experiments, ["a", "b", "c"]);
});

test("lab args: bad values are usage errors", () => {
  for (const argv of [["--seed", "abc"], ["--seed", "-1"], ["--seed", "1.5"], ["--seed", "1e3"], ["--seed", "99999999999999999999"], ["--seed", ""], ["--bogus"], ["stray"], ["--experiment", ","], ["--out", ""], ["--corpus", ""]]) {
    assert.throws(() => parseLabArgs(argv), UsageError, argv.join(" "));
  }
});

test("lab args: selectExperiments keeps registry order and names the valid ones on a typo", () => {
  assert.deepEqual(selectExperiments(fakeExperiments, []).map((e) => e.id), ["fake-scale", "fake-training", "fake-cost"]);
  assert.deepEqual(selectExperiments(fakeExperiments, ["fake-cost", "fake-scale"]).map((e) => e.id), ["fake-scale", "fake-cost"]);
  assert.throws(() => selectExperiments(fakeExperiments, ["fake-scale", "nope"]), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /unknown experiment 'nope'/);
    assert.match(e.message, /valid names: fake-scale, fake-training, fake-cost/);
    return true;
  });
});

test("lab cli: unknown experiment exits 2 with the valid names and writes nothing", async () => {
  const out = sink();
  const err = sink();
  const code = await main(["--experiment", "nope", "--out", "/nonexistent/should-not-be-created"], {
    experiments: fakeExperiments, loadDefaultCorpus: () => ({ text: "x", name: "t" }), stdout: out, stderr: err,
  });
  assert.equal(code, 2);
  assert.match(err.text, /unknown experiment 'nope'; valid names: fake-scale, fake-training, fake-cost/);
  assert.match(err.text, /Usage:/);
  assert.equal(out.text, "");
});

test("lab cli: --help prints usage with the experiment list and exits 0", async () => {
  const out = sink();
  const code = await main(["--help"], { experiments: fakeExperiments, loadDefaultCorpus: () => ({ text: "x", name: "t" }), stdout: out, stderr: sink() });
  assert.equal(code, 0);
  for (const flag of ["--full", "--experiment", "--seed", "--out", "--corpus", "--help"]) assert.ok(out.text.includes(flag), flag);
  assert.match(out.text, /Experiments: fake-scale, fake-training, fake-cost/);
});

test("lab cli: a missing --corpus file is a clear error", async () => {
  const err = sink();
  const code = await main(["--corpus", "/nonexistent/corpus.txt"], { experiments: fakeExperiments, loadDefaultCorpus: () => ({ text: "x", name: "t" }), stdout: sink(), stderr: err });
  assert.equal(code, 2);
  assert.match(err.text, /cannot read --corpus \/nonexistent\/corpus\.txt/);
});
