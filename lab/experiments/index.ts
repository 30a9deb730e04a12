/** The lab's experiments: the claims in order, then the papers at small scale. */
import type { Experiment } from "../types.js";
import { batchnormBatchDependence } from "./batchnormBatchDependence.js";
import { hiddenStateScale } from "./hiddenStateScale.js";
import { memoryEfficiency } from "./memoryEfficiency.js";
import { perSampleInference } from "./perSampleInference.js";
import { rmsnormCost } from "./rmsnormCost.js";
import { stableTraining } from "./stableTraining.js";
import { wuHe2018 } from "./wuHe2018.js";
import { xiong2020 } from "./xiong2020.js";
import { zhangSennrich2019 } from "./zhangSennrich2019.js";

export const experiments: Experiment[] = [
  hiddenStateScale, stableTraining, batchnormBatchDependence, perSampleInference, rmsnormCost, memoryEfficiency,
  xiong2020, wuHe2018, zhangSennrich2019,
];
