import type { BertConfig, BertWeights, ClassifierHeadWeights } from '../checkpoint/types.js';
import { EdgeRelayError } from '@edgerelay/proto';
import {
  emitAdditiveMask,
  emitAttentionPartial,
  emitClassifierHead,
  emitClassifierHeadParts,
  emitEmbeddings,
  emitHaltingLogit,
  emitEncoderLayer,
  emitFfnPartial,
  emitResidualCombine,
} from './bert-emitters.js';
import { GraphBuilder, type Dim } from './graph-builder.js';
import { sharedGraphName, slotLayers } from './shared-layers.js';
import { emitNoHeads, layerHeadCount, localHeads } from './pruned-emitters.js';
import { emitKeysValues, emitPositionLayer, keysValuesWidth, type Layout } from './position-emitters.js';
import { describeShard, IO, type ShardSpec } from '@edgerelay/proto';

export class ShardSpecError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_SHARD_SPEC';
}

export interface CompilableModel {
  config: BertConfig;
  weights: BertWeights;
}

const HIDDEN: Dim[] = ['batch', 'seq', 'hidden'];
const TOKENS: Dim[] = ['batch', 'seq'];

/** Compiles one shard of the model into ONNX model bytes. */
/** How a shard is built besides its spec. */
export interface CompileOptions {
  /** Position shards' layout of their linear layers; by default feature-major for float32 weights (benchmarks compare). */
  positionLayout?: Layout;
}

export function compileShard(model: CompilableModel, spec: ShardSpec, options: CompileOptions = {}): Uint8Array {
  validateSpec(model, spec);
  const { config, weights } = model;
  const shared = sharedGraphName(config, spec);
  const name = shared ?? describeShard(spec);
  const g = new GraphBuilder(name);
  // Parameter-shared models take the ODE step size as an input, so one shard serves every step count.
  const stepInput = () => (config.albert ? g.input(IO.stepSize, 'float32', [1]) : undefined);
  const hiddenDims: Dim[] = ['batch', 'seq', config.hiddenSize];
  const tokenInput = (name: string) => g.input(name, 'int64', TOKENS);
  const hiddenInput = (name: string) => g.input(name, 'float32', hiddenDims);
  const head = (layer: number) => weights.heads[layer] as ClassifierHeadWeights;

  switch (spec.kind) {
    case 'embeddings': {
      const ids = tokenInput(IO.inputIds);
      const types = tokenInput(IO.tokenTypeIds);
      g.expose(emitEmbeddings(g, weights.embeddings, config, ids, types), IO.hiddenOut, 'float32', hiddenDims);
      break;
    }
    case 'layers': {
      let hidden = hiddenInput(IO.hidden);
      const mask = emitAdditiveMask(g, tokenInput(IO.attentionMask));
      const step = stepInput();
      for (let layer = spec.start; layer < spec.end; layer++) {
        let received: string | undefined;
        for (const w of slotLayers(weights, layer)) {
          const out = emitEncoderLayer(g, w, config, hidden, mask, !!spec.attentionReceived, step);
          hidden = out.hidden;
          received = out.received;
        }
        // With several inner layers (ALBERT inner_group_num > 1) the slot reports its last layer's attention.
        // A shared model's one-slot shard names its scores without the slot, so every slot's bytes are identical.
        const receivedName = shared ? IO.attentionReceived : IO.attentionReceivedAt(layer);
        if (received) g.expose(received, receivedName, 'float32', TOKENS);
        if (spec.exitLogits && weights.heads[layer]) {
          const logits = emitClassifierHead(g, head(layer), config, hidden);
          g.expose(logits, IO.exitLogits(layer), 'float32', ['batch', config.numLabels]);
        }
      }
      g.expose(hidden, IO.hiddenOut, 'float32', hiddenDims);
      break;
    }
    case 'attention-partial': {
      const hidden = hiddenInput(IO.hidden);
      const mask = emitAdditiveMask(g, tokenInput(IO.attentionMask));
      const w = weights.layers[spec.layer]!;
      // spec.heads are original head indices; in a pruned layer the removed ones compute nothing.
      const heads = localHeads(config, spec.layer, spec.heads);
      const out = heads.length
        ? emitAttentionPartial(g, w, config, hidden, mask, heads, !!spec.attentionReceived)
        : emitNoHeads(g, hidden, !!spec.attentionReceived);
      g.expose(out.partial, IO.partial, 'float32', hiddenDims);
      if (out.received) g.expose(out.received, IO.attentionReceived, 'float32', TOKENS);
      break;
    }
    case 'ffn-partial': {
      const x = hiddenInput(IO.hidden);
      g.expose(
        emitFfnPartial(g, weights.layers[spec.layer]!, config, x, spec.columns),
        IO.partial,
        'float32',
        hiddenDims,
      );
      break;
    }
    case 'attention-combine':
    case 'ffn-combine': {
      const residual = hiddenInput(IO.hidden);
      const partialSum = hiddenInput(IO.partialSum);
      const step = stepInput();
      const w = weights.layers[spec.layer]!;
      const [bias, norm] =
        spec.kind === 'attention-combine'
          ? [w.attentionOutput.bias, w.attentionLayerNorm]
          : [w.output.bias, w.outputLayerNorm];
      const out = emitResidualCombine(g, residual, partialSum, bias, norm, config.layerNormEps, step);
      g.expose(out, IO.hiddenOut, 'float32', hiddenDims);
      break;
    }
    case 'keys-values': {
      const w = weights.layers[spec.layer]!;
      const kv = emitKeysValues(g, w, config, hiddenInput(IO.hidden), options.positionLayout);
      g.expose(kv, IO.keysValues, 'float32', ['batch', 'seq', keysValuesWidth(w, config)]);
      break;
    }
    case 'position-layer': {
      const w = weights.layers[spec.layer]!;
      const hidden = hiddenInput(IO.hidden);
      const keysValues = g.input(IO.keysValues, 'float32', ['batch', 'keys', keysValuesWidth(w, config)]);
      const additiveMask = emitAdditiveMask(g, g.input(IO.attentionMask, 'int64', ['batch', 'keys']));
      const queryOffset = g.input(IO.queryOffset, 'int64', [1]);
      const out = emitPositionLayer(
        g,
        w,
        config,
        { hidden, keysValues, additiveMask, queryOffset },
        options.positionLayout,
      );
      g.expose(out.hidden, IO.hiddenOut, 'float32', hiddenDims);
      g.expose(out.received, IO.attentionReceived, 'float32', ['batch', 'keys']);
      break;
    }
    case 'head': {
      const hidden = hiddenInput(IO.hidden);
      const parts = emitClassifierHeadParts(g, head(spec.layer), config, hidden);
      g.expose(parts.logits, IO.logits, 'float32', ['batch', config.numLabels]);
      // The exit's DACT halting unit runs in the same shard, on the agent that holds the exit: its input,
      // the pooled vector, never has to travel.
      const unit = weights.halting?.[spec.layer];
      if (unit) g.expose(emitHaltingLogit(g, unit, config, parts.pooled), IO.haltingLogit, 'float32', ['batch', 1]);
      break;
    }
    case 'monolithic': {
      const ids = tokenInput(IO.inputIds);
      const types = tokenInput(IO.tokenTypeIds);
      const mask = emitAdditiveMask(g, tokenInput(IO.attentionMask));
      let hidden = emitEmbeddings(g, weights.embeddings, config, ids, types);
      const last = config.numLayers - 1;
      for (let layer = 0; layer <= last; layer++) {
        for (const w of slotLayers(weights, layer)) hidden = emitEncoderLayer(g, w, config, hidden, mask, false).hidden;
        if (spec.exitLogits && layer < last && weights.heads[layer]) {
          g.expose(emitClassifierHead(g, head(layer), config, hidden), IO.exitLogits(layer), 'float32', [
            'batch',
            config.numLabels,
          ]);
        }
      }
      if (weights.heads[last]) {
        g.expose(emitClassifierHead(g, head(last), config, hidden), IO.logits, 'float32', ['batch', config.numLabels]);
      } else {
        g.expose(hidden, IO.hiddenOut, 'float32', HIDDEN);
      }
      break;
    }
  }
  return g.toBytes(`edgerelay shard: ${name}`);
}

/** A group (HALP) shard splits one encoder layer; an ALBERT slot with several inner layers is not one. */
function checkSingleInnerLayer(config: BertConfig, fail: (why: string) => never): void {
  const inner = config.albert?.innerGroupNum ?? 1;
  if (inner > 1) {
    fail(
      `this ALBERT has inner_group_num ${inner}, and HALP groups split only models with one layer per ` +
        `group application; plan it as pipeline stages only`,
    );
  }
}

function validateSpec(model: CompilableModel, spec: ShardSpec): void {
  const { numLayers, numHeads, intermediateSize } = model.config;
  const fail = (why: string): never => {
    throw new ShardSpecError(`Cannot compile shard "${describeShard(spec)}": ${why}.`);
  };
  const checkLayer = (layer: number) => {
    if (!Number.isInteger(layer) || layer < 0 || layer >= numLayers)
      fail(`layer ${layer} is outside 0..${numLayers - 1}`);
  };
  const checkIndices = (indices: number[], limit: number, what: string) => {
    if (indices.length === 0) fail(`it needs at least one ${what}`);
    if (new Set(indices).size !== indices.length) fail(`a ${what} is listed twice`);
    for (const i of indices)
      if (!Number.isInteger(i) || i < 0 || i >= limit) fail(`${what} ${i} is outside 0..${limit - 1}`);
  };
  switch (spec.kind) {
    case 'layers':
      if (!(spec.start < spec.end)) fail('the layer range is empty');
      checkLayer(spec.start);
      checkLayer(spec.end - 1);
      return;
    case 'attention-partial':
      checkLayer(spec.layer);
      checkSingleInnerLayer(model.config, fail);
      return checkIndices(spec.heads, numHeads, 'head');
    case 'ffn-partial':
      checkLayer(spec.layer);
      checkSingleInnerLayer(model.config, fail);
      return checkIndices(spec.columns, intermediateSize, 'FFN column');
    case 'attention-combine':
    case 'ffn-combine':
      checkSingleInnerLayer(model.config, fail);
      return checkLayer(spec.layer);
    case 'keys-values':
    case 'position-layer':
      checkLayer(spec.layer);
      // A shared (ALBERT) layer would need its step size and slot naming here; such models plan other forms.
      if (model.config.albert)
        fail('position-parallel groups run models with their own weights per layer; plan this ALBERT in another form');
      if (layerHeadCount(model.weights.layers[spec.layer]!, model.config) === 0)
        fail('every head of this layer is pruned, so it has no keys or values; plan it in another form');
      return;
    case 'head':
      checkLayer(spec.layer);
      if (!model.weights.heads[spec.layer]) fail(`the checkpoint has no classifier head after layer ${spec.layer}`);
      return;
    default:
      return;
  }
}
