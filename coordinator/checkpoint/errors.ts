import { EdgeRelayError } from '@edgerelay/proto';

export interface CheckpointErrorContext {
  /** The file (or directory) the problem was found in. */
  file: string;
  /** The tensor concerned, when there is one. */
  tensor?: string;
}

/** Base of every checkpoint loading/writing error; carries the file and tensor so callers can report them. */
export class CheckpointError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CHECKPOINT';
  readonly file: string;
  readonly tensor?: string;
  constructor(message: string, context: CheckpointErrorContext) {
    super(message);
    this.file = context.file;
    if (context.tensor !== undefined) this.tensor = context.tensor;
  }
}

/** The safetensors container itself is malformed (header, offsets, sizes, truncation). */
export class SafetensorsFormatError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_SAFETENSORS_FORMAT';
}

/** A tensor uses a dtype we cannot read (or cannot convert to float32 where float32 is needed). */
export class UnsupportedDtypeError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_UNSUPPORTED_DTYPE';
  readonly dtype: string;
  constructor(message: string, context: CheckpointErrorContext & { dtype: string }) {
    super(message, context);
    this.dtype = context.dtype;
  }
}

/** A tensor the model needs is not in the weights file. */
export class MissingTensorError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_MISSING_TENSOR';
}

/** A tensor's shape does not match what config.json implies. */
export class TensorShapeError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_TENSOR_SHAPE';
  readonly expected: number[];
  readonly actual: number[];
  constructor(message: string, context: CheckpointErrorContext & { expected: number[]; actual: number[] }) {
    super(message, context);
    this.expected = context.expected;
    this.actual = context.actual;
  }
}

/** config.json describes a model family or variant edgerelay cannot run. */
export class UnsupportedArchitectureError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_UNSUPPORTED_ARCHITECTURE';
}

/** config.json is not valid JSON, or a field has an invalid value. */
export class InvalidConfigError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_INVALID_CONFIG';
}

/** The checkpoint directory, or a file it must contain, does not exist. */
export class CheckpointNotFoundError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_CHECKPOINT_NOT_FOUND';
}
