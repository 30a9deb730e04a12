/**
 * PLACEHOLDER so the front end compiles before the experiments land: the `labcore` branch's real
 * lab/experiments/index.ts replaces this file at merge. Keep the signature exactly as it is.
 */
import type { Experiment } from "../types.js";

export const experiments: Experiment[] = [];
