/** The issue #12 part of the WebGPU suite (runGpuSuite includes it): golden cases, properties, errors and lifecycle. */
import { ops12GoldenTests } from "./ops12.js";
import { ops12PropertyTests } from "./ops12-props.js";
import { ops12ErrorTests } from "./ops12-errors.js";
import type { SuiteEnv, T } from "./suite.js";

export function ops12Tests(env: SuiteEnv): T[] {
  return [...ops12GoldenTests(env), ...ops12PropertyTests(env), ...ops12ErrorTests(env)];
}
