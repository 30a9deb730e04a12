/**
 * Which kernels an op uses: the float32 kernels of row-steps.ts/group-steps.ts (variants tuned for
 * float32 rows, `plan` as in plan.ts) when a call uses nothing of issue #12, else the #12 kernels
 * (any dtype, weightOffset, castingMode, channels-last, SiLU; `plan` as in ext-plan.ts).
 *
 * Decided without running the caller's getters (the ops read options exactly once, later): a half
 * GpuTensor among the arguments, an own #12 option key, or an own accessor where a tensor goes
 * (its value is unknown until read) sends the call to the #12 kernels, which handle float32 too.
 */
import { typedTag } from "../../core/intrinsics.js";
import { stateOf } from "./tensor.js";

const isHalf = (t: unknown): boolean => {
  const s = stateOf(t);
  return s !== undefined && s.dtype !== "float32";
};

/** Whether an own property holds a half tensor, or is an accessor (unknown until read). */
function fieldWantsExt(o: object, key: string): boolean {
  const d = Object.getOwnPropertyDescriptor(o, key);
  if (d === undefined) return false;
  return d.get !== undefined || isHalf(d.value);
}

const TENSOR_KEYS = ["weight", "bias", "mean", "rstd"];

/** true when `tensors` or `options` use a #12 dtype or one of `extKeys` (an own key, whatever its value). */
export function wantsExt(tensors: readonly unknown[], options: unknown, extKeys: readonly string[]): boolean {
  if (tensors.some(isHalf)) return true;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return false;
  if (extKeys.some((k) => Object.hasOwn(options, k))) return true;
  if (TENSOR_KEYS.some((k) => fieldWantsExt(options, k))) return true;
  const d = Object.getOwnPropertyDescriptor(options, "into");
  if (d?.get !== undefined) return true;
  const into: unknown = d?.value;
  return into !== null && typeof into === "object" && ["dweight", "dbias"].some((k) => fieldWantsExt(into, k));
}

export const ROW_EXT_KEYS = Object.freeze(["weightOffset", "castingMode"]);
export const GROUP_EXT_KEYS = Object.freeze(["channelsLast", "activation"]);

/** Own property `key` of `o`: its value, or `maybe` when it is an accessor (not run here). */
function peek(o: object, key: string, maybe: unknown): unknown {
  const d = Object.getOwnPropertyDescriptor(o, key);
  return d === undefined ? undefined : d.get !== undefined ? maybe : d.value;
}

/** Whether a CPU tensor-like may be half, seen without running getters (own data properties only; an accessor: maybe). */
function maybeHalfCpu(t: unknown): boolean {
  if (t === null || typeof t !== "object") return false;
  const d = Object.getOwnPropertyDescriptor(t, "dtype");
  if (d !== undefined && (d.get !== undefined || (d.value !== undefined && d.value !== "float32"))) return true;
  const data = Object.getOwnPropertyDescriptor(t, "data");
  if (data === undefined) return false;
  if (data.get !== undefined) return true;
  const tag = typedTag(data.value);
  return tag === "Uint16Array" || tag === "Float16Array";
}

/** wantsExt for `gpu.cpu.*`: CPU tensors that may be half (seen without running getters), or #12 option keys. */
export function cpuWantsExt(tensors: readonly unknown[], options: unknown, extKeys: readonly string[]): boolean {
  if (tensors.some(maybeHalfCpu)) return true;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return false;
  if (extKeys.some((k) => Object.hasOwn(options, k))) return true;
  const HALF = { dtype: "float16" };
  if (TENSOR_KEYS.some((k) => maybeHalfCpu(peek(options, k, HALF)))) return true;
  const into = peek(options, "into", { dweight: HALF });
  return into !== null && typeof into === "object" && ["dweight", "dbias"].some((k) => maybeHalfCpu(peek(into, k, HALF)));
}
