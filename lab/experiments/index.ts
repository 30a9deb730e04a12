/** The lab's five experiments, in claim order. */
import type { Experiment } from "../types.js";
import { hiddenStateScale } from "./hiddenStateScale.js";

export const experiments: Experiment[] = [hiddenStateScale];
