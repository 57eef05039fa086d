/**
 * Which tokenizer a model directory asks for: `tokenizer_class` in tokenizer_config.json (else config.json).
 * edgerelay implements BERT's WordPiece; an ALBERT checkpoint may ship either a WordPiece vocab.txt with
 * BertTokenizer (as the fixture does) or SentencePiece (AlbertTokenizer), which gets a clear refusal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoadError } from './files.js';

const WORDPIECE_CLASSES = [
  'BertTokenizer',
  'BertTokenizerFast',
  'DistilBertTokenizer',
  'DistilBertTokenizerFast',
  'ElectraTokenizer', // ELECTRA's tokenizer is BERT's WordPiece under another name
  'ElectraTokenizerFast',
];

function classIn(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { tokenizer_class?: unknown };
    return typeof json.tokenizer_class === 'string' ? json.tokenizer_class : undefined;
  } catch {
    return undefined; // a broken file is reported by whoever reads it for its contents
  }
}

/** The declared tokenizer class, or undefined when neither file names one (then WordPiece is assumed). */
export function declaredTokenizerClass(modelDir: string): string | undefined {
  return classIn(join(modelDir, 'tokenizer_config.json')) ?? classIn(join(modelDir, 'config.json'));
}

/** Refuses a directory whose tokenizer_class is not WordPiece, naming the class and what to do. */
export function checkTokenizerClass(modelDir: string): void {
  const declared = declaredTokenizerClass(modelDir);
  if (declared === undefined || WORDPIECE_CLASSES.includes(declared)) return;
  throw new TokenizerLoadError(
    `${modelDir} declares tokenizer_class "${declared}", but edgerelay implements only BERT WordPiece ` +
      `(${WORDPIECE_CLASSES.join(', ')}). SentencePiece tokenizers (AlbertTokenizer, XLNetTokenizer, ...) are not ` +
      `supported: use a checkpoint with a WordPiece vocab.txt and tokenizer_class "BertTokenizer".`,
  );
}
