import type { FrameOf } from '@edgerelay/proto';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import { fromWire, int64Tensor, type HostTensor } from '../runtime/index.js';

/**
 * The token_type_ids the embeddings shard of stage 0 takes: the frame's (a sentence pair's segments, 0 for the
 * first text and 1 for the second) or, when the coordinator sent none, all 0 as for a single text.
 */
export function stageTokenTypes(frame: FrameOf<'stage-input'>, ids: HostTensor): HostTensor {
  if (!frame.tokenTypeIds) return int64Tensor(new BigInt64Array(ids.data.length), ids.dims);
  const types = fromWire(frame.tokenTypeIds);
  if (types.dtype !== 'int64' || types.dims.join(',') !== ids.dims.join(',')) {
    throw new StepRefusedError(
      STEP_REFUSED_CODES.missingInput,
      `token type ids must be int64 shaped like the token ids [${ids.dims.join(', ')}], got ${types.dtype} [${types.dims.join(', ')}]`,
    );
  }
  return types;
}
