/**
 * TF.js layers that run normkit's kernels: `LayerNormalization` (same configuration, defaults and
 * weights as `tf.layers.layerNormalization`, so one replaces the other) and `RMSNormalization`
 * (TF.js has none; arguments as Keras 3's `keras.layers.RMSNormalization`, plus the same
 * center/scale switches). Both are registered with `tf.serialization.registerClass`, so a model
 * that uses them saves and loads like any TF.js model once `normkit/tfjs` is imported.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { NormError } from "../index.js";
import { describe } from "../errors.js";
import { layerNorm, rmsNorm, type TfNormOptions } from "./ops.js";

/** The arguments every TF.js layer takes (name, inputShape, trainable, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
/** A TF.js initializer (`tf.initializers.*`). */
export type Initializer = ReturnType<typeof tfl.initializers.ones>;
/** A TF.js regularizer (`tf.regularizers.*`). */
export type Regularizer = ReturnType<typeof tfl.regularizers.l1l2>;
/** An initializer, its name as in `tf.initializers` ("ones", "glorotUniform", …) or its serialized form. */
export type InitializerIdentifier = Initializer | string | { className: string; config?: tf.serialization.ConfigDict };
/** A regularizer, its name as in `tf.regularizers` ("l1l2", …) or its serialized form. */
export type RegularizerIdentifier = Regularizer | string | { className: string; config?: tf.serialization.ConfigDict };

/** Arguments of `LayerNormalization` and `RMSNormalization` (those of `tf.layers.layerNormalization`). */
export interface NormalizationLayerArgs extends LayerArgs {
  /**
   * The axis or axes to normalize over: the input's trailing axes (-1, or [-2, -1], …; negative
   * counts from the end). Default -1. γ and β have the shape of these axes.
   */
  axis?: number | number[];
  /** Added to the variance (mean square for RMSNorm) inside the square root. */
  epsilon?: number;
  /** Learn an offset β. */
  center?: boolean;
  /** Learn a scale γ. */
  scale?: boolean;
  /** Initializer of β; default "zeros". */
  betaInitializer?: InitializerIdentifier;
  /** Initializer of γ; default "ones". */
  gammaInitializer?: InitializerIdentifier;
  /** Regularizer of β; default none. */
  betaRegularizer?: RegularizerIdentifier;
  /** Regularizer of γ; default none. */
  gammaRegularizer?: RegularizerIdentifier;
}

const OWN_KEYS = ["axis", "epsilon", "center", "scale", "betaInitializer", "gammaInitializer", "betaRegularizer", "gammaRegularizer"];
// tf.layers.Layer's own arguments, and the customObjects TF.js adds when it loads a model
const LAYER_KEYS = ["name", "trainable", "inputShape", "batchInputShape", "batchSize", "dtype", "inputDType", "weights", "customObjects"];

// the classes TF.js's initializers and regularizers derive from (not exported by name)
const InitializerBase = Object.getPrototypeOf(tfl.initializers.zeros().constructor) as abstract new () => Initializer;
const RegularizerBase = Object.getPrototypeOf(tfl.regularizers.l1l2().constructor) as abstract new () => Regularizer;

/**
 * The common part of `LayerNormalization` and `RMSNormalization`: argument checks, weights γ/β,
 * configuration, the call. Subclasses choose the op and the defaults.
 */
export abstract class NormalizationLayer extends tfl.layers.Layer {
  /** The normalized axes, as given. */
  readonly axis: number | number[];
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly betaInitializer: Initializer;
  readonly gammaInitializer: Initializer;
  readonly betaRegularizer: Regularizer | null;
  readonly gammaRegularizer: Regularizer | null;
  private gamma: ReturnType<tfl.layers.Layer["addWeight"]> | null = null;
  private beta: ReturnType<tfl.layers.Layer["addWeight"]> | null = null;
  /** How many trailing dims are normalized (known after build). */
  private normalizedRank = 0;
  /** normkit/tfjs's layerNorm or rmsNorm. */
  private readonly op: typeof layerNorm;

  protected constructor(args: NormalizationLayerArgs | undefined, defaults: { epsilon: number; center: boolean }, op: typeof layerNorm) {
    const a = ownArgs(args);
    super(a);
    this.axis = checkAxis(a.axis ?? -1);
    this.epsilon = checkNumber(a.epsilon, "epsilon", defaults.epsilon);
    this.center = checkBool(a.center, "center", defaults.center);
    this.scale = checkBool(a.scale, "scale", true);
    this.betaInitializer = resolve(a.betaInitializer ?? "zeros", "betaInitializer", tfl.initializers, InitializerBase, "initializer")!;
    this.gammaInitializer = resolve(a.gammaInitializer ?? "ones", "gammaInitializer", tfl.initializers, InitializerBase, "initializer")!;
    this.betaRegularizer = resolve(a.betaRegularizer, "betaRegularizer", tfl.regularizers, RegularizerBase, "regularizer");
    this.gammaRegularizer = resolve(a.gammaRegularizer, "gammaRegularizer", tfl.regularizers, RegularizerBase, "regularizer");
    this.supportsMasking = true;
    this.op = op;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = oneShape(inputShape);
    const n = shape.length;
    const given = Array.isArray(this.axis) ? this.axis : [this.axis];
    const axes = given.map((a) => (a < 0 ? a + n : a));
    // normkit normalizes rows: the normalized axes must be the input's last ones, in order
    if (axes.some((a, i) => a !== n - axes.length + i)) {
      throw new NormError(
        "BAD_ARGUMENT", "axis",
        `expected the input's trailing axes in order (-1, or [-2, -1], …; normkit normalizes an input's last dims: tf.transpose the others away), got ${describe(this.axis)} for an input of rank ${n}`,
      );
    }
    const paramShape = axes.map((a) => shape[a]);
    if (paramShape.some((d) => typeof d !== "number")) {
      throw new NormError("BAD_SHAPE", "inputShape", `expected known sizes on the normalized axes, got ${describe(shape)}`);
    }
    this.normalizedRank = axes.length;
    const weight = (name: string, init: Initializer, reg: Regularizer | null) =>
      this.addWeight(name, paramShape as number[], "float32", init, reg ?? undefined, true);
    this.gamma = this.scale ? weight("gamma", this.gammaInitializer, this.gammaRegularizer) : null;
    this.beta = this.center ? weight("beta", this.betaInitializer, this.betaRegularizer) : null;
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) && inputs.length === 1 ? inputs[0]! : inputs;
    if (Array.isArray(x)) throw new NormError("BAD_ARGUMENT", "inputs", `expected one tensor, got ${x.length}`);
    const normalizedShape = x.shape.slice(x.rank - this.normalizedRank);
    const options: TfNormOptions = { weight: this.gamma?.read() ?? null, bias: this.beta?.read() ?? null, eps: this.epsilon };
    return this.op(x, normalizedShape, options);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const serialize = (o: Initializer | Regularizer | null) => (o === null ? null : { className: o.getClassName(), config: o.getConfig() });
    return {
      axis: Array.isArray(this.axis) ? [...this.axis] : this.axis,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: serialize(this.betaInitializer),
      gammaInitializer: serialize(this.gammaInitializer),
      betaRegularizer: serialize(this.betaRegularizer),
      gammaRegularizer: serialize(this.gammaRegularizer),
      ...super.getConfig(),
    };
  }
}

/**
 * LayerNorm as a TF.js layer, on normkit's kernels: a replacement for
 * `tf.layers.layerNormalization` with the same arguments and defaults (epsilon 1e-3, center and
 * scale on; weights named gamma and beta), so swapping one for the other keeps a model's numbers
 * and weights. Axes must be the input's trailing ones. Serialized as "NormkitLayerNormalization".
 */
export class LayerNormalization extends NormalizationLayer {
  /** The name in a saved model's JSON (TF.js's own layer is "LayerNormalization"). */
  static readonly className = "NormkitLayerNormalization";

  constructor(args?: NormalizationLayerArgs) {
    super(args, { epsilon: 1e-3, center: true }, layerNorm);
  }
}

/**
 * RMSNorm as a TF.js layer, on normkit's kernels: y = x/√(mean(x²) + epsilon)·γ (+ β with
 * `center: true`). TF.js has no RMSNormalization; the arguments follow Keras 3's
 * `keras.layers.RMSNormalization` (axis -1, epsilon 1e-6) and `LayerNormalization`'s switches
 * (scale on, center off by default). Serialized as "NormkitRMSNormalization".
 */
export class RMSNormalization extends NormalizationLayer {
  /** The name in a saved model's JSON. */
  static readonly className = "NormkitRMSNormalization";

  constructor(args?: NormalizationLayerArgs) {
    super(args, { epsilon: 1e-6, center: false }, rmsNorm);
  }
}

tf.serialization.registerClass(LayerNormalization);
tf.serialization.registerClass(RMSNormalization);

/** `new LayerNormalization(args)`, in the style of `tf.layers.layerNormalization(args)`. */
export function layerNormalization(args?: NormalizationLayerArgs): LayerNormalization {
  return new LayerNormalization(args);
}

/** `new RMSNormalization(args)`, in the style of `tf.layers.*`. */
export function rmsNormalization(args?: NormalizationLayerArgs): RMSNormalization {
  return new RMSNormalization(args);
}

/** The arguments' own keys (a polluted Object.prototype adds none); unknown keys are a NormError. */
function ownArgs(args: unknown): NormalizationLayerArgs {
  const out: Record<string, unknown> = Object.create(null);
  if (args === undefined || args === null) return out;
  if (typeof args !== "object" || Array.isArray(args)) {
    throw new NormError("BAD_ARGUMENT", "args", `expected an arguments object, got ${describe(args)}`);
  }
  for (const k of Object.keys(args)) {
    if (!OWN_KEYS.includes(k) && !LAYER_KEYS.includes(k)) {
      throw new NormError("BAD_ARGUMENT", `args.${k}`, `expected one of ${[...OWN_KEYS, ...LAYER_KEYS.slice(0, -1)].join(", ")}, got an unknown argument "${k}"`);
    }
    out[k] = (args as Record<string, unknown>)[k];
  }
  return out as NormalizationLayerArgs;
}

function checkAxis(axis: unknown): number | number[] {
  const list = Array.isArray(axis) ? axis : [axis];
  if (list.length === 0 || list.some((a) => !Number.isInteger(a)) || new Set(list).size !== list.length) {
    throw new NormError("BAD_ARGUMENT", "axis", `expected an integer or a non-empty array of distinct integers, got ${describe(axis)}`);
  }
  return Array.isArray(axis) ? [...(axis as number[])] : (axis as number);
}

function checkNumber(v: unknown, name: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new NormError("BAD_EPS", name, `expected a finite number ≥ 0, got ${describe(v)}`);
  return v;
}

function checkBool(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new NormError("BAD_ARGUMENT", name, `expected true or false, got ${describe(v)}`);
  return v;
}

function oneShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
  if (Array.isArray(inputShape[0])) {
    if (inputShape.length !== 1) throw new NormError("BAD_ARGUMENT", "inputs", `expected one input, got ${inputShape.length}`);
    return inputShape[0] as tfl.Shape;
  }
  return inputShape as tfl.Shape;
}

/**
 * An initializer or regularizer from what TF.js layers accept: an instance, a factory's name
 * (`tf.initializers.ones` → "ones"; "Ones" too), or the serialized `{ className, config }`.
 */
function resolve<T extends object>(
  value: unknown, name: string, factories: object, base: abstract new () => T, what: string,
): T | null {
  if (value === undefined || value === null) return null;
  let made: unknown = undefined;
  if (value instanceof base) return value;
  if (typeof value === "string") {
    const key = [value, value.charAt(0).toLowerCase() + value.slice(1)].find((k) => Object.hasOwn(factories, k));
    const f = key === undefined ? undefined : (factories as Record<string, unknown>)[key];
    if (typeof f === "function") made = f({});
  } else if (typeof value === "object" && typeof (value as { className?: unknown }).className === "string") {
    const { className, config } = value as { className: string; config?: tf.serialization.ConfigDict };
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    const entry = Object.hasOwn(map, className) ? map[className] : undefined;
    // the map holds every serializable class (layers too): construct only initializers/regularizers
    if (entry !== undefined && entry[0].prototype instanceof base) made = entry[1](entry[0], { ...(config ?? {}) });
  }
  if (made instanceof base) return made;
  throw new NormError(
    "BAD_ARGUMENT", name,
    `expected a TF.js ${what} (an instance, a name of tf.${what}s such as "${what === "initializer" ? "ones" : "l1l2"}", or { className, config }), got ${describe(value)}`,
  );
}
