// The training data pipeline: an image folder (with optional captions/labels from a CSV or JSON
// file) served as an infinite, seeded stream of batches of random square crops.
//
// - Files: the folder's png/jpg/jpeg/webp files (case-insensitive extensions; subfolders are not
//   scanned), sorted by name (plain code-unit order, so the order is the same on every machine and
//   locale). `files` keeps only the named basenames (a documented split), `limit` the first N.
// - Crops: each sample is decoded by sharp (EXIF orientation applied, sRGB, alpha removed, 8-bit)
//   and a crop x crop window is extracted at a random offset. An image smaller than the crop on a
//   side is first upscaled, keeping its aspect ratio, so that its short side equals the crop
//   (sharp's default lanczos3 kernel; the long side is rounded and at least the crop). No flips.
// - Batches: NCHW float32 RGB in [0, 1] (byte / 255), shape [B, 3, crop, crop]. An epoch is a
//   seeded permutation of all files cut into floor(size / batchSize) batches; the last partial
//   batch is dropped (a different subset of files is dropped each epoch). With a shard (rank r of
//   n, distributed training), each batch is rows [r·B/n, (r+1)·B/n) of the unsharded batch.
// - Determinism: everything random is derived only from (seed, epoch) for the permutation and
//   (seed, epoch, file index) for a sample's crop offset and caption choice, through a
//   counter-based key (splitmix64) that seeds a xoshiro128** generator. No Math.random, no
//   dependence on timing, batch order of completion or previous batches; so
//   batches({epoch, index}) yields exactly the batches an uninterrupted stream yields from there.
// - Off the main thread: sharp decodes and crops on libuv's thread pool; `prefetch` batches beyond
//   the one being consumed are kept decoding, and the samples of a batch decode concurrently. The
//   event loop only does the byte -> float conversion of finished crops.
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';

import { PsicError, PsicInputError, PsicLimitError } from '../errors.js';
import { MAX_ANNOTATION_FILE_BYTES, readRegularFile } from '../io/read-file.js';

export interface DatasetOptions {
  /** Image folder (png/jpg/jpeg/webp; sorted by name; subfolders not scanned). */
  dir: string;
  /**
   * Optional captions/labels, matched to the images by basename:
   * - CSV (`.csv`): a header row with a `file` column (e.g. `images/000002.jpg`) and any other
   *   columns; a non-empty `caption` column gives the caption. A file listed on several rows gets
   *   all their captions (one chosen per epoch) and the first row as its labels. Labels are the row
   *   as {column: value}, `file` included.
   * - JSON: `{images: [{file, captions: [...] | caption, ...}, ...]}` (coco-mini), a top-level
   *   array of such objects, or a map `{"<file>": "caption" | {caption?, captions?, label?, ...}}`.
   *   Labels are the entry's fields (non-string values JSON-encoded; a bare caption string gives
   *   {caption}). Other top-level keys of a coco file (categories, licenses...) are ignored.
   * Missing, unparsable or malformed annotations are a PsicInputError at open().
   */
  annotations?: string;
  /** Square crop size in pixels; smaller images are upscaled so that their short side = crop. */
  crop: number;
  batchSize: number;
  /** Any safe integer. */
  seed: number;
  /** Batches decoded ahead of the one being consumed (default 2; 0 = decode on demand). */
  prefetch?: number;
  /** Use only the first N files (after sorting and after `files`). */
  limit?: number;
  /** Use only these basenames (a documented split); each must be in the folder. */
  files?: string[];
  /**
   * Data-parallel training: this rank's equal part of every batch (rows [rank·b, (rank+1)·b),
   * b = batchSize / count), so the ranks' batches together are exactly the unsharded stream's.
   */
  shard?: { rank: number; count: number };
}

/** Where a sample's crop was taken, in the (possibly upscaled) oriented image. */
export interface CropInfo {
  left: number;
  top: number;
  /** Size of the image the crop was taken from (after orientation and any upscaling). */
  width: number;
  height: number;
  /** True when the source was upscaled because a side was smaller than the crop. */
  upscaled: boolean;
}

export interface TrainingBatch {
  /** NCHW RGB in [0, 1], shape [B, 3, crop, crop]. */
  data: Float32Array;
  shape: [number, number, number, number];
  /** Basename of each sample. */
  files: string[];
  /** One caption per sample (for multi-caption files, one chosen by the seeded RNG). */
  captions: (string | undefined)[];
  /** The annotation row/object per sample (non-string JSON values are JSON-encoded). */
  labels: (Record<string, string> | undefined)[];
  /** Where each crop was taken. */
  crops: CropInfo[];
  /** Position in the stream: the epoch and the batch index within it. */
  epoch: number;
  index: number;
}

/** A position in the stream: the next batch to read (for checkpoints). */
export interface DatasetState {
  epoch: number;
  index: number;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

// ---- Seeded randomness -------------------------------------------------------------------------

const MASK64 = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** Stream ids, so that the permutation and the per-sample draws never share a key. */
const STREAM_PERMUTATION = 1;
const STREAM_SAMPLE = 2;

/** A 64-bit key from the seed and a list of non-negative integers (splitmix64 chaining). */
function deriveKey(seed: number, ...parts: number[]): bigint {
  let h = mix64((BigInt.asUintN(64, BigInt(seed)) + GOLDEN) & MASK64);
  for (const part of parts) h = mix64(((h ^ BigInt(part)) + GOLDEN) & MASK64);
  return h;
}

/** xoshiro128** seeded from a 64-bit key through splitmix64. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(key: bigint) {
    let state = key & MASK64;
    const next = (): bigint => {
      state = (state + GOLDEN) & MASK64;
      return mix64(state);
    };
    const a = next();
    const b = next();
    this.s0 = Number(a & 0xffffffffn) >>> 0;
    this.s1 = Number(a >> 32n) >>> 0;
    this.s2 = Number(b & 0xffffffffn) >>> 0;
    this.s3 = Number(b >> 32n) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform integer in [0, n), n in [1, 2^32], without modulo bias. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new RangeError(`below(${n})`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The order of the files in an epoch: a seeded Fisher-Yates shuffle of 0..size-1. */
export function epochPermutation(seed: number, epoch: number, size: number): Uint32Array {
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const rng = new Rng(deriveKey(seed, STREAM_PERMUTATION, epoch));
  for (let i = size - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

// ---- Annotations -------------------------------------------------------------------------------

interface Annotation {
  captions: string[];
  labels: Record<string, string>;
}

function toLabelValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** RFC 4180 CSV: quoted fields with "" escapes, commas and newlines inside quotes, CRLF or LF. */
export function parseCsv(text: string, what: string): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (field.length !== 0) throw new PsicInputError(`${what}: stray quote on row ${rows.length + 1}`);
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      row.push(field);
      field = '';
      rows.push(row);
      row = [];
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw new PsicInputError(`${what}: unterminated quoted field`);
  if (field.length !== 0 || row.length !== 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

function addAnnotation(map: Map<string, Annotation>, file: string, captions: string[], labels: Record<string, string>): void {
  const key = basename(file);
  const existing = map.get(key);
  if (existing) existing.captions.push(...captions);
  else map.set(key, { captions: [...captions], labels: Object.freeze(labels) as Record<string, string> });
}

function annotationsFromCsv(text: string, what: string): Map<string, Annotation> {
  const rows = parseCsv(text, what);
  const header = rows[0];
  if (!header) throw new PsicInputError(`${what} is empty`);
  const columns = header.map((c) => c.trim());
  const fileColumn = columns.indexOf('file');
  if (fileColumn < 0) throw new PsicInputError(`${what} has no 'file' column (columns: ${columns.join(', ')})`);
  const captionColumn = columns.indexOf('caption');
  const map = new Map<string, Annotation>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.length !== columns.length) {
      throw new PsicInputError(`${what}: row ${r + 1} has ${row.length} fields, the header has ${columns.length}`);
    }
    const file = row[fileColumn]!;
    if (file === '') throw new PsicInputError(`${what}: row ${r + 1} has an empty 'file'`);
    const labels: Record<string, string> = {};
    columns.forEach((c, k) => { labels[c] = row[k]!; });
    const captions = captionColumn >= 0 && row[captionColumn] !== '' ? [row[captionColumn]!] : [];
    addAnnotation(map, file, captions, labels);
  }
  return map;
}

function captionsOf(entry: Record<string, unknown>, what: string): string[] {
  const out: string[] = [];
  const { caption, captions } = entry;
  if (caption !== undefined) {
    if (typeof caption !== 'string') throw new PsicInputError(`${what}: 'caption' must be a string`);
    out.push(caption);
  }
  if (captions !== undefined) {
    if (!Array.isArray(captions) || !captions.every((c) => typeof c === 'string')) {
      throw new PsicInputError(`${what}: 'captions' must be an array of strings`);
    }
    out.push(...(captions as string[]));
  }
  return out;
}

function labelsOf(entry: Record<string, unknown>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) labels[k] = toLabelValue(v);
  return labels;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function annotationsFromJson(text: string, what: string): Map<string, Annotation> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PsicInputError(`${what} is not valid JSON (${(err as Error).message})`);
  }
  const map = new Map<string, Annotation>();
  const list = Array.isArray(doc) ? doc : isObject(doc) && Array.isArray(doc.images) ? doc.images : undefined;
  if (list) {
    list.forEach((entry: unknown, k: number) => {
      if (!isObject(entry) || typeof entry.file !== 'string' || entry.file === '') {
        throw new PsicInputError(`${what}: image entry ${k} has no 'file' string`);
      }
      addAnnotation(map, entry.file, captionsOf(entry, `${what} (${entry.file})`), labelsOf(entry));
    });
    return map;
  }
  if (!isObject(doc)) throw new PsicInputError(`${what}: expected {images: [...]}, an array, or a {file: caption | object} map`);
  for (const [file, value] of Object.entries(doc)) {
    if (typeof value === 'string') addAnnotation(map, file, [value], { caption: value });
    else if (isObject(value)) addAnnotation(map, file, captionsOf(value, `${what} (${file})`), labelsOf(value));
    else throw new PsicInputError(`${what}: the value for '${file}' must be a caption string or an object`);
  }
  return map;
}

async function readAnnotations(path: string): Promise<Map<string, Annotation>> {
  const what = `annotations '${path}'`;
  // A regular file, bounded (PsicIoError, PsicLimitError).
  const text = (await readRegularFile(path, { maxBytes: MAX_ANNOTATION_FILE_BYTES, what: 'annotations' })).toString('utf8');
  const ext = extname(path).toLowerCase();
  const json = ext === '.json' || (ext !== '.csv' && /^\s*[[{]/.test(text));
  return json ? annotationsFromJson(text, what) : annotationsFromCsv(text, what);
}

// ---- Validation --------------------------------------------------------------------------------

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PsicInputError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PsicInputError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

// ---- The dataset -------------------------------------------------------------------------------

interface Dimensions {
  width: number;
  height: number;
}

export class ImageDataset {
  /** Number of images. */
  readonly size: number;
  /** floor(size / batchSize): the last partial batch of each epoch is dropped. */
  readonly batchesPerEpoch: number;
  readonly dir: string;
  readonly crop: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly prefetch: number;
  /** The basenames in use, in index order (sorted). */
  readonly files: readonly string[];
  /** This rank's part of each batch (everything without a shard). */
  readonly shard: { rank: number; count: number };

  private readonly annotations: ReadonlyMap<string, Annotation>;
  private readonly dims = new Map<number, Promise<Dimensions>>();
  private closed = false;

  private constructor(options: Required<Omit<DatasetOptions, 'annotations' | 'limit' | 'files'>>, files: string[], annotations: Map<string, Annotation>) {
    this.shard = Object.freeze({ ...options.shard });
    this.dir = options.dir;
    this.crop = options.crop;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.prefetch = options.prefetch;
    this.files = Object.freeze(files);
    this.size = files.length;
    this.batchesPerEpoch = Math.floor(files.length / options.batchSize);
    this.annotations = annotations;
  }

  /** Validates the options, lists the files and reads the annotations. */
  static async open(options: DatasetOptions): Promise<ImageDataset> {
    if (typeof options !== 'object' || options === null) throw new PsicInputError('dataset options must be an object');
    const { dir } = options;
    if (typeof dir !== 'string' || dir === '') throw new PsicInputError('dataset dir must be a non-empty string');
    const crop = positiveInteger('crop', options.crop);
    const batchSize = positiveInteger('batchSize', options.batchSize);
    if (typeof options.seed !== 'number' || !Number.isSafeInteger(options.seed)) {
      throw new PsicInputError(`seed must be a safe integer, got ${String(options.seed)}`);
    }
    const prefetch = nonNegativeInteger('prefetch', options.prefetch ?? 2);
    const limit = options.limit === undefined ? undefined : positiveInteger('limit', options.limit);
    const shard = options.shard === undefined ? { rank: 0, count: 1 } : options.shard;
    if (typeof shard !== 'object' || shard === null) throw new PsicInputError('shard must be {rank, count}');
    const count = positiveInteger('shard.count', shard.count);
    if (!Number.isInteger(shard.rank) || shard.rank < 0 || shard.rank >= count) {
      throw new PsicInputError(`shard.rank must be an integer in [0, ${count}), got ${String(shard.rank)}`);
    }
    if (batchSize % count !== 0) throw new PsicInputError(`batchSize ${batchSize} must be a multiple of the ${count} ranks`);

    let entries: string[];
    try {
      const info = await stat(dir);
      if (!info.isDirectory()) throw new PsicInputError(`dataset dir '${dir}' is not a folder`);
      entries = await readdir(dir);
    } catch (err) {
      if (err instanceof PsicInputError) throw err;
      throw new PsicInputError(`cannot read dataset dir '${dir}': ${(err as Error).message}`);
    }
    const candidates = entries.filter((name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()));
    const isFile = await Promise.all(candidates.map(async (name) => {
      try {
        return (await stat(join(dir, name))).isFile();
      } catch {
        return false;
      }
    }));
    let files = candidates.filter((_, k) => isFile[k]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (files.length === 0) throw new PsicInputError(`dataset dir '${dir}' has no png/jpg/jpeg/webp images`);

    if (options.files !== undefined) {
      if (!Array.isArray(options.files) || !options.files.every((f) => typeof f === 'string')) {
        throw new PsicInputError('files must be an array of basenames');
      }
      const wanted = new Set<string>();
      for (const f of options.files) {
        const name = basename(f);
        if (wanted.has(name)) throw new PsicInputError(`files lists '${name}' twice`);
        wanted.add(name);
      }
      const present = new Set(files);
      const missing = [...wanted].filter((f) => !present.has(f));
      if (missing.length) {
        const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, ... (${missing.length} in all)` : '');
        throw new PsicInputError(`files not found in dataset dir '${dir}': ${shown}`);
      }
      files = files.filter((f) => wanted.has(f));
      if (files.length === 0) throw new PsicInputError('files is empty');
    }
    if (limit !== undefined) files = files.slice(0, limit);
    if (files.length < batchSize) {
      throw new PsicInputError(`batchSize ${batchSize} is larger than the dataset (${files.length} images): no full batch`);
    }
    const annotations = options.annotations === undefined ? new Map<string, Annotation>() : await readAnnotations(options.annotations);
    return new ImageDataset({ dir, crop, batchSize, seed: options.seed, prefetch, shard: { rank: shard.rank, count } }, files, annotations);
  }

  /** The state to resume from after `batch` was consumed. */
  stateAfter(batch: Pick<TrainingBatch, 'epoch' | 'index'>): DatasetState {
    return this.normalize({ epoch: batch.epoch, index: batch.index + 1 });
  }

  private normalize(state: DatasetState): DatasetState {
    if (typeof state !== 'object' || state === null) throw new PsicInputError('dataset state must be {epoch, index}');
    const epoch = nonNegativeInteger('state.epoch', state.epoch);
    const index = nonNegativeInteger('state.index', state.index);
    return { epoch: epoch + Math.floor(index / this.batchesPerEpoch), index: index % this.batchesPerEpoch };
  }

  /**
   * The infinite stream of batches from `from` (default {epoch: 0, index: 0}); an index past the
   * end of an epoch carries into the next. Throws PsicInputError naming a file that fails to decode.
   */
  batches(from: DatasetState = { epoch: 0, index: 0 }): AsyncIterableIterator<TrainingBatch> {
    if (this.closed) throw new PsicError('the dataset is closed');
    const start = this.normalize(from);
    return this.stream(start);
  }

  /** Stops prefetching: open streams end at their next read, and no new decode is started. */
  close(): void {
    this.closed = true;
  }

  private async *stream(start: DatasetState): AsyncGenerator<TrainingBatch, void, undefined> {
    const perEpoch = this.batchesPerEpoch;
    let next = start.epoch * perEpoch + start.index; // next stream position to schedule
    let permutation: { epoch: number; order: Uint32Array } | undefined;
    const orderOf = (epoch: number): Uint32Array => {
      if (permutation?.epoch !== epoch) permutation = { epoch, order: epochPermutation(this.seed, epoch, this.size) };
      return permutation.order;
    };
    const queue: Promise<TrainingBatch>[] = [];
    // The batch to hand out next plus `prefetch` more: while the consumer holds batch k, batches
    // k+1 .. k+prefetch are decoding.
    const schedule = (): void => {
      while (!this.closed && queue.length < this.prefetch + 1) {
        const epoch = Math.floor(next / perEpoch);
        const index = next % perEpoch;
        next++;
        const order = orderOf(epoch);
        const part = this.batchSize / this.shard.count;
        const first = index * this.batchSize + this.shard.rank * part;
        const picked = Array.from(order.subarray(first, first + part));
        const promise = this.assemble(epoch, index, picked);
        promise.catch(() => {}); // failures surface when the batch is awaited; never unhandled
        queue.push(promise);
      }
    };
    try {
      for (;;) {
        schedule();
        const head = queue.shift();
        if (!head) return; // closed
        const batch = await head;
        if (this.closed) return;
        yield batch;
      }
    } finally {
      queue.length = 0;
    }
  }

  private dimensions(fileIndex: number): Promise<Dimensions> {
    let p = this.dims.get(fileIndex);
    if (!p) {
      const file = this.files[fileIndex]!;
      p = sharp(join(this.dir, file)).metadata().then(
        (meta) => {
          const width = meta.autoOrient?.width ?? meta.width;
          const height = meta.autoOrient?.height ?? meta.height;
          if (!width || !height) throw new PsicInputError(`image '${file}' in '${this.dir}' has no dimensions`);
          return { width, height };
        },
        (err: unknown) => { throw decodeError(file, this.dir, err); },
      );
      // A failed read is not cached: the file may be fixed before a resumed run.
      p.catch(() => { this.dims.delete(fileIndex); });
      this.dims.set(fileIndex, p);
    }
    return p;
  }

  private async assemble(epoch: number, index: number, picked: number[]): Promise<TrainingBatch> {
    const crop = this.crop;
    const plane = crop * crop;
    const sampleSize = 3 * plane;
    const data = new Float32Array(picked.length * sampleSize);
    const crops: CropInfo[] = new Array(picked.length);
    const captions: (string | undefined)[] = new Array(picked.length);
    const labels: (Record<string, string> | undefined)[] = new Array(picked.length);
    const files = picked.map((k) => this.files[k]!);
    await Promise.all(picked.map(async (fileIndex, j) => {
      const file = files[j]!;
      const rng = new Rng(deriveKey(this.seed, STREAM_SAMPLE, epoch, fileIndex));
      const ux = rng.nextUint32();
      const uy = rng.nextUint32();
      const annotation = this.annotations.get(file);
      labels[j] = annotation?.labels;
      captions[j] = annotation && annotation.captions.length > 0
        ? annotation.captions[rng.below(annotation.captions.length)]
        : undefined;

      const source = await this.dimensions(fileIndex);
      const geometry = cropGeometry(source, crop, ux, uy);
      crops[j] = geometry;
      let pipeline = sharp(join(this.dir, file)).autoOrient();
      if (geometry.upscaled) pipeline = pipeline.resize(geometry.width, geometry.height, { fit: 'fill' });
      let raw: Buffer;
      let channels: number;
      try {
        const out = await pipeline
          .extract({ left: geometry.left, top: geometry.top, width: crop, height: crop })
          .toColorspace('srgb')
          .removeAlpha()
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true });
        raw = out.data;
        channels = out.info.channels;
        if (out.info.width !== crop || out.info.height !== crop) {
          throw new PsicInputError(`image '${file}' gave a ${out.info.width}x${out.info.height} crop, expected ${crop}x${crop}`);
        }
      } catch (err) {
        throw decodeError(file, this.dir, err);
      }
      if (channels !== 3) throw new PsicInputError(`image '${file}' in '${this.dir}': expected 3 channels, got ${channels}`);
      const base = j * sampleSize;
      for (let p = 0, q = 0; p < plane; p++, q += 3) {
        data[base + p] = raw[q]! / 255;
        data[base + plane + p] = raw[q + 1]! / 255;
        data[base + 2 * plane + p] = raw[q + 2]! / 255;
      }
    }));
    return { data, shape: [picked.length, 3, crop, crop], files, captions, labels, crops, epoch, index };
  }
}

/**
 * The crop window for an image of `source` size: upscale (keep aspect) when a side is smaller
 * than the crop, then an offset uniform over all valid positions from two uint32 draws.
 */
export function cropGeometry(source: Dimensions, crop: number, ux: number, uy: number): CropInfo {
  let { width, height } = source;
  let upscaled = false;
  if (width < crop || height < crop) {
    const scale = crop / Math.min(width, height);
    const w = width <= height ? crop : Math.max(crop, Math.round(width * scale));
    const h = height <= width ? crop : Math.max(crop, Math.round(height * scale));
    width = w;
    height = h;
    upscaled = true;
  }
  // floor(u * n / 2^32): uniform enough for n far below 2^32 and exact in float64.
  const left = Math.floor((ux * (width - crop + 1)) / 0x100000000);
  const top = Math.floor((uy * (height - crop + 1)) / 0x100000000);
  return { left, top, width, height, upscaled };
}

function decodeError(file: string, dir: string, err: unknown): Error {
  if (err instanceof PsicInputError || err instanceof PsicLimitError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const what = `image '${file}' in '${dir}'`;
  if (/pixel limit/i.test(message)) return new PsicLimitError(`${what}: ${message}`);
  return new PsicInputError(`${what} could not be decoded (${message})`);
}
