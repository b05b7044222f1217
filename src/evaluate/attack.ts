// `psic eval attack`: how well a PSIC model's protected decode misleads the target models on
// held-out labelled images, next to the plain backbone at the same λ, with:
// - robustness: ASR after the platform re-encodings a shared photo goes through;
// - the per-image alternative: L∞ PGD cloaking of the original, then the plain backbone;
// - the key-search adversary: gradient descent on the condition vector, without the key.
// ASR is the paper's: the share of samples a target gets right on the backbone decode and wrong
// on the decode under test ("right" = against the labels where they exist, else against the
// target's reading of the original image; see evaluate-target.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import sharp from 'sharp';

import { type AttackTargets, cloak, keySearch } from './attacks.js';
import { Clip } from '../targets/clip.js';
import { Codec } from '../codec/codec.js';
import { decodeBaseline, encodeBaseline } from './baselines.js';
import { wrongKey } from './rd.js';
import { PsicInputError } from '../errors.js';
import { headReport, listImages, readLabels, type ImageLabels } from './target.js';
import { type RgbImage, readImage } from '../io/image-io.js';
import { type Key } from '../keys.js';
import { bpp, psnr } from './metrics.js';
import { ATTACK_DECODES } from './decodes.js';
import { Progress } from '../io/progress.js';
import { MAX_ANNOTATION_FILE_BYTES, readRegularFileSync } from '../io/read-file.js';
import { TargetModel, type TargetPrediction } from '../targets/target-model.js';

/** The targets a face set and a scene set are evaluated on by default. */
export const FACE_TARGETS = ['human:gear', 'human:emotion', 'human:mobileface'];
export const SCENE_TARGETS = ['human:centernet'];

/** Re-encodings a sharing platform applies to an upload. */
export const REENCODINGS = ['jpeg-q95', 'jpeg-q85', 'jpeg-q75', 'webp-q80', 'half-jpeg-q85'] as const;
export type Reencoding = (typeof REENCODINGS)[number];

export interface AttackEvalOptions {
  /** The PSIC model file. */
  model: string;
  /** The owner's key (full decode). */
  key: Key;
  /** The plain backbone at the same λ (a CompressAI checkpoint or psic model). */
  backbone: string;
  /** A face set: a folder with images/ and labels.csv (celeba-mini's layout). null: none. */
  faces?: string | null;
  /** A scene set: a folder with images/ and annotations.json (coco-mini's layout). null: none. */
  scenes?: string | null;
  /** Targets for the face set (default FACE_TARGETS). */
  faceTargets?: string[];
  /** Targets for the scene set (default SCENE_TARGETS; add 'clip:PATH' for CLIP retrieval and zero-shot). */
  sceneTargets?: string[];
  /** Images per set (first in name order). */
  limit?: number;
  /** Re-encodings to measure (default all of REENCODINGS; [] for none). */
  reencodings?: readonly Reencoding[];
  /** Per-image PGD baseline (default on, first 16 images per target); false: skip. */
  pgd?: false | { epsilon?: number; steps?: number; limit?: number };
  /** Key search (default on: 500 steps, 3 restarts, 2 face images); false: skip. */
  keySearch?: false | { steps?: number; restarts?: number; images?: number; lr?: number };
  /** Wrong keys decoded per image (cycled over the images; default 3). */
  wrongKeys?: number;
  /**
   * Sealed files (default on): every image is also compressed sealed, and its public decode
   * ('sealed') and the key search on sealed files ('sealed-key-search-*') are evaluated like the
   * other decodes. false: skip.
   */
  sealed?: boolean;
  progress?: boolean;
}

export interface SetQuality {
  /** Mean PSNR (dB, RGB uint8) against the originals. */
  psnr: number;
  /** Mean bits per pixel of the bitstream it was decoded from (where there is one). */
  bpp?: number;
}

export interface HeadAttackReport {
  head: string;
  kind: string;
  reference: string;
  samples: number;
  /** Accuracy per decode (against the reference). */
  accuracy: Record<string, number>;
  /** ASR of each decode, against the backbone decode. */
  asr: Record<string, number>;
}

export interface TargetAttackReport {
  target: string;
  dataset: string;
  n: number;
  heads: HeadAttackReport[];
  /** Means over heads. */
  accuracy: Record<string, number>;
  asr: Record<string, number>;
  /** Per re-encoding: ASR of the re-encoded protected decode against the re-encoded backbone decode, and its drop from the plain ASR. */
  robustness: { reencoding: Reencoding; asr: number; drop: number }[];
  pgd?: PgdReport;
  clip?: ClipReport;
}

export interface PgdReport {
  n: number;
  epsilon: number;
  steps: number;
  /** ASR of PGD-then-backbone and of PSIC protected on the same images. */
  asr: number;
  psicAsr: number;
  /** PSNR of the PGD image after backbone compression, and of PSIC's protected decode, same images. */
  psnr: number;
  psicPsnr: number;
  /** Seconds per image: PGD (+ backbone compress and decode), PSIC (compress + protected decode). */
  secondsPerImage: number;
  psicSecondsPerImage: number;
  /** secondsPerImage / psicSecondsPerImage, measured in the same run. */
  timeRatio: number;
}

export interface ClipReport {
  /** Per decode: image→text and text→image R@1 over the set's captions, and zero-shot accuracy on the largest box's class. */
  imageToText: Record<string, number>;
  textToImage: Record<string, number>;
  zeroShot: Record<string, number>;
}

export interface KeySearchReport {
  objective: 'pixels' | 'target';
  /** Searched on sealed files (only their public latent to decode). */
  sealed: boolean;
  images: number;
  steps: number;
  restarts: number;
  /** The search's final loss, and its start (mean over restarts of the first loss). */
  loss: number;
  startLoss: number;
  /** Face-set PSNR of the found condition's decode, next to protected and full. */
  psnr: number;
  seconds: number;
}

export interface AttackEvalReport {
  model: string;
  backbone: string;
  datasets: Record<string, { dir: string; n: number }>;
  quality: Record<string, Record<string, SetQuality>>;
  targets: TargetAttackReport[];
  keySearch: KeySearchReport[];
}

interface EvalSet {
  name: 'faces' | 'scenes';
  dir: string;
  stems: string[];
  /** Image file by stem. */
  files: Map<string, string>;
  originals: RgbImage[];
  /** The PSIC bitstreams of the originals. */
  containers: Uint8Array[];
  /** The same images compressed sealed (options.sealed). */
  sealedContainers: Uint8Array[];
  labels?: Map<string, ImageLabels>;
  captions?: string[][];
  /** Decoded (and re-encoded, attacked) versions by set name, same order as stems. */
  decodes: Map<string, RgbImage[]>;
  quality: Record<string, SetQuality>;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const raw = (img: RgbImage) => ({ ...img, channels: 3 as const });

/** One re-encoding of an image, with the baselines' encoder settings, decoded back to RGB. */
export async function reencode(img: RgbImage, how: Reencoding): Promise<RgbImage> {
  let input = img;
  if (how === 'half-jpeg-q85') {
    const w = Math.max(1, Math.round(img.width / 2)), h = Math.max(1, Math.round(img.height / 2));
    const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(w, h).raw().toBuffer();
    input = { data, width: w, height: h };
  }
  const [codec, quality] = how === 'webp-q80' ? ['webp', 80] as const : ['jpeg', Number(/q(\d+)$/.exec(how)![1])] as const;
  return decodeBaseline(await encodeBaseline(codec, input, quality));
}

function loadSet(name: EvalSet['name'], dir: string, limit: number | undefined): EvalSet {
  const images = listImages(join(dir, 'images'));
  let stems = [...images.keys()];
  if (limit !== undefined) stems = stems.slice(0, limit);
  if (stems.length === 0) throw new PsicInputError(`no images in '${join(dir, 'images')}'`);
  const csv = join(dir, 'labels.csv'), json = join(dir, 'annotations.json');
  const labelsPath = existsSync(csv) ? csv : existsSync(json) ? json : undefined;
  let captions: string[][] | undefined;
  if (labelsPath === json) {
    const byStem = new Map<string, string[]>();
    for (const im of JSON.parse(readRegularFileSync(json, { maxBytes: MAX_ANNOTATION_FILE_BYTES, what: 'annotations' }).toString('utf8')).images ?? []) {
      if (Array.isArray(im.captions)) byStem.set(String(im.file).replace(/^.*\//, '').replace(/\.[^.]+$/, ''), im.captions.map(String));
    }
    if (stems.every((s) => byStem.get(s)?.length)) captions = stems.map((s) => byStem.get(s)!);
  }
  return { name, dir, stems, files: images, originals: [], containers: [], sealedContainers: [], labels: labelsPath ? readLabels(labelsPath) : undefined, captions, decodes: new Map(), quality: {} };
}

function validate(options: AttackEvalOptions): void {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  for (const k of ['model', 'backbone'] as const) {
    if (typeof options[k] !== 'string' || !options[k]) throw new PsicInputError(`${k} must be a model file path`);
  }
  if (options.key === undefined) throw new PsicInputError("the owner's key is needed for the full decode");
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit > 0)) throw new PsicInputError('limit must be a positive integer');
  for (const r of options.reencodings ?? []) if (!REENCODINGS.includes(r)) throw new PsicInputError(`unknown re-encoding '${r}': use ${REENCODINGS.join(', ')}`);
  if (!options.faces && !options.scenes) throw new PsicInputError('give a face set, a scene set or both');
}

export async function evaluateAttack(options: AttackEvalOptions): Promise<AttackEvalReport> {
  validate(options);
  const model = await Codec.load(options.model);
  const backbone = await Codec.load(options.backbone);
  if (model.conditionDim === 0) throw new PsicInputError(`'${options.model}' has a single decode: evaluate a PSIC model`);
  const key = options.key;
  model.conditionFor(key);  // a bad key fails here, before any work
  const wrongKeys = Array.from({ length: options.wrongKeys ?? 3 }, (_, j) => wrongKey(j));
  const reencodings = options.reencodings ?? REENCODINGS;
  const sets: EvalSet[] = [];
  if (options.faces) sets.push(loadSet('faces', options.faces, options.limit));
  if (options.scenes) sets.push(loadSet('scenes', options.scenes, options.limit));
  // Each target is loaded once, for the key search and the evaluation alike.
  const loaded = new Map<string, Promise<TargetModel>>();
  const loadTarget = (spec: string) => {
    if (!loaded.has(spec)) loaded.set(spec, TargetModel.load(spec));
    return loaded.get(spec)!;
  };

  // 1. Decodes: backbone, full, protected, wrong keys; then their re-encodings.
  const total = sets.reduce((n, s) => n + s.stems.length, 0);
  let bar = new Progress('decode', total, options.progress);
  const psicSeconds: Map<EvalSet, number[]> = new Map();
  for (const set of sets) {
    const d: Record<string, RgbImage[]> = { backbone: [], full: [], protected: [], 'wrong-key': [], sealed: [] };
    const rates: Record<string, number[]> = { backbone: [], psic: [], sealed: [] };
    const seconds: number[] = [];
    for (const [i, s] of set.stems.entries()) {
      const original = await readImage(set.files.get(s)!);
      set.originals.push(original);
      const t0 = performance.now();
      const bytes = await model.compress(raw(original));
      set.containers.push(bytes);
      d.protected.push(await model.decompress(bytes));
      seconds.push((performance.now() - t0) / 1000);
      const plain = await backbone.compress(raw(original));
      d.backbone.push(await backbone.decompress(plain));
      d.full.push(await model.decompress(bytes, { key }));
      if (wrongKeys.length) d['wrong-key'].push(await model.decompress(bytes, { key: wrongKeys[i % wrongKeys.length] }));
      if (options.sealed !== false) {
        const sealedBytes = await model.compress(raw(original), { seal: { key } });
        set.sealedContainers.push(sealedBytes);
        d.sealed.push(await model.decompress(sealedBytes));
        rates.sealed.push(bpp(sealedBytes.length, original.width, original.height));
      }
      rates.backbone.push(bpp(plain.length, original.width, original.height));
      rates.psic.push(bpp(bytes.length, original.width, original.height));
      bar.tick(s);
    }
    psicSeconds.set(set, seconds);
    for (const [name, images] of Object.entries(d)) {
      if (images.length === 0) continue;
      set.decodes.set(name, images);
      set.quality[name] = { psnr: mean(images.map((im, i) => psnr(set.originals[i].data, im.data))), bpp: mean(rates[name] ?? rates.psic) };
    }
  }
  bar.finish();
  bar = new Progress('re-encode', total * reencodings.length, options.progress);
  for (const set of sets) {
    for (const r of reencodings) {
      for (const base of ['backbone', 'protected']) {
        set.decodes.set(`${r}:${base}`, await Promise.all(set.decodes.get(base)!.map((im) => reencode(im, r))));
      }
      bar.tick(r);
    }
  }
  bar.finish();

  // 2. The key search, on the face set (or the scene set), with the pixel objective and with
  //    the face targets' agreement; every image is then decoded with the condition found.
  const searchReports: KeySearchReport[] = [];
  if (options.keySearch !== false) {
    const ks = options.keySearch ?? {};
    const set = sets[0];
    const count = Math.min(ks.images ?? 2, set.stems.length);
    const containers = set.containers.slice(0, count);
    const searchTargets = await Promise.all((set.name === 'faces' ? options.faceTargets ?? FACE_TARGETS : options.sceneTargets ?? SCENE_TARGETS)
      .filter((t) => t.startsWith('human:')).map(loadTarget));
    // On sealed files the search has only the public latent to decode, whatever the condition.
    for (const sealed of options.sealed !== false ? [false, true] : [false]) {
      const prefix = sealed ? 'sealed-' : '';
      const searched = (s: EvalSet) => (sealed ? s.sealedContainers : s.containers);
      for (const objective of ['pixels', 'target'] as const) {
        if (objective === 'target' && searchTargets.length === 0) continue;
        const t0 = performance.now();
        const steps = ks.steps ?? 500, restarts = ks.restarts ?? 3;
        const found = await keySearch(model, searched(set).slice(0, count), set.originals.slice(0, count).map(raw),
          { objective, targets: objective === 'target' ? searchTargets as AttackTargets : undefined, steps, restarts, lr: ks.lr });
        const seconds = (performance.now() - t0) / 1000;
        const name = `${prefix}key-search-${objective}`;
        for (const other of sets) {
          const images: RgbImage[] = [];
          for (const bytes of searched(other)) images.push(await model.decompress(bytes, { condition: found.condition }));
          other.decodes.set(name, images);
          other.quality[name] = { psnr: mean(images.map((im, i) => psnr(other.originals[i].data, im.data))) };
        }
        searchReports.push({ objective, sealed, images: count, steps, restarts, loss: found.objective, startLoss: mean(found.traces.map((t) => t[0])),
          psnr: set.quality[name].psnr, seconds });
      }
    }
  }

  // 3. Each target on each decode.
  const reports: TargetAttackReport[] = [];
  for (const set of sets) {
    const specs = set.name === 'faces' ? options.faceTargets ?? FACE_TARGETS : options.sceneTargets ?? SCENE_TARGETS;
    for (const spec of specs) {
      const target = await loadTarget(spec);
      const decodes = [...set.decodes.keys()];
      bar = new Progress(`eval ${spec}`, set.stems.length * (decodes.length + 1), options.progress);
      const predict = (images: RgbImage[]) => target.predictMany(images.map(raw), { onImage: () => bar.tick() });
      const preds = new Map<string, TargetPrediction[]>([['original', await predict(set.originals)]]);
      for (const name of decodes) preds.set(name, await predict(set.decodes.get(name)!));
      bar.finish();
      const report = targetReport(spec, set, target, preds, reencodings);
      if (options.pgd !== false) report.pgd = await pgdReport(target, set, backbone, preds, psicSeconds.get(set)!, options.pgd ?? {}, options.progress);
      if (spec.startsWith('clip:')) report.clip = await clipReport(spec.slice(5), set);
      reports.push(report);
    }
  }
  return {
    model: options.model,
    backbone: options.backbone,
    datasets: Object.fromEntries(sets.map((s) => [s.name, { dir: s.dir, n: s.stems.length }])),
    quality: Object.fromEntries(sets.map((s) => [s.name, s.quality])),
    targets: reports,
    keySearch: searchReports,
  };
}

function targetReport(spec: string, set: EvalSet, target: TargetModel, preds: Map<string, TargetPrediction[]>,
                      reencodings: readonly Reencoding[]): TargetAttackReport {
  const original = preds.get('original')!;
  const decodes = ATTACK_DECODES.filter((d) => preds.has(d));
  const heads: HeadAttackReport[] = [];
  const robust: Record<string, number[]> = {};
  target.heads.forEach((head, h) => {
    const vs = (a: string, b: string) => headReport(head, h, set.stems, preds.get(a)!, preds.get(b)!, original, set.labels);
    const r: HeadAttackReport = { head: head.name, kind: head.kind, reference: '', samples: 0, accuracy: {}, asr: {} };
    for (const d of decodes) {
      const hr = vs('backbone', d);
      r.reference = hr.reference;
      r.samples = hr.samples;
      r.accuracy[d] = hr.accuracyB;
      if (d !== 'backbone') r.asr[d] = hr.asr;
    }
    r.accuracy.original = vs('original', 'original').accuracyA;
    for (const re of reencodings) (robust[re] ??= []).push(vs(`${re}:backbone`, `${re}:protected`).asr);
    heads.push(r);
  });
  const meanOf = (f: (r: HeadAttackReport) => Record<string, number>) =>
    Object.fromEntries(Object.keys(f(heads[0]) ?? {}).map((k) => [k, mean(heads.map((r) => f(r)[k]))]));
  const asr = meanOf((r) => r.asr);
  return {
    target: spec, dataset: set.name, n: set.stems.length, heads, accuracy: meanOf((r) => r.accuracy), asr,
    robustness: reencodings.map((re) => ({ reencoding: re, asr: mean(robust[re]), drop: asr.protected - mean(robust[re]) })),
  };
}

async function pgdReport(target: TargetModel, set: EvalSet, backbone: Codec, preds: Map<string, TargetPrediction[]>, psicSeconds: number[],
                         o: { epsilon?: number; steps?: number; limit?: number }, progress?: boolean): Promise<PgdReport> {
  const epsilon = o.epsilon ?? 8 / 255, steps = o.steps ?? 50;
  const n = Math.min(o.limit ?? 16, set.stems.length);
  const bar = new Progress(`pgd ${target.name}`, n, progress);
  const decoded: RgbImage[] = [], seconds: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const cloaked = await cloak(raw(set.originals[i]), { targets: [target], epsilon, steps, seed: i });
    decoded.push(await backbone.decompress(await backbone.compress(raw(cloaked))));
    seconds.push((performance.now() - t0) / 1000);
    bar.tick();
  }
  bar.finish();
  const stems = set.stems.slice(0, n);
  const pgdPreds = await target.predictMany(decoded.map(raw));
  const sub = (name: string) => preds.get(name)!.slice(0, n);
  const asrOf = (b: TargetPrediction[]) => mean(target.heads.map((head, h) => headReport(head, h, stems, sub('backbone'), b, sub('original'), set.labels))
    .map((r) => r.asr));
  const psnrOf = (images: RgbImage[]) => mean(images.map((im, i) => psnr(set.originals[i].data, im.data)));
  const secondsPerImage = mean(seconds), psicSecondsPerImage = mean(psicSeconds.slice(0, n));
  return { n, epsilon, steps, asr: asrOf(pgdPreds), psicAsr: asrOf(sub('protected')), psnr: psnrOf(decoded),
    psicPsnr: psnrOf(set.decodes.get('protected')!.slice(0, n)), secondsPerImage, psicSecondsPerImage, timeRatio: secondsPerImage / psicSecondsPerImage };
}

/** CLIP on a captioned set: retrieval R@1 both ways over all captions, and zero-shot accuracy. */
async function clipReport(path: string, set: EvalSet): Promise<ClipReport | undefined> {
  if (!set.captions) return undefined;
  const clip = await Clip.load(path);
  const texts = set.captions.flat();
  const owner = set.captions.flatMap((c, i) => c.map(() => i));
  const textFeatures = await clip.encodeText(texts);
  // Zero-shot classes: each image's largest labelled box.
  const largest = set.stems.map((s) => {
    const boxes = set.labels?.get(s)?.boxes ?? [];
    return boxes.reduce<{ label: string; area: number } | undefined>((best, b) => {
      const area = (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]);
      return !best || area > best.area ? { label: b.label, area } : best;
    }, undefined)?.label;
  });
  const classes = [...new Set(largest.filter((l): l is string => l !== undefined))].sort();
  const report: ClipReport = { imageToText: {}, textToImage: {}, zeroShot: {} };
  for (const name of ['original', 'backbone', 'full', 'protected']) {
    const images = name === 'original' ? set.originals : set.decodes.get(name)!;
    const sim = clip.similarity(await clip.encodeImage(images.map(raw)), textFeatures);
    const r = retrievalAtOne(sim, owner);
    report.imageToText[name] = r.imageToText;
    report.textToImage[name] = r.textToImage;
    if (classes.length > 1) {
      const zs = await clip.zeroShot(images.map(raw), classes);
      const scored = zs.map((z, i) => [z.label, largest[i]]).filter(([, l]) => l !== undefined);
      report.zeroShot[name] = scored.filter(([p, l]) => p === l).length / scored.length;
    }
  }
  return report;
}

/** R@1 from an [images × texts] similarity: owner[j] is the image text j describes. */
export function retrievalAtOne(sim: Float32Array[], owner: number[]): { imageToText: number; textToImage: number } {
  const argmax = (n: number, f: (k: number) => number) => {
    let best = 0;
    for (let k = 1; k < n; k++) if (f(k) > f(best)) best = k;
    return best;
  };
  const i2t = sim.map((row, i) => owner[argmax(row.length, (j) => row[j])] === i);
  const t2i = owner.map((o, j) => argmax(sim.length, (i) => sim[i][j]) === o);
  return { imageToText: i2t.filter(Boolean).length / i2t.length, textToImage: t2i.filter(Boolean).length / t2i.length };
}
