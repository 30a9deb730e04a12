/**
 * Builds the small ONNX models the onnxruntime peers run, in-process, with protobufjs and the few
 * ONNX messages they need (field numbers from onnx/onnx.proto). Raw tensor data is copied from the
 * typed arrays as they lie in memory: ONNX wants little-endian, which x64 and arm64 are.
 */
import { importPeer } from "./deps.js";

const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto { string name = 1; float f = 2; int64 i = 3; int32 type = 20; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
  repeated AttributeProto attribute = 5; string domain = 7;
}
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message TensorShapeProto { message Dimension { int64 dim_value = 1; string dim_param = 2; } repeated Dimension dim = 1; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } Tensor tensor_type = 1; }
message GraphProto {
  repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`;

/** TensorProto.DataType of each storage dtype */
export const ONNX_TYPE = { float32: 1, float16: 10, bfloat16: 16 } as const;
export type OnnxDType = keyof typeof ONNX_TYPE;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;

export interface OnnxNode {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, { f: number } | { i: number }>;
}

/** A graph's tensors are float32 unless `dtype` says otherwise (half data: Uint16Array bit patterns). */
export interface OnnxGraph {
  nodes: OnnxNode[];
  inputs: { name: string; shape: number[]; dtype?: OnnxDType }[];
  outputs: { name: string; shape: (number | string)[]; dtype?: OnnxDType }[];
  initializers: { name: string; shape: number[]; data: Float32Array | Uint16Array; dtype?: OnnxDType }[];
  opsets: Record<string, number>;
}

let root: any = null;

/** Serialises a graph to ONNX ModelProto bytes. */
export async function buildModel(g: OnnxGraph): Promise<Uint8Array> {
  if (root === null) root = (await importPeer("protobufjs")).parse(ONNX_PROTO).root;
  const Model = root.lookupType("onnx.ModelProto");
  const valueInfo = (name: string, shape: (number | string)[], dtype: OnnxDType = "float32") => ({
    name,
    type: { tensorType: { elemType: ONNX_TYPE[dtype], shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
  const msg = {
    irVersion: 10,
    producerName: "normkit-bench",
    opsetImport: Object.entries(g.opsets).map(([domain, version]) => ({ domain, version })),
    graph: {
      name: "g",
      node: g.nodes.map((n, k) => ({
        name: `n${k}`,
        opType: n.op,
        domain: n.domain ?? "",
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => ("f" in v ? { name, f: v.f, type: ATTR_FLOAT } : { name, i: v.i, type: ATTR_INT })),
      })),
      initializer: g.initializers.map((t) => ({
        name: t.name,
        dims: t.shape,
        dataType: ONNX_TYPE[t.dtype ?? "float32"],
        rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
      input: g.inputs.map((i) => valueInfo(i.name, i.shape, i.dtype)),
      output: g.outputs.map((o) => valueInfo(o.name, o.shape, o.dtype)),
    },
  };
  const err = Model.verify(msg);
  if (err) throw new Error(`ONNX model: ${err}`);
  return Model.encode(Model.fromObject(msg)).finish();
}

/** An onnxruntime-node session of the graph on the CPU execution provider, `threads` intra-op threads, all graph optimizations. */
export async function cpuSession(ort: any, g: OnnxGraph, threads: number): Promise<any> {
  return ort.InferenceSession.create(await buildModel(g), {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
}
