/**
 * onnxruntime-node's fused residual add + norm (CPU execution provider): the com.microsoft contrib
 * ops SkipLayerNormalization (normkit's addLayerNorm) and SkipSimplifiedLayerNormalization
 * (addRmsNorm), in models built in-process, with 1 and 2 intra-op threads. Inputs x and skip
 * (the residual) are fed per call, γ/β are initializers; the outputs are y and h (ORT's
 * input_skip_bias_sum, the new residual stream), so the op moves the bytes normkit's does.
 * float32 and float16 tensors; bfloat16 and backward are probed and skipped with the reason.
 */
import type { CaseData, Peer, Runner } from "./child.js";
import { halfValues } from "./lib12.js";
import { importPeer, peerVersion } from "./deps.js";
import { cpuSession, type OnnxDType, type OnnxGraph } from "./onnx.js";
import { EPS, caseDType, hasBias, type Case, type CaseDType, type Coverage } from "./lib.js";

/** The contrib op of each fused case op. */
export const SKIP_OP = { addLayerNorm: "SkipLayerNormalization", addRmsNorm: "SkipSimplifiedLayerNormalization" } as const;

/**
 * The model of one case: a single com.microsoft Skip(Simplified)LayerNormalization node, inputs x
 * and skip [rows, D], γ (and β) as initializers in the case's dtype, outputs y and h (ORT's optional
 * outputs mean and inv_std_var are not requested: empty names).
 */
export function skipGraph(c: Case, params: { weight: Float32Array | Uint16Array; bias: Float32Array | Uint16Array }): OnnxGraph {
  if (c.op !== "addLayerNorm" && c.op !== "addRmsNorm") throw new Error(`no onnxruntime fused op for ${c.op}`);
  const dtype: OnnxDType = caseDType(c);
  const shape = [c.rows, c.D];
  const ln = hasBias(c.op);
  return {
    nodes: [{
      op: SKIP_OP[c.op],
      domain: "com.microsoft",
      inputs: ["x", "skip", "gamma", ...(ln ? ["beta"] : [])],
      outputs: ["y", "", "", "h"],
      attrs: { epsilon: { f: EPS } },
    }],
    inputs: [{ name: "x", shape, dtype }, { name: "skip", shape, dtype }],
    outputs: [{ name: "y", shape, dtype }, { name: "h", shape, dtype }],
    initializers: [
      { name: "gamma", shape: [c.D], data: params.weight, dtype },
      ...(ln ? [{ name: "beta", shape: [c.D], data: params.bias, dtype }] : []),
    ],
    opsets: { "": 17, "com.microsoft": 1 },
  };
}

/** The inputs of a case as ORT tensors' data: float32 arrays, or half bit patterns. */
export function skipFeeds(d: CaseData): { x: Float32Array | Uint16Array; skip: Float32Array | Uint16Array; weight: Float32Array | Uint16Array; bias: Float32Array | Uint16Array } {
  const b = d.bits;
  return b ? { x: b.x, skip: b.residual, weight: b.weight, bias: b.bias } : { x: d.x, skip: d.residual, weight: d.weight, bias: d.bias };
}

let ort: any;
/** why an (op, dtype) does not load, probed once at start ("" where it loads) */
const support = new Map<string, string>();
const BACKWARD_SKIP = "onnxruntime-node is an inference build: Skip(Simplified)LayerNormalization has no gradient op in it";

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 200);

const session = (g: OnnxGraph, threads: number) => cpuSession(ort, g, threads);

const values = (t: { type: string; data: ArrayLike<number> }, dtype: CaseDType) =>
  dtype === "float32" || !(t.data instanceof Uint16Array) ? t.data : halfValues(t.data, dtype);

export const peer: Peer = {
  async hello() {
    ort = await importPeer("onnxruntime-node");
    ort.env.logLevel = "error";
    for (const op of ["addLayerNorm", "addRmsNorm"] as const) {
      for (const dtype of ["float32", "float16", "bfloat16"] as const) {
        const c: Case = { op, dir: "forward", rows: 2, D: 8, ...(dtype !== "float32" ? { dtype } : {}) };
        const p = dtype === "float32" ? new Float32Array(8).fill(1) : new Uint16Array(8);
        try {
          await (await session(skipGraph(c, { weight: p, bias: p }), 1)).release();
          support.set(`${op} ${dtype}`, "");
        } catch (e) {
          support.set(`${op} ${dtype}`, `${SKIP_OP[op]} with ${dtype} tensors does not load in onnxruntime-node: ${msg(e)}`);
        }
      }
    }
    const covers: Coverage[] = [{ ops: ["addLayerNorm", "addRmsNorm"], dtypes: ["float32", "float16", "bfloat16"] }];
    const timed = {
      "fused forward": "await session.run({ x, skip }) on a model of one com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization node (γ/β initializers), outputs y and h (input_skip_bias_sum)",
      "fused backward": BACKWARD_SKIP,
    };
    return {
      peer: "onnxruntime-skip",
      versions: { "onnxruntime-node": peerVersion("onnxruntime-node"), protobufjs: peerVersion("protobufjs") },
      variants: [1, 2].map((t) => ({
        id: `ort-skip-${t}t`, peer: "onnxruntime-skip", label: `onnxruntime-node Skip*LayerNormalization, ${t} intra-op thread${t > 1 ? "s" : ""}`,
        threads: t, timed, covers,
      })),
    };
  },

  async prepare(variant, d) {
    const { c } = d;
    if (c.dir === "backward") return { skip: BACKWARD_SKIP };
    const dtype = caseDType(c);
    const why = support.get(`${c.op} ${dtype}`);
    if (why === undefined) return { skip: `not an onnxruntime fused case: ${c.op}` };
    if (why !== "") return { skip: why };
    const f = skipFeeds(d);
    const s = await session(skipGraph(c, f), variant === "ort-skip-2t" ? 2 : 1);
    const dims = [c.rows, c.D];
    const feeds = { x: new ort.Tensor(dtype, f.x, dims), skip: new ort.Tensor(dtype, f.skip, dims) };
    let last: { y: { type: string; data: ArrayLike<number> }; h: { type: string; data: ArrayLike<number> } } | null = null;
    return {
      run: async () => {
        last = await s.run(feeds);
      },
      output: () => values(last!.y, dtype),
      outputH: () => values(last!.h, dtype),
      dispose: () => void s.release(),
    } satisfies Runner;
  },
};
