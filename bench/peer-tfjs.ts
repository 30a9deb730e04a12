/**
 * TensorFlow.js: `tf.layers.layerNormalization` on the `wasm` and `cpu` backends (tfjs-node cannot
 * be installed offline). Forward is `layer.apply(x)`; backward is `tf.grad` of it with dy as the
 * upstream gradient (dx only: tf.grad differentiates with respect to x). tfjs has no RMSNorm layer.
 * These calls take up to tens of seconds at the larger shapes, so prepare warms up on a few rows
 * (same D, same kernels) instead of the full input, and run.ts caps their measuring time.
 */
import type { Peer, Runner } from "./child.js";
import { importPeer, peerVersion } from "./deps.js";
import { EPS } from "./lib.js";

let tf: any;
let tfl: any;
let wasmError: string | null = null;
let wasmThreads = 1;

const timed = {
  forward: "tf.tidy(() => layer.apply(x)) then y.dataSync() (reads the result back to JS)",
  backward: "tf.tidy(() => tf.grad(x => layer.apply(x))(x, dy)) then dx.dataSync(): dx only",
};

export const peer: Peer = {
  async hello() {
    // the union package registers the gradients and the cpu backend; its core is the one tfjs-backend-wasm extends
    tf = await importPeer("@tensorflow/tfjs");
    tfl = tf;
    try {
      const wasm = await importPeer("@tensorflow/tfjs-backend-wasm");
      if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false");
      wasmThreads = wasm.getThreadsCount?.() ?? 1;
    } catch (e) {
      wasmError = `tfjs wasm backend did not initialise: ${(e as Error).message}`;
    }
    await tf.setBackend("cpu");
    tf.env().set("IS_TEST", false);
    return {
      peer: "tfjs",
      versions: {
        "@tensorflow/tfjs": peerVersion("@tensorflow/tfjs"),
        "@tensorflow/tfjs-core": peerVersion("@tensorflow/tfjs-core"),
        "@tensorflow/tfjs-layers": peerVersion("@tensorflow/tfjs-layers"),
        "@tensorflow/tfjs-backend-wasm": peerVersion("@tensorflow/tfjs-backend-wasm"),
        "@tensorflow/tfjs-backend-cpu": peerVersion("@tensorflow/tfjs-backend-cpu"),
      },
      variants: [
        { id: "tfjs-wasm", peer: "tfjs", label: `tfjs layerNormalization, wasm backend${wasmThreads > 1 ? ` (${wasmThreads} threads)` : ""}`, threads: wasmThreads, timed, ...(wasmError ? { skip: wasmError } : {}) },
        { id: "tfjs-cpu", peer: "tfjs", label: "tfjs layerNormalization, cpu backend", threads: 1, timed },
      ],
    };
  },

  async prepare(variant, d) {
    const { c } = d;
    if (c.op !== "layerNorm") return { skip: "TensorFlow.js has no RMSNorm layer" };
    const backend = variant === "tfjs-wasm" ? "wasm" : "cpu";
    await tf.setBackend(backend);
    const layer = tfl.layers.layerNormalization({ axis: -1, epsilon: EPS });
    layer.build([null, c.D]);
    layer.setWeights([tf.tensor1d(d.weight), tf.tensor1d(d.bias)]);
    const x = tf.tensor2d(d.x, [c.rows, c.D]);
    const dy = tf.tensor2d(d.dy, [c.rows, c.D]);
    const g = tf.grad((xx: unknown) => layer.apply(xx));
    const call = (xx: any, dd: any): Float32Array => {
      const out = tf.tidy(() => (c.dir === "forward" ? layer.apply(xx) : g(xx, dd)));
      const v = out.dataSync() as Float32Array;
      out.dispose();
      return v;
    };
    // warm-up on a few rows: same kernels, without a full-size call that can take tens of seconds
    const k = Math.min(c.rows, 4);
    tf.tidy(() => { call(tf.slice(x, [0, 0], [k, c.D]), tf.slice(dy, [0, 0], [k, c.D])); });
    let last: Float32Array | null = null; // set by the first timed call, read by output()
    return {
      warmedUp: true,
      select: () => tf.setBackend(backend),
      run: () => { last = call(x, dy); },
      output: () => last!,
      // the layer's γ/β are tfjs variables: disposeVariables frees them
      dispose: () => { x.dispose(); dy.dispose(); tf.disposeVariables(); },
    } satisfies Runner;
  },
};
