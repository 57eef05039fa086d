import * as ort from 'onnxruntime-node';
import type { HostTensor } from '@edgerelay/proto';

/** HostTensors as ONNX Runtime's feeds (no copy: the tensors wrap the same arrays). */
export function toOrtFeeds(inputs: Record<string, HostTensor>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  return feeds;
}

/**
 * A run's outputs as HostTensors. `copy`: each in an array of its own (the binding's output buffers cannot always
 * be handed to another thread); otherwise the binding's arrays themselves.
 */
export function fromOrtResults(results: ort.InferenceSession.ReturnType, copy = false): Record<string, HostTensor> {
  const outputs: Record<string, HostTensor> = {};
  for (const [name, tensor] of Object.entries(results)) {
    const dims = [...tensor.dims];
    if (tensor.type === 'int64') {
      const data = tensor.data as BigInt64Array;
      outputs[name] = { dtype: 'int64', dims, data: copy ? new BigInt64Array(data) : data };
    } else {
      const data = tensor.data as Float32Array;
      outputs[name] = { dtype: 'float32', dims, data: copy ? new Float32Array(data) : data };
    }
  }
  return outputs;
}
