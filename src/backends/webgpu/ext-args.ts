/**
 * Option keys of the issue #12 GPU ops: the core's key lists (src/core/defaults.ts) without `out`
 * (GPU ops return new tensors), with `plan` (forces a kernel variant, ext-plan.ts) and, for the
 * channel ops' backward, `into` (GPU gradients accumulate into the caller's tensors, as the row
 * ops' do). Every argument check itself is the core's (rowBackwardOf, addNormOf, batchNormOf, …).
 */
import {
  ADD_BACKWARD_KEYS, ADD_FORWARD_KEYS, BATCH_NORM_KEYS, GROUP_BACKWARD_KEYS, GROUP_NORM_KEYS, INSTANCE_NORM_KEYS, ROW_BACKWARD_KEYS, ROW_FORWARD_KEYS,
} from "../../core/index.js";

const gpuKeys = (core: readonly string[], ...extra: string[]) => Object.freeze([...core.filter((k) => k !== "out"), "plan", ...extra]);

export const EXT_ROW_FORWARD_KEYS = gpuKeys(ROW_FORWARD_KEYS);
export const EXT_ROW_BACKWARD_KEYS = gpuKeys(ROW_BACKWARD_KEYS);
export const EXT_ADD_FORWARD_KEYS = gpuKeys(ADD_FORWARD_KEYS);
export const EXT_ADD_BACKWARD_KEYS = gpuKeys(ADD_BACKWARD_KEYS);
export const EXT_GROUP_KEYS = gpuKeys(GROUP_NORM_KEYS);
export const EXT_GROUP_BACKWARD_KEYS = gpuKeys(GROUP_BACKWARD_KEYS, "into");
export const EXT_BATCH_KEYS = gpuKeys(BATCH_NORM_KEYS);
export const EXT_BATCH_BACKWARD_KEYS = gpuKeys(BATCH_NORM_KEYS, "into");
export const INSTANCE_KEYS = gpuKeys(INSTANCE_NORM_KEYS);
export const INSTANCE_BACKWARD_KEYS = gpuKeys(INSTANCE_NORM_KEYS, "into");
