import path from 'node:path';
import { readSafetensors, writeSafetensors, type SafetensorsWriteTensor } from '../../coordinator/checkpoint/index.js';

/**
 * A random model's attention and classifier barely move its answers (weights of std 0.02): masking a head
 * changes the logits by ~1e-4. Scaling the attention, pooler and classifier weights up makes every head
 * matter, so comparisons at 1e-4 and accuracy constraints have something to bite on.
 */
export function amplifyAttention(dir: string, factor: number): void {
  const file = readSafetensors(path.join(dir, 'model.safetensors'));
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  for (const name of file.names()) {
    const data = Float32Array.from(file.float32(name));
    if (/(attention\.(self\.(query|key|value)|output\.dense)|pooler\.dense|classifier)\.weight$/.test(name))
      for (let i = 0; i < data.length; i++) data[i]! *= factor;
    tensors[name] = { shape: [...file.info(name).shape], data };
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype: 'F32' });
}
