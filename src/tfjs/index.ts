/**
 * `normkit/tfjs`: normkit's LayerNorm and RMSNorm inside TensorFlow.js. TF.js layers
 * (`LayerNormalization`, `RMSNormalization`), differentiable ops on TF.js tensors (`layerNorm`,
 * `rmsNorm`) and the two conversions (`fromTfjs`, `toTfjs`). Needs the peer dependencies
 * `@tensorflow/tfjs-core` and `@tensorflow/tfjs-layers` (both come with `@tensorflow/tfjs`);
 * normkit's main entry never imports this module or TF.js.
 *
 * Importing it registers the two layers with `tf.serialization.registerClass`.
 *
 * @module
 */
export { layerNorm, rmsNorm, fromTfjs, toTfjs, type TfNormOptions } from "./ops.js";
export {
  LayerNormalization, RMSNormalization, NormalizationLayer, layerNormalization, rmsNormalization,
  type NormalizationLayerArgs, type LayerArgs, type Initializer, type Regularizer,
  type InitializerIdentifier, type RegularizerIdentifier,
} from "./layers.js";
