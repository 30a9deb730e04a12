/** Messages between the web lab's page (lab/web/page/suite.ts) and its Web Worker (lab/web/worker.ts). */
import type { ClaimResult, LabResults, RunRecord } from "../types.js";

/** Written by the build (lab/web/build.ts) next to the bundles as build-info.json. */
export interface BuildInfo {
  normkit: string;
  /** the corpus file, relative to the page, and the name `npm start` records for it */
  corpusFile: string;
  corpusName: string;
}

/** page → worker */
export interface RunRequest {
  type: "run";
  seed: number;
  full: boolean;
  /** experiment ids in suite order; empty = all */
  experiments: string[];
}

/** worker → page */
export type WorkerMessage =
  | { type: "ready"; backend: string; backendsAvailable: string; experiments: { id: string; title: string }[] }
  | { type: "experiment-start"; id: string; title: string; index: number; total: number }
  | { type: "run-start"; run: number; experiment: string; label: string; total: number }
  | { type: "run-update"; run: number; step: number; loss: number }
  | { type: "run-end"; run: number; status: string }
  | { type: "record"; record: RunRecord }
  | { type: "log"; message: string }
  | { type: "claim"; claim: ClaimResult; seconds: number; error: string | null }
  | { type: "done"; results: LabResults; json: string }
  | { type: "failed"; message: string };
