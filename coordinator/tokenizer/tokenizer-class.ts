/**
 * Which tokenizer a model directory asks for: `tokenizer_class` in tokenizer_config.json (else config.json).
 * A tokenizer.json serves any class; without one, edgerelay reads only a WordPiece vocab.txt. An ALBERT
 * checkpoint may ship a WordPiece vocab.txt with BertTokenizer (as the fixture does) or only a SentencePiece
 * model (AlbertTokenizer, spiece.model), which gets a clear refusal.
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

/**
 * For a directory without tokenizer.json: refuses a tokenizer_class that vocab.txt cannot describe (it is only
 * a WordPiece vocabulary), naming the class and what to do.
 */
export function checkTokenizerClass(modelDir: string): void {
  const declared = declaredTokenizerClass(modelDir);
  if (declared === undefined || WORDPIECE_CLASSES.includes(declared)) return;
  throw new TokenizerLoadError(
    `${modelDir} declares tokenizer_class "${declared}" but has no tokenizer.json; without one edgerelay reads ` +
      `only BERT WordPiece vocab.txt (${WORDPIECE_CLASSES.join(', ')}). Save the tokenizer as tokenizer.json ` +
      `(transformers: AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes it), or use a checkpoint ` +
      `with a WordPiece vocab.txt and tokenizer_class "BertTokenizer".`,
  );
}
