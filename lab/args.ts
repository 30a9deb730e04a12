/** Command-line options of the lab (`npm start -- [options]`). Parsing only; no side effects. */
import { parseArgs as nodeParseArgs } from "node:util";

export interface LabOptions {
  full: boolean;
  /** experiment ids asked for with --experiment; empty means all */
  experiments: string[];
  seed: number;
  out: string;
  corpus: string | null;
  /** also write README assets (one chart SVG + claims table in Markdown) under <out>/readme */
  readmeAssets: boolean;
  help: boolean;
}

export const DEFAULT_SEED = 1;
export const DEFAULT_OUT = "lab-report";

/** A mistake on the command line: the CLI prints it with the usage and exits with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function usage(experimentIds: readonly string[]): string {
  return [
    "Usage: npm start -- [options]   (or: node build/lab/cli.js [options])",
    "",
    "Trains small models with normkit's normalization layers, tests six claims about them and",
    "reproduces three papers at small scale; prints a summary and writes <out>/index.html and",
    "<out>/results.json.",
    "",
    "Options:",
    "  --full               more seeds, steps and depths (slower; default is the quick suite)",
    "  --experiment NAME    run only this experiment; repeatable or a comma-separated list",
    `  --seed N             base random seed, a non-negative integer (default ${DEFAULT_SEED}); same seed, same numbers`,
    `  --out DIR            output folder (default ${DEFAULT_OUT})`,
    "  --corpus FILE        train the language model on this UTF-8 text file instead of the default corpus",
    "  --readme-assets      also write <out>/readme/chart.svg and <out>/readme/claims.md",
    "  -h, --help           show this help",
    "",
    `Experiments: ${experimentIds.length > 0 ? experimentIds.join(", ") : "(none registered)"}`,
  ].join("\n");
}

export function parseLabArgs(argv: readonly string[]): LabOptions {
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        full: { type: "boolean", default: false },
        experiment: { type: "string", multiple: true, default: [] },
        seed: { type: "string" },
        out: { type: "string", default: DEFAULT_OUT },
        corpus: { type: "string" },
        "readme-assets": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    // node:util's messages are already specific ("Unknown option '--x'"), keep them
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const experiments = (v.experiment ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if ((v.experiment ?? []).length > 0 && experiments.length === 0) {
    throw new UsageError("--experiment needs a name");
  }
  let seed = DEFAULT_SEED;
  if (v.seed !== undefined) {
    // strict: "1e3", "0x10", "1.5", "" are rejected rather than silently coerced
    if (!/^\d+$/.test(v.seed) || !Number.isSafeInteger(Number(v.seed))) {
      throw new UsageError(`--seed expects a non-negative integer, got '${v.seed}'`);
    }
    seed = Number(v.seed);
  }
  const out = v.out ?? DEFAULT_OUT;
  if (out.trim() === "") throw new UsageError("--out expects a folder name");
  if (v.corpus !== undefined && v.corpus.trim() === "") throw new UsageError("--corpus expects a file name");
  return {
    full: v.full ?? false,
    experiments: [...new Set(experiments)],
    seed,
    out,
    corpus: v.corpus ?? null,
    readmeAssets: v["readme-assets"] ?? false,
    help: v.help ?? false,
  };
}

/** The experiments to run, in registry order; unknown names are a UsageError listing the valid ones. */
export function selectExperiments<T extends { id: string }>(all: readonly T[], names: readonly string[]): T[] {
  if (names.length === 0) return [...all];
  const known = new Set(all.map((e) => e.id));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const valid = all.length > 0 ? all.map((e) => e.id).join(", ") : "(none registered)";
    throw new UsageError(
      `unknown experiment${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `'${n}'`).join(", ")}; valid names: ${valid}`,
    );
  }
  const wanted = new Set(names);
  return all.filter((e) => wanted.has(e.id));
}
