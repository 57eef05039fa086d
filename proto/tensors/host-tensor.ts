/** A tensor as it travels between shards and over the wire: plain typed array + dims. */
export type HostTensor =
  { dtype: 'float32'; dims: number[]; data: Float32Array } | { dtype: 'int64'; dims: number[]; data: BigInt64Array };

export function float32Tensor(data: Float32Array, dims: number[]): HostTensor {
  return { dtype: 'float32', dims, data };
}

export function int64Tensor(data: BigInt64Array, dims: number[]): HostTensor {
  return { dtype: 'int64', dims, data };
}

export function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Element-wise sum of same-shaped float32 tensors: how a group host adds its members' partial sums. */
export function sumFloat32(tensors: HostTensor[]): HostTensor {
  const first = tensors[0];
  if (!first || first.dtype !== 'float32') throw new TypeError('sumFloat32 needs at least one float32 tensor');
  const out = new Float32Array(first.data);
  for (const t of tensors.slice(1)) {
    if (t.dtype !== 'float32' || t.data.length !== out.length) throw new TypeError('partial sums differ in shape');
    for (let i = 0; i < out.length; i++) out[i]! += t.data[i]!;
  }
  return { dtype: 'float32', dims: [...first.dims], data: out };
}
