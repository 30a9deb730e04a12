/** What results.json and the report record about the machine and the run, so numbers can be put in context. */
import { readFileSync } from "node:fs";
import os from "node:os";
import { getBackend, listBackends } from "../src/index.js";

function normkitVersion(): string {
  try {
    // build/lab/environment.js → package.json two levels up (also right for lab/environment.ts under ts-node-like runners)
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface RunInfo {
  seed: number;
  full: boolean;
  startedAt: Date;
  command: string;
  corpusName: string;
  corpusChars: number;
  experiments: string[];
  /** seconds per experiment id, and the total */
  durations: Record<string, number>;
  totalSeconds: number;
}

export function collectEnvironment(info: RunInfo): Record<string, string | number | boolean> {
  const cpus = os.cpus();
  const env: Record<string, string | number | boolean> = {
    normkit: normkitVersion(),
    backend: getBackend(),
    backendsAvailable: listBackends().join(", "),
    node: process.version,
    platform: `${process.platform} ${os.release()} (${process.arch})`,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    seed: info.seed,
    mode: info.full ? "full" : "quick",
    date: info.startedAt.toISOString(),
    command: info.command,
    corpus: info.corpusName,
    corpusChars: info.corpusChars,
    experiments: info.experiments.join(", "),
    totalSeconds: Math.round(info.totalSeconds * 100) / 100,
  };
  for (const [id, s] of Object.entries(info.durations)) env[`seconds.${id}`] = Math.round(s * 100) / 100;
  return env;
}
