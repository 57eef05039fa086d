/**
 * Device speed for an int8 model (docs/int8.md). Its linear layers run on ONNX Runtime's int8 kernel, measured
 * by the agent as `int8Gflops`; attention, softmax, LayerNorm and GELU stay float32 at `gflops`. A device's speed
 * for the model is the two blended by the share of a layer's FLOPs each runs (the time per FLOP adds up), so the
 * rest of the cost model keeps one figure per device. A device without an int8 figure is planned at float speed.
 */
import type { ClusterDevice, ClusterModel } from './cluster-model.js';
import { layerPartFlops, type Dims, type PlannerModel } from './cost-model.js';

/** Share of a whole layer's FLOPs in its Q, K, V, output and FFN matmuls. */
export function linearFlopShare(dm: Dims): number {
  const { S, H, F } = dm;
  const p = layerPartFlops(dm, dm.A, F);
  const linear = 2 * S * H * 3 * H + 2 * S * H * H + 2 * 2 * S * H * F;
  return linear / (p.qkv + p.attention + p.outProjection + p.ffn);
}

/** GFLOP/s a device delivers on an int8 model's layers. */
export function int8DeviceGflops(device: ClusterDevice, dm: Dims): number {
  if (!(device.int8Gflops && device.int8Gflops > 0)) return device.gflops;
  const share = linearFlopShare(dm);
  return 1 / (share / device.int8Gflops + (1 - share) / device.gflops);
}

/**
 * Bytes of an int8 model's layer and exit-head shards per float32 byte: int8 weights, a float32 scale per output
 * channel, float32 biases and LayerNorm. Measured 3.84-3.97x smaller across shard kinds (docs/int8.md).
 * Embeddings stay float32.
 */
export const INT8_WEIGHT_BYTES_SCALE = 0.26;

/** What the cost model's float32 weight bytes of layers and exit heads become for `model`. */
export function linearWeightBytes(model: PlannerModel, float32Bytes: number): number {
  return model.weightDtype === 'int8' ? float32Bytes * INT8_WEIGHT_BYTES_SCALE : float32Bytes;
}

/** The cluster as the cost model should see it for `model`: unchanged unless its weights are int8. */
export function clusterForWeights(model: PlannerModel, cluster: ClusterModel, dm: Dims): ClusterModel {
  if (model.weightDtype !== 'int8') return cluster;
  return { ...cluster, devices: cluster.devices.map((d) => ({ ...d, gflops: int8DeviceGflops(d, dm) })) };
}
