// `psic eval target`: how a target model's predictions change between two image sets (e.g. full
// decodes A against protected decodes B). ASR follows the PSIC paper: the share of samples the
// model handles correctly on A and wrongly on B. "Correct" is against the labels when given,
// else against the prediction on the original images (--original), else against A itself.
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

import { PsicInputError } from '../errors.js';
import { Progress } from '../io/progress.js';
import { MAX_ANNOTATION_FILE_BYTES, readRegularFileSync } from '../io/read-file.js';
import { type Detection, type TargetHead, type TargetLoadOptions, TargetModel, type TargetPrediction } from '../targets/target-model.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff', '.gif']);

/** IoU a detection must reach to count as finding a box. */
export const DETECTION_IOU = 0.5;
/** Detections below this score are ignored (the Human library's default minConfidence). */
export const DETECTION_MIN_SCORE = 0.2;
/** A regression (age) is "correct" within this distance of the reference. */
export const REGRESSION_TOLERANCE = 5;

export interface LabelBox {
  box: [number, number, number, number];
  label: string;
}

/** Per image (keyed by file stem): CSV columns, and boxes from a COCO-style JSON. */
export interface ImageLabels {
  columns: Record<string, string>;
  boxes?: LabelBox[];
}

export interface HeadReport {
  head: string;
  kind: TargetHead['kind'];
  /** Where "correct" comes from. */
  reference: 'labels' | 'original' | 'a';
  /** Samples compared: images, probes with a gallery match, or boxes. */
  samples: number;
  agreement: number;
  accuracyA: number;
  accuracyB: number;
  asr: number;
  [extra: string]: unknown;
}

export interface TargetReport {
  target: string;
  n: number;
  /** Mean over heads. */
  agreement: number;
  /** Mean over heads. */
  asr: number;
  heads: HeadReport[];
}

const stem = (file: string) => basename(file, extname(file));
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Image files of a folder by stem. */
export function listImages(dir: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new PsicInputError(`cannot read folder '${dir}': ${(err as Error).message}`);
  }
  const out = new Map<string, string>();
  for (const e of entries.sort()) {
    if (!IMAGE_EXTENSIONS.has(extname(e).toLowerCase())) continue;
    const path = join(dir, e);
    if (statSync(path).isFile() && !out.has(stem(e))) out.set(stem(e), path);
  }
  return out;
}

/**
 * Labels: a CSV with a `file` column (celeba-mini's labels.csv: `identity`, the 40 attributes,
 * or columns named after heads), or a JSON in coco-mini's layout (images[].file, width, height,
 * boxes[].bbox [x, y, w, h] in pixels, category_name; crowd boxes are left out).
 */
export function readLabels(path: string): Map<string, ImageLabels> {
  // A regular file, bounded (PsicIoError, PsicLimitError).
  const text = readRegularFileSync(path, { maxBytes: MAX_ANNOTATION_FILE_BYTES, what: 'labels' }).toString('utf8');
  const out = new Map<string, ImageLabels>();
  if (path.toLowerCase().endsWith('.json')) {
    let json: { images?: { file?: string; width?: number; height?: number; boxes?: { bbox?: number[]; category_name?: string; iscrowd?: number }[] }[] };
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new PsicInputError(`labels '${path}' is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(json.images)) throw new PsicInputError(`labels '${path}' has no images[] array`);
    for (const im of json.images) {
      if (typeof im.file !== 'string' || !(Number(im.width) > 0) || !(Number(im.height) > 0)) {
        throw new PsicInputError(`labels '${path}': every image needs file, width and height`);
      }
      const w = Number(im.width), h = Number(im.height);
      const boxes = (im.boxes ?? []).filter((b) => !b.iscrowd && Array.isArray(b.bbox) && b.bbox.length === 4).map((b): LabelBox => {
        const [x, y, bw, bh] = b.bbox as number[];
        return { box: [x / w, y / h, (x + bw) / w, (y + bh) / h], label: String(b.category_name) };
      });
      out.set(stem(im.file), { columns: {}, boxes });
    }
    return out;
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length < 1) throw new PsicInputError(`labels '${path}' is empty`);
  const header = lines[0].split(',').map((s) => s.trim());
  const fileCol = header.indexOf('file');
  if (fileCol < 0) throw new PsicInputError(`labels '${path}' needs a 'file' column`);
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map((s) => s.trim());
    const columns: Record<string, string> = {};
    header.forEach((h, i) => { columns[h] = cells[i] ?? ''; });
    out.set(stem(cells[fileCol]), { columns });
  }
  return out;
}

/** A classifier head's label for one image: a column named after the head (class name or index);
 * CelebA's binary `Male` attribute serves gender heads. */
export function classLabel(head: TargetHead, labels: ImageLabels | undefined): number | undefined {
  if (!labels) return undefined;
  const raw = labels.columns[head.name];
  if (raw !== undefined && raw !== '') {
    const byName = head.labels.indexOf(raw);
    if (byName >= 0) return byName;
    const index = Number(raw);
    if (Number.isInteger(index) && index >= 0 && index < head.labels.length) return index;
    return undefined;
  }
  if (head.name === 'gender' && (labels.columns.Male === '1' || labels.columns.Male === '0')) {
    const want = labels.columns.Male === '1' ? 'male' : 'female';
    const i = head.labels.indexOf(want);
    return i >= 0 ? i : undefined;
  }
  return undefined;
}

/** Agreement, accuracies and ASR from per-sample predictions and references. */
export function compareCorrectness(sameAB: boolean[], correctA: boolean[], correctB: boolean[]) {
  const n = sameAB.length;
  const frac = (f: (i: number) => boolean) => (n ? Array.from({ length: n }, (_, i) => f(i)).filter(Boolean).length / n : NaN);
  return {
    samples: n,
    agreement: frac((i) => sameAB[i]),
    accuracyA: frac((i) => correctA[i]),
    accuracyB: frac((i) => correctB[i]),
    asr: frac((i) => correctA[i] && !correctB[i]),
  };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

/**
 * Identification against a gallery (the reference set's embeddings). With identities, a probe's
 * prediction is the identity of its nearest gallery image other than itself (probes whose
 * identity has no other image are left out); without, it is the nearest gallery image, and the
 * right answer is the probe's own.
 */
export function identify(gallery: Float32Array[], probes: Float32Array[], identities?: (string | undefined)[]): { predicted: string[]; truth: string[]; used: number[] } {
  const predicted: string[] = [], truth: string[] = [], used: number[] = [];
  for (let i = 0; i < probes.length; i++) {
    const id = identities?.[i];
    if (identities && (id === undefined || !identities.some((o, j) => j !== i && o === id))) continue;
    let best = -1, bestSim = -Infinity;
    for (let j = 0; j < gallery.length; j++) {
      if (identities && j === i) continue;
      const s = cosine(probes[i], gallery[j]);
      if (s > bestSim) { bestSim = s; best = j; }
    }
    predicted.push(identities ? String(identities[best]) : String(best));
    truth.push(identities ? String(id) : String(i));
    used.push(i);
  }
  return { predicted, truth, used };
}

export function iou(a: [number, number, number, number], b: [number, number, number, number]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Which reference boxes the detections find: same class, IoU ≥ 0.5, one detection per box. */
export function boxesFound(truth: LabelBox[], detections: Detection[], minScore = DETECTION_MIN_SCORE): boolean[] {
  const pool = detections.filter((d) => d.score >= minScore);
  const taken = new Set<number>();
  return truth.map((t) => {
    let best = -1, bestIou = DETECTION_IOU;
    pool.forEach((d, j) => {
      if (taken.has(j) || d.label !== t.label) return;
      const v = iou(t.box, d.box);
      if (v >= bestIou) { bestIou = v; best = j; }
    });
    if (best >= 0) taken.add(best);
    return best >= 0;
  });
}

const topIndex = (p: TargetPrediction, h: number) => p.heads[h].top?.index ?? -1;

/** The report for one head, from the predictions on A, B and (optionally) the originals. */
export function headReport(head: TargetHead, h: number, stems: string[], predA: TargetPrediction[], predB: TargetPrediction[],
                           predOriginal: TargetPrediction[] | undefined, labels: Map<string, ImageLabels> | undefined): HeadReport {
  const refPred = predOriginal ?? predA;
  const fallback: HeadReport['reference'] = predOriginal ? 'original' : 'a';
  if (head.kind === 'classifier') {
    const fromLabels = stems.map((s) => classLabel(head, labels?.get(s)));
    const useLabels = fromLabels.every((v) => v !== undefined);
    const ref = useLabels ? (fromLabels as number[]) : refPred.map((p) => topIndex(p, h));
    const a = predA.map((p) => topIndex(p, h)), b = predB.map((p) => topIndex(p, h));
    return { head: head.name, kind: head.kind, reference: useLabels ? 'labels' : fallback,
      ...compareCorrectness(a.map((v, i) => v === b[i]), a.map((v, i) => v === ref[i]), b.map((v, i) => v === ref[i])) };
  }
  if (head.kind === 'regression') {
    const value = (p: TargetPrediction) => p.heads[h].values[0];
    const ref = refPred.map(value);
    const close = (x: number, y: number) => Math.abs(x - y) <= REGRESSION_TOLERANCE;
    const a = predA.map(value), b = predB.map(value);
    return { head: head.name, kind: head.kind, reference: fallback,
      ...compareCorrectness(a.map((v, i) => close(v, b[i])), a.map((v, i) => close(v, ref[i])), b.map((v, i) => close(v, ref[i]))),
      meanAbsDifference: mean(a.map((v, i) => Math.abs(v - b[i]))), tolerance: REGRESSION_TOLERANCE };
  }
  if (head.kind === 'embedding') {
    const emb = (ps: TargetPrediction[]) => ps.map((p) => p.heads[h].values);
    const ids = stems.map((s) => labels?.get(s)?.columns.identity);
    const useLabels = ids.every((v) => v !== undefined && v !== '');
    const gallery = emb(refPred), eA = emb(predA), eB = emb(predB);
    const ia = identify(gallery, eA, useLabels ? ids : undefined);
    const ib = identify(gallery, eB, useLabels ? ids : undefined);
    return { head: head.name, kind: head.kind, reference: useLabels ? 'labels' : fallback,
      ...compareCorrectness(ia.predicted.map((v, i) => v === ib.predicted[i]), ia.predicted.map((v, i) => v === ia.truth[i]),
        ib.predicted.map((v, i) => v === ib.truth[i])),
      meanCosineAB: mean(eA.map((v, i) => cosine(v, eB[i]))), gallery: gallery.length };
  }
  // Detector: reference boxes are the labels' (when every image has some) or the reference
  // predictions' confident detections; a box is a sample.
  const useLabels = stems.every((s) => labels?.get(s)?.boxes !== undefined);
  const sameAB: boolean[] = [], correctA: boolean[] = [], correctB: boolean[] = [];
  stems.forEach((s, i) => {
    const truth = useLabels
      ? labels!.get(s)!.boxes!
      : (refPred[i].detections ?? []).filter((d) => d.score >= DETECTION_MIN_SCORE).map((d) => ({ box: d.box, label: d.label }));
    const fa = boxesFound(truth, predA[i].detections ?? []), fb = boxesFound(truth, predB[i].detections ?? []);
    fa.forEach((v, k) => { sameAB.push(v === fb[k]); correctA.push(v); correctB.push(fb[k]); });
  });
  const r = compareCorrectness(sameAB, correctA, correctB);
  return { head: head.name, kind: head.kind, reference: useLabels ? 'labels' : fallback, ...r, recallA: r.accuracyA, recallB: r.accuracyB,
    iou: DETECTION_IOU, minScore: DETECTION_MIN_SCORE };
}

export interface EvaluateTargetOptions extends TargetLoadOptions {
  /** `human:NAME` or `clip:PATH`. */
  target: string;
  a: string;
  b: string;
  original?: string;
  labels?: string;
  /** Use at most this many image pairs (in file-name order). */
  limit?: number;
  progress?: boolean;
}

export async function evaluateTarget(options: EvaluateTargetOptions): Promise<TargetReport> {
  const setA = listImages(options.a), setB = listImages(options.b);
  const setO = options.original !== undefined ? listImages(options.original) : undefined;
  let stems = [...setA.keys()].filter((s) => setB.has(s) && (!setO || setO.has(s)));
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new PsicInputError('limit must be a positive integer');
    stems = stems.slice(0, options.limit);
  }
  if (stems.length === 0) throw new PsicInputError(`no image file names in common between '${options.a}' and '${options.b}'${setO ? ` and '${options.original}'` : ''}`);
  const labels = options.labels !== undefined ? readLabels(options.labels) : undefined;
  const model = await TargetModel.load(options.target, options);
  const progress = new Progress(`eval ${options.target}`, stems.length * (setO ? 3 : 2), options.progress);
  const run = (set: Map<string, string>) => {
    let done = 0;
    return model.predictMany(stems.map((s) => set.get(s)!), { onImage: () => progress.tick(stems[done++]) });
  };
  const predA = await run(setA), predB = await run(setB);
  const predO = setO ? await run(setO) : undefined;
  progress.finish();
  const heads = model.heads.map((head, h) => headReport(head, h, stems, predA, predB, predO, labels));
  return { target: options.target, n: stems.length, agreement: mean(heads.map((r) => r.agreement)), asr: mean(heads.map((r) => r.asr)), heads };
}
