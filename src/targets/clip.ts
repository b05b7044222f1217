// CLIP: image and text towers, tokenizer and preprocessing, for the models users bring (OpenAI's
// released .pt, state_dict .pt, safetensors with OpenAI or Hugging Face names).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { cacheDir } from '../io/assets.js';
import { PsicInputError, PsicWeightsError, fromNative, nativeCall } from '../errors.js';
import { type ImageInput, readImage } from '../io/image-io.js';
import { type NativeClip, type NativeClipInfo, native } from '../native.js';

export const BPE_VOCAB_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/** Rows of feature vectors, row-major. */
export interface Features {
  data: Float32Array;
  shape: [number, number];
}

/** A preprocessed image batch: float32 NCHW, normalized with CLIP's mean/std. */
export interface ImageTensor {
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface ClipLoadOptions {
  /** The BPE vocabulary; default: $PSIC_ASSETS/, ~/.cache/psic (PSIC_HOME)/, or the shared assets. */
  vocab?: string;
}

/** Where the BPE vocabulary is looked for, in order. */
export function vocabCandidates(): string[] {
  const home = cacheDir();
  const shared = resolve(process.env.PSIC_SHARED ?? join(process.cwd(), '..', 'shared'));
  return [
    ...(process.env.PSIC_ASSETS ? [join(process.env.PSIC_ASSETS, BPE_VOCAB_FILE)] : []),
    join(home, BPE_VOCAB_FILE),
    join(shared, 'assets', 'clip', BPE_VOCAB_FILE),
  ];
}

function resolveVocab(explicit?: string): string {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw new PsicWeightsError(`CLIP vocabulary '${explicit}' not found`);
    return explicit;
  }
  const found = vocabCandidates().find((p) => existsSync(p));
  if (!found) {
    throw new PsicWeightsError(`CLIP's BPE vocabulary (${BPE_VOCAB_FILE}) not found; looked in ${vocabCandidates().join(', ')}. Run 'psic assets fetch clip-bpe', set PSIC_ASSETS, or pass a vocab path.`);
  }
  return found;
}

function isImageTensor(x: unknown): x is ImageTensor {
  return typeof x === 'object' && x !== null && (x as ImageTensor).data instanceof Float32Array && Array.isArray((x as ImageTensor).shape);
}

function normalizeRows(f: Features): Float32Array {
  const [rows, cols] = f.shape;
  const out = new Float32Array(f.data.length);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let c = 0; c < cols; c++) norm += f.data[r * cols + c] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let c = 0; c < cols; c++) out[r * cols + c] = f.data[r * cols + c] / norm;
  }
  return out;
}

export class Clip {
  private constructor(
    private readonly model: NativeClip,
    readonly info: NativeClipInfo,
    private readonly vocab: string,
  ) {}

  /** @internal The addon object (for CLIP as a TargetModel). */
  get nativeModel(): NativeClip { return this.model; }

  /** Loads CLIP weights; every dimension is read from them (ViT-B/32, B/16, L/14...). */
  static async load(path: string, options: ClipLoadOptions = {}): Promise<Clip> {
    if (typeof path !== 'string' || path.length === 0) throw new PsicInputError('CLIP model path must be a non-empty string');
    if (!existsSync(path)) throw new PsicWeightsError(`CLIP model file '${path}' not found`);
    const vocab = resolveVocab(options.vocab);
    const model = await nativeCall(() => native().loadClip(path));
    return new Clip(model, model.info(), vocab);
  }

  /** clip.tokenize(texts, truncate): one row of contextLength ids per text. */
  tokenize(texts: string[], options: { truncate?: boolean } = {}): Int32Array[] {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new PsicInputError('texts must be an array of strings');
    const L = this.info.contextLength;
    let flat: Int32Array;
    try {
      flat = native().clipTokenize(this.vocab, texts, L, options.truncate ?? true);
    } catch (err) {
      throw fromNative(err);
    }
    return texts.map((_, i) => flat.subarray(i * L, (i + 1) * L));
  }

  /** OpenAI's preprocessing of image files/buffers/pixels: [N, 3, R, R]. */
  async preprocess(images: ImageInput[]): Promise<ImageTensor> {
    const R = this.info.imageResolution;
    const pixels = await Promise.all(images.map(async (input) => {
      const rgb = await readImage(input);
      return { rgb: rgb.data, width: rgb.width, height: rgb.height };
    }));
    const data = await nativeCall(() => native().clipPreprocess(pixels, R));
    return { data, shape: [images.length, 3, R, R] };
  }

  /** Image features (unnormalized, like encode_image), from images or an already preprocessed tensor. */
  async encodeImage(images: ImageInput[] | ImageTensor): Promise<Features> {
    const tensor = isImageTensor(images) ? images : await this.preprocess(images);
    return nativeCall(() => this.model.encodeImage(tensor.data, tensor.shape));
  }

  /** Text features (unnormalized, like encode_text). */
  async encodeText(texts: string[]): Promise<Features> {
    const rows = this.tokenize(texts);
    const L = this.info.contextLength;
    const ids = new Int32Array(rows.length * L);
    rows.forEach((r, i) => ids.set(r, i * L));
    return nativeCall(() => this.model.encodeText(ids, [rows.length, L]));
  }

  /** logits_per_image [images × texts] = exp(logit_scale) · cosine similarity. */
  similarity(imageFeatures: Features, textFeatures: Features): Float32Array[] {
    if (imageFeatures.shape[1] !== textFeatures.shape[1]) throw new PsicInputError('feature sizes differ');
    const a = normalizeRows(imageFeatures);
    const b = normalizeRows(textFeatures);
    const [n, d] = imageFeatures.shape;
    const m = textFeatures.shape[0];
    const scale = Math.exp(this.info.logitScale);
    return Array.from({ length: n }, (_, i) => {
      const row = new Float32Array(m);
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
        row[j] = scale * s;
      }
      return row;
    });
  }

  /**
   * Zero-shot classification, CLIP's recipe: each class embedding is the normalized mean of its
   * normalized template embeddings ('{}' is replaced by the class name). Returns, per image,
   * the class probabilities (softmax of the logits) and the best class.
   */
  async zeroShot(images: ImageInput[] | ImageTensor, classNames: string[], templates: string[] = ['a photo of a {}.']) {
    if (classNames.length === 0) throw new PsicInputError('classNames must not be empty');
    if (templates.length === 0 || templates.some((t) => !t.includes('{}'))) throw new PsicInputError("each template must contain '{}'");
    const d = this.info.embedDim;
    // Every class's templates in one text forward.
    const n = normalizeRows(await this.encodeText(classNames.flatMap((name) => templates.map((t) => t.replaceAll('{}', name)))));
    const classData = new Float32Array(classNames.length * d);
    for (let c = 0; c < classNames.length; c++) {
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let r = 0; r < templates.length; r++) s += n[(c * templates.length + r) * d + k];
        classData[c * d + k] = s / templates.length;
      }
    }
    const logits = this.similarity(await this.encodeImage(images), { data: classData, shape: [classNames.length, d] });
    return logits.map((row) => {
      const max = Math.max(...row);
      const exps = Array.from(row, (v) => Math.exp(v - max));
      const total = exps.reduce((a, b) => a + b, 0);
      const probs = exps.map((e) => e / total);
      const best = probs.indexOf(Math.max(...probs));
      return { label: classNames[best], index: best, probs };
    });
  }
}
