/** What results.json and the report record about the machine and the run, so numbers can be put in context. */
import { readFileSync } from "node:fs";
import os from "node:os";
import { getBackend, listBackends } from "../src/index.js";
import { runEnvironment, type RunInfo } from "./run-info.js";

function normkitVersion(): string {
  try {
    // build/lab/environment.js → package.json two levels up (also right for lab/environment.ts under ts-node-like runners)
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export type { RunInfo } from "./run-info.js";

/** The machine (Node) followed by the run's own fields. */
export function collectEnvironment(info: RunInfo): Record<string, string | number | boolean> {
  const cpus = os.cpus();
  return {
    normkit: normkitVersion(),
    backend: getBackend(),
    backendsAvailable: listBackends().join(", "),
    node: process.version,
    platform: `${process.platform} ${os.release()} (${process.arch})`,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    ...runEnvironment(info),
  };
}
