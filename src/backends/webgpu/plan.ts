/**
 * Which kernel variant runs for a row width D: the "shape classes". Variants (all with the same
 * bindings, see wgsl.ts; pass `plan` in an op's options to force one, as the benchmark does):
 *
 * | variant (plan)            | threads/row T     | rows/workgroup | loads  | reduction           | row kept in            |
 * |---------------------------|-------------------|----------------|--------|---------------------|------------------------|
 * | team, regs (narrow rows)  | 4…128             | 256/T          | vec4/1 | subgroup or wg mem  | registers (≤ 8 items)  |
 * | wg-row, regs (wide rows)  | 256               | 1              | vec4/1 | subgroup + wg mem   | registers (≤ 8 items)  |
 * | wg-row, reread (backward) | 256               | 1              | vec4/1 | subgroup + wg mem   | accumulators only      |
 * | loop (any D; also naive)  | 256               | 1              | vec4/1 | subgroup or wg mem  | nothing: 2–3 reads     |
 *
 * Backward with several rows per workgroup: `wgsum` (default when TEAMS·D floats fit in workgroup
 * memory) sums the teams' dweight/dbias in workgroup memory, one partial row per workgroup, so
 * up to 1024 workgroups fill the GPU with a small partial buffer; else one partial row per team.
 *
 * Defaults: T = the power of two giving each thread ~4 items (vec4 when D % 4 == 0), between the
 * subgroup size (or 4) and 256; forward keeps up to 8 items per thread in registers (D ≤ 8192 with
 * vec4), backward up to 4 (x and dy both held) then "reread" up to 8, else "loop". Subgroup
 * reductions are used when the device has `subgroups`, one fixed subgroup size, and the startup
 * probe showed subgroups to be aligned runs of invocations; otherwise workgroup memory.
 */
import { NormError } from "../../errors.js";
import { WORKGROUP, type KernelPlan } from "./wgsl.js";

/** Partial dweight/dbias rows the backward aims for (workgroups × teams); bounds the final pass. */
export const BACKWARD_PARTIAL_ROWS = 1024;

/** WebGPU's guaranteed workgroup memory (maxComputeWorkgroupStorageSize default). */
const WG_STORAGE = 16384;

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** The default plan for a row width; `subgroup` is the usable subgroup size, 0 if none. */
export function defaultPlan(D: number, backward: boolean, subgroup: number, wgStorage = WG_STORAGE): KernelPlan {
  const vec = D % 4 === 0 ? 4 : 1;
  const N = D / vec;
  const T = Math.min(WORKGROUP, Math.max(subgroup || 4, nextPow2(Math.ceil(N / 4))));
  const K = Math.ceil(N / T);
  const store = backward ? (K <= 4 ? "regs" : K <= 8 ? "reread" : "loop") : K <= 8 ? "regs" : "loop";
  const sg = subgroup && T % subgroup === 0 ? subgroup : 0;
  const plan: KernelPlan = { T, vec, sg, store };
  if (backward) plan.wgsum = wgsumFits(D, plan, wgStorage);
  return plan;
}

/** Whether the in-workgroup sum of the teams' partials fits next to the reduction's memory. */
function wgsumFits(D: number, p: KernelPlan, wgStorage: number): boolean {
  const teams = WORKGROUP / p.T;
  // the reduction's slots: vec4<f32> (two sums and their compensations, wgsl.ts ACCURATE_SUMS)
  const red = p.sg === p.T ? 0 : (p.sg ? WORKGROUP / p.sg : WORKGROUP) * 16;
  return teams > 1 && p.store !== "loop" && teams * D * 4 + red <= wgStorage;
}

/** Fills in a partial plan (from options) and checks it can run on this device. */
export function resolvePlan(
  D: number, backward: boolean, subgroup: number, over?: Partial<KernelPlan>, wgStorage = WG_STORAGE,
): KernelPlan {
  const base = defaultPlan(D, backward, subgroup, wgStorage);
  if (!over) return base;
  const p: KernelPlan = { ...base, ...over };
  if (over.T !== undefined && over.sg === undefined) p.sg = subgroup && p.T % subgroup === 0 ? subgroup : 0;
  if (backward && over.wgsum === undefined) p.wgsum = wgsumFits(D, p, wgStorage);
  if (!backward) delete p.wgsum;
  const ok =
    Number.isInteger(Math.log2(p.T)) && p.T >= 4 && p.T <= WORKGROUP &&
    (p.vec === 1 || (p.vec === 4 && D % 4 === 0)) &&
    (p.sg === 0 || (p.sg === subgroup && p.T % p.sg === 0)) &&
    (p.store === "loop" || Math.ceil(D / p.vec / p.T) <= 64) &&
    (!p.wgsum || wgsumFits(D, p, wgStorage));
  if (!ok) {
    throw new NormError("BAD_ARGUMENT", "plan", `${JSON.stringify(p)} cannot run for D = ${D} (usable subgroup size ${subgroup})`);
  }
  return p;
}

/** At least this many backward workgroups when there are rows enough, to fill the GPU. */
export const BACKWARD_MIN_BLOCKS = 128;

/**
 * The "loop" backward adds each row's dweight/dbias terms to its partial row in memory, in float32
 * (its items per thread are unbounded, so no compensation pair per item fits in registers): it
 * gets enough workgroups that no partial row sums more than LOOP_ROWS rows, which bounds that
 * error whatever the number of rows. The other variants compensate in registers (wgsl.ts).
 */
export const LOOP_ROWS = 16;

/** The most workgroups a one-dimensional dispatch may have (WebGPU's guaranteed limit). */
const MAX_BLOCKS = 65535;

/** Backward workgroups for `rows` rows: about BACKWARD_PARTIAL_ROWS partial rows in all. */
export function backwardBlocks(rows: number, plan: KernelPlan): number {
  const teams = WORKGROUP / plan.T;
  const perBlock = plan.wgsum ? 1 : teams;
  let target = Math.max(BACKWARD_MIN_BLOCKS, Math.floor(BACKWARD_PARTIAL_ROWS / perBlock));
  if (plan.store === "loop") target = Math.max(target, Math.min(MAX_BLOCKS, Math.ceil(rows / (teams * LOOP_ROWS))));
  return Math.max(1, Math.min(Math.ceil(rows / teams), target));
}

/** Partial dweight/dbias rows written by `blocks` backward workgroups. */
export function partialRows(blocks: number, plan: KernelPlan): number {
  return plan.wgsum ? blocks : blocks * (WORKGROUP / plan.T);
}
