/**
 * Options objects, read once at the public boundary into a frozen snapshot of the caller's own
 * properties: an inherited key (`Object.prototype.weight = …`) is never seen, a getter runs once,
 * a key normkit does not know is a NormError naming it with the closest valid key, and values
 * are type-checked (no `training: "false"` read as true). `undefined` values mean "not given".
 */
import { NormError, describe } from "../errors.js";
import { didYouMean } from "./suggest.js";

/** A validated options snapshot: own properties only, no prototype. */
export type Options = Readonly<Record<string, unknown>>;

const EMPTY: Options = Object.freeze(Object.create(null) as Record<string, unknown>);

/** `name.key`, or just `key` for a call's top-level `options`. */
export function optionPath(name: string, key: string): string {
  return name === "options" ? key : `${name}.${key}`;
}

/**
 * The own string-keyed properties of `opts` (undefined: none given). `keys` lists the valid keys;
 * with null any key is kept (for callers that check their own keys, e.g. a GPU backend adding
 * `plan`: pass the core's key list plus its own). `null`, arrays and typed arrays are rejected.
 */
export function readOptions(opts: unknown, name: string, keys: readonly string[] | null): Options {
  if (opts === undefined) return EMPTY;
  if (opts === null || typeof opts !== "object" || Array.isArray(opts) || ArrayBuffer.isView(opts)) {
    const hint = opts === null ? " (omit it, or pass {} for the defaults)" : "";
    throw new NormError("BAD_ARGUMENT", name, `expected an options object${hint}, got ${describe(opts)}`);
  }
  if (SNAPSHOTS.has(opts)) {
    if (keys !== null) for (const k of Object.keys(opts)) checkKey(k, name, keys);
    return opts as Options;
  }
  const snap = Object.create(null) as Record<string, unknown>;
  try {
    for (const k of Reflect.ownKeys(opts)) {
      if (typeof k !== "string") continue;
      const d = Reflect.getOwnPropertyDescriptor(opts, k);
      if (d === undefined) continue;
      if (keys !== null) checkKey(k, name, keys);
      snap[k] = d.get !== undefined ? Reflect.apply(d.get, opts, []) : d.value;
    }
  } catch (e) {
    if (e instanceof NormError) throw e;
    throw new NormError("BAD_ARGUMENT", name, `expected a plain options object, but reading it threw: ${describe(e instanceof Error ? e.message : e)}`);
  }
  SNAPSHOTS.add(snap);
  return Object.freeze(snap);
}

/** readOptions typed as the caller's options interface (own properties; any keys unless `keys` is given). */
export function checkOptions<T extends object>(opts: unknown, name = "options", keys: readonly string[] | null = null): Partial<T> {
  return readOptions(opts, name, keys) as Partial<T>;
}

/** Snapshots made here: reading one again skips the copy. */
const SNAPSHOTS = new WeakSet<object>();

function checkKey(k: string, name: string, keys: readonly string[]): void {
  if (keys.includes(k)) return;
  const valid = keys.length === 0 ? "this call takes no options" : `valid options: ${keys.join(", ")}`;
  throw new NormError("UNKNOWN_OPTION", optionPath(name, k), `unknown option${didYouMean(k, keys)} (${valid})`);
}

/** A boolean option: true or false exactly (a string "false" is an error, not true); undefined → fallback. */
export function optBool(o: Options, key: string, fallback: boolean, name = "options"): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") {
    throw new NormError("BAD_ARGUMENT", optionPath(name, key), `expected true or false, got ${describe(v)}${typeof v === "string" ? " (a string)" : ""}`);
  }
  return v;
}

/** ε: a finite number ≥ 0 (0 is accepted, as PyTorch does); undefined or null → the op's default. */
export function checkEps(eps: unknown, fallback: number, argument = "eps"): number {
  if (eps === undefined || eps === null) return fallback;
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new NormError("BAD_EPS", argument, `expected a finite number ≥ 0, got ${describe(eps)}`);
  }
  return eps;
}

/** BatchNorm's momentum: a number in [0, 1], or null for the cumulative moving average; undefined → fallback. */
export function checkMomentum(m: unknown, fallback: number): number | null {
  if (m === undefined) return fallback;
  if (m === null) return null;
  if (typeof m !== "number" || !(m >= 0 && m <= 1)) {
    throw new NormError("BAD_MOMENTUM", "momentum", `expected a number in [0, 1], or null for a cumulative moving average, got ${describe(m)}`);
  }
  return m;
}

/** A count (dims, features, groups): an integer in [min, 2^53). */
export function checkCount(v: unknown, argument: string, min: number, code: "BAD_SHAPE" | "BAD_NUM_GROUPS" | "BAD_ARGUMENT" = "BAD_SHAPE", what = ""): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new NormError(code, argument, `expected ${what || (min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`)}, got ${describe(v)}`);
  }
  return v;
}

/** Liger-Kernel's casting modes for half inputs (docs/ops-semantics.md); float32 x ignores them. */
export type CastingMode = "gemma" | "llama" | "none";
const CASTING_MODES: readonly CastingMode[] = ["gemma", "llama", "none"];

/** castingMode: "gemma" (default), "llama" or "none". */
export function checkCastingMode(v: unknown): CastingMode {
  if (v === undefined || v === null) return "gemma";
  if (typeof v !== "string" || !(CASTING_MODES as readonly string[]).includes(v)) {
    throw new NormError("BAD_ARGUMENT", "castingMode", `expected "gemma", "llama" or "none", got ${describe(v)}`);
  }
  return v as CastingMode;
}

/** weightOffset: a finite number (default 0): y = x̂·(weightOffset + w) + b. */
export function checkWeightOffset(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new NormError("BAD_ARGUMENT", "weightOffset", `expected a finite number (Gemma: 1), got ${describe(v)}`);
  }
  return v;
}

/** GroupNorm's fused activation: "silu" or null/undefined (none). */
export function checkActivation(v: unknown): "silu" | null {
  if (v === undefined || v === null) return null;
  if (v !== "silu") throw new NormError("BAD_ARGUMENT", "activation", `expected "silu" or null, got ${describe(v)}`);
  return v;
}
