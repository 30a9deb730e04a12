/**
 * What results.json records about a lab run itself (seed, mode, command, corpus, durations), shared
 * by the command line (lab/environment.ts adds the Node machine) and the web lab (lab/web/environment.ts
 * adds the browser). No Node-only imports.
 */

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

export function runEnvironment(info: RunInfo): Record<string, string | number | boolean> {
  const env: Record<string, string | number | boolean> = {
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
