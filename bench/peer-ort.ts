/**
 * onnxruntime-node (CPU execution provider): LayerNormalization (opset 17) and RMSNormalization
 * (opset 23, or ORT's SimplifiedLayerNormalization contrib op when the installed ORT lacks it), in
 * models built in-process, with 1 and 2 intra-op threads. Backward needs ORT's gradient ops, which
 * are probed (they exist only in ORT's training builds).
 */
import type { CaseData, Peer, Runner } from "./child.js";
import { importPeer, peerVersion } from "./deps.js";
import { buildModel, cpuSession, type OnnxGraph } from "./onnx.js";
import { EPS, type Case } from "./lib.js";

let ort: any;
type Flavour = { op: string; domain: string; opsets: Record<string, number> };
let rmsFlavour: Flavour | null = null;
let rmsError = "";
let gradError: string | null = null;

function graph(c: Case, d: CaseData | null, rows = c.rows): OnnxGraph {
  const D = c.D;
  const w = d?.weight ?? new Float32Array(D).fill(1);
  const b = d?.bias ?? new Float32Array(D);
  const attrs = { axis: { i: -1 }, epsilon: { f: EPS } };
  const io = { inputs: [{ name: "x", shape: [rows, D] }], outputs: [{ name: "y", shape: [rows, D] }] };
  if (c.op === "layerNorm") {
    return {
      ...io,
      nodes: [{ op: "LayerNormalization", inputs: ["x", "w", "b"], outputs: ["y"], attrs }],
      initializers: [{ name: "w", shape: [D], data: w }, { name: "b", shape: [D], data: b }],
      opsets: { "": 17 },
    };
  }
  const f = rmsFlavour ?? { op: "RMSNormalization", domain: "", opsets: { "": 23 } };
  return {
    ...io,
    nodes: [{ op: f.op, domain: f.domain, inputs: ["x", "w"], outputs: ["y"], attrs }],
    initializers: [{ name: "w", shape: [D], data: w }],
    opsets: f.opsets,
  };
}

const session = (g: OnnxGraph, threads: number) => cpuSession(ort, g, threads);

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 200);

export const peer: Peer = {
  async hello() {
    ort = await importPeer("onnxruntime-node");
    ort.env.logLevel = "error";
    const probe: Case = { op: "rmsNorm", dir: "forward", rows: 2, D: 8 };
    const flavours: Flavour[] = [
      { op: "RMSNormalization", domain: "", opsets: { "": 23 } },
      { op: "SimplifiedLayerNormalization", domain: "", opsets: { "": 17 } },
      { op: "SimplifiedLayerNormalization", domain: "com.microsoft", opsets: { "": 17, "com.microsoft": 1 } },
    ];
    for (const f of flavours) {
      rmsFlavour = f;
      try {
        await (await session(graph(probe, null), 1)).release();
        break;
      } catch (e) {
        rmsError += `${f.op}@${f.domain || "ai.onnx"}: ${msg(e)}; `;
        rmsFlavour = null;
      }
    }
    // ORT's LayerNormalizationGrad lives in com.microsoft and is compiled into training builds only
    try {
      await buildModel({
        nodes: [{ op: "LayerNormalizationGrad", domain: "com.microsoft", inputs: ["dy", "x", "w", "mean", "rstd"], outputs: ["dx", "dw", "db"], attrs: { axis: { i: -1 } } }],
        inputs: [{ name: "dy", shape: [2, 8] }, { name: "x", shape: [2, 8] }, { name: "w", shape: [8] }, { name: "mean", shape: [2, 1] }, { name: "rstd", shape: [2, 1] }],
        outputs: [{ name: "dx", shape: [2, 8] }, { name: "dw", shape: [8] }, { name: "db", shape: [8] }],
        initializers: [],
        opsets: { "": 17, "com.microsoft": 1 },
      }).then(async (bytes) => (await ort.InferenceSession.create(bytes)).release());
      gradError = "LayerNormalizationGrad loads, but the benchmark does not drive it yet";
    } catch (e) {
      gradError = `onnxruntime-node is an inference build: LayerNormalizationGrad (com.microsoft) does not load (${msg(e)})`;
    }
    const rmsOp = rmsFlavour ? `${rmsFlavour.op} (${rmsFlavour.domain || "ai.onnx"} opset ${Object.values(rmsFlavour.opsets).at(-1)})` : `none (${rmsError})`;
    const timed = {
      forward: `await session.run({ x }) on a model of one LayerNormalization (opset 17) / ${rmsOp} node, γ/β as initializers`,
      backward: gradError,
    };
    return {
      peer: "onnxruntime",
      versions: { "onnxruntime-node": peerVersion("onnxruntime-node"), protobufjs: peerVersion("protobufjs") },
      variants: [1, 2].map((t) => ({ id: `ort-${t}t`, peer: "onnxruntime", label: `onnxruntime-node, ${t} intra-op thread${t > 1 ? "s" : ""}`, threads: t, timed })),
    };
  },

  async prepare(variant, d) {
    const { c } = d;
    if (c.dir === "backward") return { skip: gradError ?? "no backward" };
    if (c.op === "rmsNorm" && rmsFlavour === null) return { skip: `no RMSNorm op loads: ${rmsError}` };
    const threads = variant === "ort-2t" ? 2 : 1;
    const s = await session(graph(c, d), threads);
    const feeds = { x: new ort.Tensor("float32", d.x, [c.rows, c.D]) };
    let last: Float32Array = new Float32Array(0);
    return {
      run: async () => {
        const r = await s.run(feeds);
        last = r.y.data as Float32Array;
      },
      output: () => last,
      dispose: () => void s.release(),
    } satisfies Runner;
  },
};
