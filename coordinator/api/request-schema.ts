import { z } from 'zod';
import { FRAME_LIMITS } from '@edgerelay/proto';
import { parseExitPolicy, POLICY_FORMS } from '@edgerelay/device-agent';
import { tokenPruningProblem } from './token-pruning-param.js';
import type { TextInput } from '../tokenizer/index.js';

function validPolicy(spec: string): boolean {
  try {
    parseExitPolicy(spec);
    return true;
  } catch {
    return false;
  }
}

import { InvalidRequestError, UnsupportedMediaTypeError } from './http-errors.js';

/** Ceilings that keep one client from monopolising the cluster or the coordinator's memory. */
export interface ApiLimits {
  /** Largest accepted request body; bigger ones get 413 without being buffered. */
  maxBodyBytes: number;
  /** Most texts in one request. */
  maxBatchSize: number;
  /**
   * Longest accepted text, in Unicode code points (what Python's len() counts, so an emoji is one
   * character, not two UTF-16 units).
   */
  maxTextChars: number;
}

export const DEFAULT_API_LIMITS: Readonly<ApiLimits> = {
  maxBodyBytes: 1024 * 1024,
  maxBatchSize: 64,
  maxTextChars: 10_000,
};

/** A validated classify request, in the API's own terms rather than the wire's. */
export interface ClassifyRequest {
  /** Texts and sentence pairs, in request order. */
  texts: TextInput[];
  topK?: number;
  exitThreshold?: number;
  exitPolicy?: string;
  odeSteps?: number;
  /** parameters.token_pruning: a keep=… schedule, "calibrated" or "none" (checked against the model by the backend). */
  tokenPruning?: string;
  /** false when parameters.truncation forbids cutting over-long texts. */
  truncate: boolean;
  details: boolean;
}

/** Hugging Face's truncation strategies (transformers' TruncationStrategy), plus its boolean forms. */
const TRUNCATION_VALUES = ['do_not_truncate', 'longest_first', 'only_first', 'only_second'] as const;

/**
 * Whether a `parameters.truncation` value lets edgerelay cut a text. A single text has no second
 * sequence, so "only_second" has nothing it may cut: like transformers, the text is left whole
 * (and refused when it does not fit). Sentence pairs are cut longest-first only (checked in the schema).
 */
function allowsTruncation(value: boolean | (typeof TRUNCATION_VALUES)[number] | undefined): boolean {
  return value === undefined || value === true || value === 'longest_first' || value === 'only_first';
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * POST bodies must be declared JSON (charset, if given, UTF-8). Besides saying how the body is read,
 * this keeps browsers from sending a cross-origin "simple" POST: application/json needs a preflight.
 */
export function requireJsonContentType(header: string | undefined): void {
  const [type, ...params] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') throw new UnsupportedMediaTypeError(header);
  for (const param of params) {
    const [name, value = ''] = param.split('=', 2).map((x) => x.trim());
    if (name === 'charset' && value.replace(/^"|"$/g, '') !== 'utf-8') throw new UnsupportedMediaTypeError(header);
  }
}

const USAGE =
  'send {"inputs": "text"}, {"inputs": ["text", ...]}, or sentence pairs {"inputs": {"text": "...", "text_pair": "..."}} (or a list of them)';
const INPUT_FORMS = 'a string or {"text": "...", "text_pair": "..."}';

/**
 * The Hugging Face text-classification request, plus edgerelay's `exit_threshold` and `details`.
 * Messages are written to follow the issue path, e.g. `inputs[2]: must be a string`.
 */
export function classifyRequestSchema(limits: ApiLimits) {
  // Counted here rather than with z.string().max(), so the limit's unit is ours to state, not the library's.
  const text = z.string({ error: 'must be a string' }).superRefine((value, ctx) => {
    const chars = codePoints(value);
    if (chars > limits.maxTextChars)
      ctx.addIssue({
        code: 'custom',
        message: `text of ${chars} characters is over the ${limits.maxTextChars}-character limit`,
      });
  });
  // Hugging Face's sentence pair: {"text": …, "text_pair": …}; without text_pair it is a single text.
  const pair = z.strictObject(
    { text: text.optional(), text_pair: text.optional() },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown key(s) ${iss.keys.map((k) => `"${k}"`).join(', ')}; a sentence pair is {"text": "...", "text_pair": "..."}`
          : `must be ${INPUT_FORMS}`,
    },
  );
  // An object is read as a pair and anything else as a text, so a problem inside a pair is named by its key.
  const input = z.unknown().transform((value, ctx): TextInput => {
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    const parsed = (isObject ? pair : text).safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const message =
          issue.code === 'invalid_type' && issue.path.length === 0 ? `must be ${INPUT_FORMS}` : issue.message;
        ctx.addIssue({ code: 'custom', message, path: issue.path });
      }
      return z.NEVER;
    }
    const v = parsed.data;
    if (typeof v === 'string') return v;
    if (v.text === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `has no "text"; a sentence pair is {"text": "...", "text_pair": "..."}`,
      });
      return z.NEVER;
    }
    return v.text_pair === undefined ? v.text : { text: v.text, textPair: v.text_pair };
  });
  // A single string or pair is a batch of one; normalising first gives one set of checks and messages.
  const inputs = z.preprocess(
    (value) =>
      typeof value === 'string' || (typeof value === 'object' && value !== null && !Array.isArray(value))
        ? [value]
        : value,
    z
      .array(input, {
        error: (iss) =>
          iss.input === undefined ? `missing; ${USAGE}` : `must be ${INPUT_FORMS}, or a list of them; ${USAGE}`,
      })
      .min(1, { error: 'is an empty list; send at least one text' })
      .max(limits.maxBatchSize, {
        error: (iss) =>
          `has ${(iss.input as unknown[]).length} texts; at most ${limits.maxBatchSize} are allowed per request`,
      }),
  );
  // Strict: a misspelt exit_threshold silently ignored would be worse than a 400.
  const parameters = z.strictObject(
    {
      top_k: z
        .number({ error: 'must be a positive integer' })
        .int({ error: 'must be a positive integer' })
        .min(1, { error: 'must be a positive integer' })
        .optional(),
      function_to_apply: z
        .enum(['softmax', 'none', 'sigmoid'], { error: 'must be "softmax" or "none"' })
        .refine((f) => f !== 'sigmoid', {
          error: '"sigmoid" is not supported: edgerelay always returns softmax probabilities; use "softmax" or "none"',
        })
        .optional(),
      exit_threshold: z
        .number({ error: 'must be a number between 0 and 1' })
        .min(0, { error: 'must be between 0 and 1' })
        .max(1, { error: 'must be between 0 and 1' })
        .optional(),
      exit_policy: z
        .string({ error: `must be a string: ${POLICY_FORMS}` })
        .max(64)
        .refine((s) => validPolicy(s), { error: `must be one of ${POLICY_FORMS}` })
        .optional(),
      ode_steps: z
        .number({ error: 'must be a positive integer (ODE steps of a parameter-shared model)' })
        .int({ error: 'must be a positive integer (ODE steps of a parameter-shared model)' })
        .min(1, { error: 'must be a positive integer (ODE steps of a parameter-shared model)' })
        .max(FRAME_LIMITS.maxOdeSteps, { error: `must be at most ${FRAME_LIMITS.maxOdeSteps}` })
        .optional(),
      token_pruning: z
        .string({ error: 'must be a string: keep=R0,R1,… (one ratio per layer), "calibrated" or "none"' })
        .max(1024)
        .superRefine((s, ctx) => {
          const problem = tokenPruningProblem(s);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
      truncation: z
        .union([z.boolean(), z.enum(TRUNCATION_VALUES)], {
          error: `must be true, false or one of ${TRUNCATION_VALUES.map((v) => `"${v}"`).join(', ')}`,
        })
        .optional(),
      details: z.boolean({ error: 'must be true or false' }).optional(),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown parameter(s) ${iss.keys.map((k) => `"${k}"`).join(', ')}; accepted: top_k, function_to_apply, exit_threshold, exit_policy, ode_steps, token_pruning, truncation, details`
          : 'must be an object',
    },
  );
  return z.object(
    {
      inputs,
      parameters: parameters.optional(),
      // HF clients send {"options": {"wait_for_model": true, ...}}; nothing there applies to us.
      options: z.unknown().optional(),
    },
    { error: `the request body must be a JSON object; ${USAGE}` },
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`)).join('');
}

/**
 * Returns a parser from raw body to ClassifyRequest (the schema is built once per server);
 * every problem becomes an InvalidRequestError naming it.
 */
export function classifyRequestParser(limits: ApiLimits): (body: Buffer) => ClassifyRequest {
  const schema = classifyRequestSchema(limits);
  return (body) => parseClassifyRequest(body, schema);
}

function parseClassifyRequest(body: Buffer, schema: ReturnType<typeof classifyRequestSchema>): ClassifyRequest {
  if (body.length === 0) throw new InvalidRequestError(`the request body is empty; ${USAGE}`);
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidRequestError(`the request body is not valid JSON (${(err as Error).message}); ${USAGE}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = formatPath(issue.path);
    throw new InvalidRequestError(where ? `${where}: ${issue.message}` : issue.message);
  }
  const { inputs: texts, parameters = {} } = parsed.data;
  const truncation = parameters.truncation;
  if ((truncation === 'only_first' || truncation === 'only_second') && texts.some((t) => typeof t !== 'string')) {
    throw new InvalidRequestError(
      `parameters.truncation: "${truncation}" is not implemented for sentence pairs; pairs are cut "longest_first" (the default), or use "do_not_truncate"`,
    );
  }
  return {
    texts,
    ...(parameters.top_k !== undefined && { topK: parameters.top_k }),
    ...(parameters.exit_threshold !== undefined && { exitThreshold: parameters.exit_threshold }),
    ...(parameters.exit_policy !== undefined && { exitPolicy: parameters.exit_policy }),
    ...(parameters.ode_steps !== undefined && { odeSteps: parameters.ode_steps }),
    ...(parameters.token_pruning !== undefined && { tokenPruning: parameters.token_pruning }),
    truncate: allowsTruncation(parameters.truncation),
    details: parameters.details ?? false,
  };
}
