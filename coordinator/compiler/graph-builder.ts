import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = onnxProto.onnx.ITensorProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX opset the compiler targets: 17 is the first with LayerNormalization, and ORT has supported it for years. */
export const OPSET = 17;
const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

/** ONNX Runtime's contrib operator domain (integer kernels such as DynamicQuantizeMatMul live there). */
export const CONTRIB_DOMAIN = 'com.microsoft';

/** An attribute value with its ONNX type spelled out, since JS numbers cannot tell int from float. */
export type Attr = { int: number } | { float: number } | { ints: number[] };

/** A dimension: a fixed size or a symbolic name ("batch", "seq"). */
export type Dim = number | string;

function toAttribute(name: string, value: Attr): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: T.INT, i: value.int };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.INTS, ints: value.ints };
}

function valueInfo(name: string, elem: ElemType, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function rawBytes(data: Float32Array | BigInt64Array | Int8Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Accumulates nodes, weights and graph I/O, and serialises them as an ONNX ModelProto.
 * Names are generated from a prefix and a counter so emitters can be composed without clashes.
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private counter = 0;
  /** Set once a contrib-domain node is added, so the model imports that domain. */
  private usesContrib = false;

  constructor(readonly graphName: string) {}

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, elem: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A float32 weight stored in the model. */
  weight(prefix: string, data: Float32Array, dims: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims, dataType: ELEM.float32, rawData: rawBytes(data) });
    return name;
  }

  /** An int8 weight stored in the model (quantized linear weights). */
  int8Weight(prefix: string, data: Int8Array, dims: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.INT8, rawData: rawBytes(data) });
    return name;
  }

  int64s(prefix: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh(prefix);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: ELEM.int64, rawData: rawBytes(data) });
    return name;
  }

  scalar(prefix: string, value: number): string {
    return this.weight(prefix, Float32Array.of(value), []);
  }

  /** Adds one node and returns its first output; `outputName` pins the name when it is a graph output. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputName?: string): string {
    const out = outputName ?? this.fresh(opType.toLowerCase());
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: [out],
        name: this.fresh(`n_${opType}`),
        attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
      }),
    );
    return out;
  }

  /** Adds one ONNX Runtime contrib-domain node (com.microsoft) and returns its first output. */
  contribOp(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    this.usesContrib = true;
    const out = this.fresh(opType.toLowerCase());
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain: CONTRIB_DOMAIN,
        input: inputs,
        output: [out],
        name: this.fresh(`n_${opType}`),
        attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
      }),
    );
    return out;
  }

  /** Renames a computed value to a graph output name through an Identity node. */
  expose(value: string, name: string, elem: ElemType, dims: Dim[]): void {
    this.op('Identity', [value], {}, name);
    this.output(name, elem, dims);
  }

  toBytes(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'edgerelay',
      producerVersion: '0.1.0',
      docString,
      opsetImport: [
        { domain: '', version: OPSET },
        ...(this.usesContrib ? [{ domain: CONTRIB_DOMAIN, version: 1 }] : []),
      ],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
