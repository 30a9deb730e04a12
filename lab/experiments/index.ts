/** The lab's five experiments, in claim order. */
import type { Experiment } from "../types.js";
import { batchnormBatchDependence } from "./batchnormBatchDependence.js";
import { hiddenStateScale } from "./hiddenStateScale.js";
import { perSampleInference } from "./perSampleInference.js";
import { rmsnormCost } from "./rmsnormCost.js";
import { stableTraining } from "./stableTraining.js";

export const experiments: Experiment[] = [hiddenStateScale, stableTraining, batchnormBatchDependence, perSampleInference, rmsnormCost];
