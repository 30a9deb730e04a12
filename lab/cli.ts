/**
 * The lab's command line (`npm start`): runs the experiments with live progress, prints the summary
 * table and writes <out>/results.json and <out>/index.html. See `usage()` for the options.
 */
import { readFile } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { join, basename } from "node:path";
import { pathToFileURL } from "node:url";
import { parseLabArgs, selectExperiments, usage, UsageError, type LabOptions } from "./args.js";
import { DEFAULT_CORPUS_NAME, loadDefaultCorpus } from "./corpus/index.js";
import { collectEnvironment } from "./environment.js";
import { experiments as registeredExperiments } from "./experiments/index.js";
import { createProgress, formatDuration, type ProgressSink } from "./progress.js";
import { writeReport } from "./report/index.js";
import { writeReadmeAssets } from "./report/readme-assets.js";
import { formatSummaryTable } from "./report/summary.js";
import { nodeLabEnvironment } from "./node-env.js";
import { commandLine, runExperiments } from "./suite.js";
import type { Experiment, LabEnvironment } from "./types.js";

export interface CliDeps {
  experiments: Experiment[];
  loadDefaultCorpus: () => { text: string; name: string };
  stdout: ProgressSink;
  stderr: { write(s: string): unknown };
  /** platform services for the experiments (WebGPU, …); the command line gives Node's */
  env?: LabEnvironment;
}

export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  const { stdout, stderr } = deps;
  const ids = deps.experiments.map((e) => e.id);
  let opts: LabOptions;
  let selected: Experiment[];
  try {
    opts = parseLabArgs(argv);
    if (opts.help) {
      stdout.write(usage(ids) + "\n");
      return 0;
    }
    selected = selectExperiments(deps.experiments, opts.experiments);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.write(`lab: ${e.message}\n\n${usage(ids)}\n`);
    return 2;
  }
  if (selected.length === 0) {
    stderr.write("lab: no experiments are registered (lab/experiments/index.ts exports an empty list)\n");
    return 1;
  }

  let corpus: { text: string; name: string };
  if (opts.corpus !== null) {
    try {
      corpus = { text: await readFile(opts.corpus, "utf8"), name: basename(opts.corpus) };
    } catch (e) {
      stderr.write(`lab: cannot read --corpus ${opts.corpus}: ${(e as Error).message}\n`);
      return 2;
    }
    if (corpus.text.trim().length === 0) {
      stderr.write(`lab: --corpus ${opts.corpus} is empty\n`);
      return 2;
    }
  } else {
    corpus = deps.loadDefaultCorpus();
  }

  const startedAt = new Date();
  const t0 = performance.now();
  const progress = createProgress(stdout);
  stdout.write(
    `normkit lab: ${opts.full ? "full" : "quick"} suite, seed ${opts.seed}, ${selected.length} experiment${selected.length === 1 ? "" : "s"}, corpus ${corpus.name}\n`,
  );
  const { claims, runs, durations, failures } = await runExperiments(selected, {
    full: opts.full,
    seed: opts.seed,
    corpus,
    progress,
    env: deps.env,
    onClaim: (_claim, exp, _seconds, failure) => {
      if (failure === undefined) return;
      const e = failure.error;
      stderr.write(`lab: experiment ${exp.id} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    },
  });

  const environment = collectEnvironment({
    seed: opts.seed,
    full: opts.full,
    startedAt,
    command: commandLine(opts),
    corpusName: corpus.name,
    corpusChars: corpus.text.length,
    experiments: selected.map((e) => e.id),
    durations,
    totalSeconds: (performance.now() - t0) / 1000,
  });
  const written = await writeReport(opts.out, { claims, runs, environment });
  for (const err of written.chartErrors) stderr.write(`lab: chart failed to render: ${err}\n`);

  stdout.write(`\n${formatSummaryTable(claims, stdout.isTTY === true ? stdout.columns : undefined)}\n\n`);
  stdout.write(`Report: ${written.html}\nData:   ${written.json}\n`);
  if (opts.readmeAssets) {
    const r = await writeReadmeAssets(join(opts.out, "readme"), claims);
    stdout.write(`README assets: ${r.md}${r.svg !== null ? `, ${r.svg}` : ""}\n`);
  }
  stdout.write(`Total time: ${formatDuration((performance.now() - t0) / 1000)}\n`);
  return failures > 0 || written.chartErrors.length > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2), {
    experiments: registeredExperiments,
    loadDefaultCorpus: () => ({ text: loadDefaultCorpus(), name: DEFAULT_CORPUS_NAME }),
    stdout: process.stdout,
    stderr: process.stderr,
    env: nodeLabEnvironment(),
  }).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`lab: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
