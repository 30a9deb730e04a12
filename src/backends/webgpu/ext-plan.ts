/**
 * Kernel plans of the issue #12 row kernels (wgsl-ext*.ts): the same team geometry as plan.ts (T
 * threads per row, 256/T rows per workgroup, subgroup or workgroup-memory reductions), with
 * - `vec` 1, 2 or 4 elements per item: the largest that divides the row's contiguous run (the row
 *   width; GroupNorm's S channels-first, C/G channels-last; BatchNorm's S). Half tensors on u32
 *   words load a word (2 elements) or two (4) per item; at width 1 their outputs go through a
 *   float32 scratch and a packing pass (wgsl-half.ts).
 * - `store` "regs" (the row's items stay in registers: at most 8 per thread forward, 4 backward)
 *   or "loop" (any width: the passes re-read memory);
 * - `f16`: float16 tensors bound as `array<f16>` (needs the device's `shader-f16`), else u32 words.
 * Defaults: T gives each thread ~4 items, as plan.ts. A row's result depends on D and the device
 * only, never on the number of rows (bitwise batch invariance).
 */
import { NormError } from "../../errors.js";
import { WORKGROUP } from "./wgsl.js";

export interface ExtPlan {
  /** Threads per row: a power of two, 4 ≤ T ≤ 256. */
  T: number;
  /** Elements per item (must divide the row's contiguous run). */
  vec: 1 | 2 | 4;
  /** Subgroup size of the reductions (T % sg == 0), or 0 for workgroup memory. */
  sg: number;
  store: "regs" | "loop";
  /** float16 tensors as native f16 arrays (device feature shader-f16). */
  f16: boolean;
}

const PLAN_KEYS = ["T", "vec", "sg", "store", "f16"];
const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** The largest item width dividing `run` (the row's contiguous run of elements). */
export const vecFor = (run: number): 1 | 2 | 4 => (run % 4 === 0 ? 4 : run % 2 === 0 ? 2 : 1);

/**
 * The plan for rows of D elements whose contiguous runs are `run` long, on a device with usable
 * subgroup size `subgroup` (0: none) and `f16` (shader-f16); `over` forces fields (an op's `plan`).
 */
export function extPlan(D: number, run: number, backward: boolean, subgroup: number, f16: boolean, over?: unknown): ExtPlan {
  const o = (over ?? {}) as Record<string, unknown>;
  if (typeof o !== "object" || Array.isArray(o)) throw new NormError("BAD_ARGUMENT", "plan", "expected a partial kernel plan object");
  for (const k of Object.keys(o)) {
    if (!PLAN_KEYS.includes(k)) throw new NormError("BAD_ARGUMENT", `plan.${k}`, `unknown key; a plan has ${PLAN_KEYS.join(", ")}`);
  }
  const vec = (o.vec ?? vecFor(run)) as ExtPlan["vec"];
  const N = Math.ceil(D / vec);
  const T = (o.T ?? Math.min(WORKGROUP, Math.max(subgroup || 4, nextPow2(Math.ceil(N / 4))))) as number;
  const K = Math.ceil(N / T);
  const store = (o.store ?? (K <= (backward ? 4 : 8) ? "regs" : "loop")) as ExtPlan["store"];
  const sg = (o.sg ?? (subgroup && T % subgroup === 0 ? subgroup : 0)) as number;
  const p: ExtPlan = { T, vec, sg, store, f16: (o.f16 ?? f16) as boolean };
  const ok =
    Number.isInteger(Math.log2(p.T)) && p.T >= 4 && p.T <= WORKGROUP &&
    [1, 2, 4].includes(p.vec) && run % p.vec === 0 &&
    (p.sg === 0 || (p.sg === subgroup && p.T % p.sg === 0)) &&
    (p.store === "loop" || (p.store === "regs" && K <= 64)) &&
    typeof p.f16 === "boolean" && (!p.f16 || f16);
  if (!ok) {
    throw new NormError("BAD_ARGUMENT", "plan", `${JSON.stringify(p)} cannot run for D = ${D} (contiguous runs of ${run}; usable subgroup size ${subgroup}; shader-f16 ${f16})`);
  }
  return p;
}
