/**
 * A minimal runner for developing the experiments (the real CLI is lab/cli.ts):
 *   node build/lab/dev-run.js [--full] [--seed N] [--experiment ID]...
 * Prints progress as plain lines, each claim's verdict/evidence, and each experiment's time.
 */
import { DEFAULT_CORPUS_NAME, loadDefaultCorpus } from "./corpus/index.js";
import { experiments } from "./experiments/index.js";
import { nodeLabEnvironment } from "./node-env.js";
import type { ExperimentContext, Progress, RunRecord } from "./types.js";

const args = process.argv.slice(2);
const full = args.includes("--full");
const seedAt = args.indexOf("--seed");
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 1;
const only = args.flatMap((a, i) => (a === "--experiment" ? [args[i + 1]] : []));
const quiet = args.includes("--quiet");

const progress: Progress = {
  start(experiment, config, total) {
    const t0 = performance.now();
    return {
      update(step, loss) {
        if (!quiet && (step === total || step % Math.max(1, Math.round(total / 4)) < 1)) console.log(`  [${experiment}] ${config} ${step}/${total} loss ${loss.toFixed(4)}`);
      },
      end(status) {
        if (!quiet) console.log(`  [${experiment}] ${config} done in ${((performance.now() - t0) / 1000).toFixed(2)}s ${status ?? ""}`);
      },
    };
  },
  log(message) {
    console.log(`  ${message}`);
  },
};

const runs: RunRecord[] = [];
const ctx: ExperimentContext = { full, seed, corpus: loadDefaultCorpus(), corpusName: DEFAULT_CORPUS_NAME, progress, record: (r) => runs.push(r), env: nodeLabEnvironment() };
const t0 = performance.now();
for (const e of experiments) {
  if (only.length && !only.includes(e.id)) continue;
  const t = performance.now();
  const c = process.cpuUsage();
  const r = await e.run(ctx);
  const cpu = process.cpuUsage(c);
  console.log(`\n== ${e.id}: ${r.verdict} (${((performance.now() - t) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU)\n   ${r.summary}\n   rule: ${r.rule}\n   evidence: ${JSON.stringify(r.evidence)}\n   charts: ${r.charts.map((c) => `${c.id}(${c.data.length})`).join(", ")}\n`);
}
const cpu = process.cpuUsage();
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU (process), ${runs.length} runs recorded`);
