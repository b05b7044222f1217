// CLIP's tokenizer without a model: 77-token rows, as clip.tokenize(texts, truncate=True).
import { existsSync } from 'node:fs';

import { vocabCandidates } from './clip.js';
import { PsicWeightsError, fromNative } from '../errors.js';
import { native } from '../native.js';

export const CLIP_CONTEXT_LENGTH = 77;

export function tokenizeTexts(texts: string[], vocab?: string, truncate = true): number[][] {
  const path = vocab ?? vocabCandidates().find((p) => existsSync(p));
  if (!path || !existsSync(path)) throw new PsicWeightsError(`CLIP's BPE vocabulary not found (looked in ${vocab ?? vocabCandidates().join(', ')})`);
  try {
    const flat = native().clipTokenize(path, texts, CLIP_CONTEXT_LENGTH, truncate);
    return texts.map((_, i) => Array.from(flat.subarray(i * CLIP_CONTEXT_LENGTH, (i + 1) * CLIP_CONTEXT_LENGTH)));
  } catch (err) {
    throw fromNative(err);
  }
}
