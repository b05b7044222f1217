// The training data pipeline: seeded order and crops, exact resume, crop pixels against sharp's own
// full decode, annotations (CSV, coco-style JSON, plain maps), upscaling, typed errors, and decoding
// off the main thread with prefetch. Fixture images are generated into a temp dir at run time.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';

import { PsicInputError } from '../src/errors.js';
import { type DatasetOptions, ImageDataset, type TrainingBatch, epochPermutation } from '../src/training/dataset.js';
import { watchTimerGaps } from '../src/bench/timer-gap.js';
import { sharedDir } from './helpers/shared.js';

const trainMini = join(sharedDir(), 'data', 'train-mini', 'train');
const needsTrainMini = existsSync(trainMini) ? {} : { skip: `shared data not found at ${trainMini} (set PSIC_SHARED)` };
const celebaMini = join(sharedDir(), 'data', 'celeba-mini');
const needsCeleba = existsSync(join(celebaMini, 'labels.csv')) ? {} : { skip: `shared data not found at ${celebaMini} (set PSIC_SHARED)` };
const cocoMini = join(sharedDir(), 'data', 'coco-mini');
const needsCoco = existsSync(join(cocoMini, 'annotations.json')) ? {} : { skip: `shared data not found at ${cocoMini} (set PSIC_SHARED)` };

const root = mkdtempSync(join(tmpdir(), 'psic-dataset-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** Deterministic noise for fixtures (the test's own generator, independent of the module's). */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

function rawImage(width: number, height: number, seed: number, channels: 1 | 3 | 4 = 3): sharp.Sharp {
  return sharp(noise(width * height * channels, seed), { raw: { width, height, channels } });
}

/** A folder of n noise PNGs of varied sizes (all at least `min` on each side). */
async function makeFolder(name: string, n: number, min = 24): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < n; k++) {
    const w = min + ((k * 7) % 13);
    const h = min + ((k * 5) % 11);
    await rawImage(w, h, 1000 + k).png().toFile(join(dir, `img${String(k).padStart(2, '0')}.png`));
  }
  return dir;
}

async function take(ds: ImageDataset, count: number, from?: { epoch: number; index: number }): Promise<TrainingBatch[]> {
  const out: TrainingBatch[] = [];
  if (count === 0) return out;
  for await (const batch of ds.batches(from)) {
    out.push(batch);
    if (out.length === count) break;
  }
  return out;
}

const bytes = (b: TrainingBatch) => Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);

/** Expected NCHW floats of one crop, sliced in JS from a full raw HWC RGB decode. */
function sliceCrop(full: Buffer, width: number, left: number, top: number, crop: number): Float32Array {
  const out = new Float32Array(3 * crop * crop);
  const plane = crop * crop;
  for (let y = 0; y < crop; y++) {
    for (let x = 0; x < crop; x++) {
      const q = ((top + y) * width + (left + x)) * 3;
      const p = y * crop + x;
      out[p] = full[q]! / 255;
      out[plane + p] = full[q + 1]! / 255;
      out[2 * plane + p] = full[q + 2]! / 255;
    }
  }
  return out;
}

async function fullDecode(path: string, resize?: { width: number; height: number }) {
  let pipeline = sharp(path).autoOrient();
  if (resize) pipeline = pipeline.resize(resize.width, resize.height, { fit: 'fill' });
  return pipeline.toColorspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
}

/** Checks every sample of a batch against sharp's full decode of its file, sliced at its offset. */
async function checkPixels(t: Test, dir: string, batch: TrainingBatch): Promise<void> {
  const [B, C, H, W] = batch.shape;
  t.equal(C, 3);
  t.equal(H, W);
  t.equal(batch.data.length, B * C * H * W);
  for (let j = 0; j < B; j++) {
    const crop = batch.crops[j]!;
    const { data, info } = await fullDecode(join(dir, batch.files[j]!), crop.upscaled ? crop : undefined);
    t.equal(info.width, crop.width, `${batch.files[j]} width`);
    t.equal(info.height, crop.height, `${batch.files[j]} height`);
    t.ok(crop.left >= 0 && crop.top >= 0 && crop.left + H <= crop.width && crop.top + H <= crop.height, 'crop inside the image');
    const expected = sliceCrop(data, info.width, crop.left, crop.top, H);
    const got = batch.data.subarray(j * C * H * W, (j + 1) * C * H * W);
    t.ok(Buffer.from(expected.buffer).equals(Buffer.from(got.buffer, got.byteOffset, got.byteLength)),
      `${batch.files[j]} crop at (${crop.left}, ${crop.top}) equals the source pixels`);
  }
}

t.test('same seed gives identical batches, another seed another order', async (t) => {
  const dir = await makeFolder('seeded', 10);
  const opts: DatasetOptions = { dir, crop: 16, batchSize: 3, seed: 7 };
  const a = await ImageDataset.open(opts);
  const b = await ImageDataset.open(opts);
  t.equal(a.size, 10);
  t.equal(a.batchesPerEpoch, 3);
  const ra = await take(a, 7);
  const rb = await take(b, 7);
  t.same(ra.map((x) => [x.epoch, x.index]), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [2, 0]], 'positions run over epochs');
  for (let k = 0; k < ra.length; k++) {
    t.same(ra[k]!.files, rb[k]!.files);
    t.same(ra[k]!.shape, [3, 3, 16, 16]);
    t.ok(bytes(ra[k]!).equals(bytes(rb[k]!)), `batch ${k}: same bytes`);
  }
  const other = await take(await ImageDataset.open({ ...opts, seed: 8 }), 3);
  t.notSame(other.flatMap((x) => x.files), ra.slice(0, 3).flatMap((x) => x.files), 'seed 8 orders epoch 0 differently');
  t.notSame(ra.slice(0, 3).flatMap((x) => x.files), ra.slice(3, 6).flatMap((x) => x.files), 'each epoch is reshuffled');
  // Offsets move between epochs (the same file is cropped elsewhere).
  const where = (batches: TrainingBatch[]) => new Map(batches.flatMap((x) => x.files.map((f, j) => [f, `${x.crops[j]!.left},${x.crops[j]!.top}`])));
  const e0 = where(ra.slice(0, 3));
  const e1 = where(ra.slice(3, 6));
  const common = [...e0.keys()].filter((f) => e1.has(f));
  t.ok(common.some((f) => e0.get(f) !== e1.get(f)), 'crop offsets change between epochs');
  // Crop offsets depend only on (seed, epoch, file), not on the batch size.
  const byFive = await take(await ImageDataset.open({ ...opts, batchSize: 5 }), 2);
  const e0b = where(byFive);
  for (const [f, pos] of e0b) t.equal(pos, e0.get(f) ?? pos, `${f}: same offset with another batch size`);
});

t.test('resume from any state equals the uninterrupted stream', async (t) => {
  const dir = await makeFolder('resume', 8);
  const opts: DatasetOptions = { dir, crop: 12, batchSize: 3, seed: 12345, prefetch: 3 };
  const ds = await ImageDataset.open(opts);
  t.equal(ds.batchesPerEpoch, 2);
  const full = await take(ds, 8);
  for (let p = 1; p < 7; p++) {
    const state = { epoch: Math.floor(p / 2), index: p % 2 };
    // A fresh dataset object, as after a restart.
    const resumed = await take(await ImageDataset.open(opts), 2, state);
    for (let k = 0; k < 2; k++) {
      const want = full[p + k]!;
      const got = resumed[k]!;
      t.same([got.epoch, got.index], [want.epoch, want.index]);
      t.same(got.files, want.files);
      t.same(got.captions, want.captions);
      t.same(got.crops, want.crops);
      t.ok(bytes(got).equals(bytes(want)), `from (${state.epoch}, ${state.index}) batch ${k}: same bytes${p % 2 === 1 ? ' (across an epoch boundary)' : ''}`);
    }
  }
  const state = ds.stateAfter(full[1]!);
  t.same(state, { epoch: 1, index: 0 }, 'stateAfter the last batch of an epoch is the next epoch');
  const [carried] = await take(ds, 1, { epoch: 0, index: 2 });
  t.same(carried!.files, full[2]!.files, 'an index past the epoch carries over');
  t.ok(bytes(carried!).equals(bytes(full[2]!)));
  t.throws(() => ds.batches({ epoch: -1, index: 0 }), PsicInputError);
  t.throws(() => ds.batches({ epoch: 0, index: 0.5 }), PsicInputError);
});

t.test('each epoch is a permutation; the partial batch is dropped', async (t) => {
  const dir = await makeFolder('perm', 10);
  const exact = await ImageDataset.open({ dir, crop: 8, batchSize: 5, seed: 3 });
  const batches = await take(exact, 6);
  for (let e = 0; e < 3; e++) {
    const files = batches.slice(2 * e, 2 * e + 2).flatMap((b) => b.files);
    t.same([...files].sort(), exact.files, `epoch ${e}: every file exactly once`);
  }
  const partial = await ImageDataset.open({ dir, crop: 8, batchSize: 4, seed: 3 });
  t.equal(partial.batchesPerEpoch, 2);
  const pb = await take(partial, 2 * 6);
  const dropped = new Set<string>();
  for (let e = 0; e < 6; e++) {
    const files = pb.slice(2 * e, 2 * e + 2).flatMap((b) => b.files);
    t.equal(new Set(files).size, 8, `epoch ${e}: 8 distinct files, 2 dropped`);
    t.ok(pb.slice(2 * e, 2 * e + 2).every((b) => b.shape[0] === 4 && b.epoch === e), 'full batches only');
    for (const f of exact.files) if (!files.includes(f)) dropped.add(f);
  }
  t.ok(dropped.size > 2, 'different files are dropped in different epochs');
  const perm = Array.from(epochPermutation(99, 4, 1000));
  t.same([...perm].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i), 'epochPermutation is a permutation');
  t.same(Array.from(epochPermutation(99, 4, 1000)), perm, 'and reproducible');
  // limit and files select subsets, in name order.
  const limited = await ImageDataset.open({ dir, crop: 8, batchSize: 2, seed: 0, limit: 4 });
  t.same(limited.files, ['img00.png', 'img01.png', 'img02.png', 'img03.png']);
  const split = await ImageDataset.open({ dir, crop: 8, batchSize: 2, seed: 0, files: ['img07.png', 'images/img02.png', 'img05.png'] });
  t.same(split.files, ['img02.png', 'img05.png', 'img07.png']);
  t.equal(split.batchesPerEpoch, 1);
  for (const b of await take(split, 4)) t.ok(b.files.every((f) => split.files.includes(f)));
});

t.test('crop pixels equal the source pixels at the chosen offset (png, jpeg, webp, grey, EXIF-rotated)', async (t) => {
  const dir = join(root, 'formats');
  mkdirSync(dir);
  await rawImage(41, 29, 1).png().toFile(join(dir, 'a.png'));
  await rawImage(37, 45, 2).jpeg({ quality: 80 }).toFile(join(dir, 'b.jpg'));
  await rawImage(50, 33, 3).webp({ lossless: true }).toFile(join(dir, 'c.webp'));
  await rawImage(30, 31, 4, 1).png().toFile(join(dir, 'd.png'));
  await rawImage(33, 27, 5, 4).png().toFile(join(dir, 'e.png'));
  await rawImage(48, 26, 6).jpeg().withMetadata({ orientation: 6 }).toFile(join(dir, 'f.JPEG'));
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
  mkdirSync(join(dir, 'sub'));
  await rawImage(40, 40, 7).png().toFile(join(dir, 'sub', 'ignored.png'));
  const ds = await ImageDataset.open({ dir, crop: 20, batchSize: 6, seed: 5 });
  t.same(ds.files, ['a.png', 'b.jpg', 'c.webp', 'd.png', 'e.png', 'f.JPEG'], 'images only, no subfolders, sorted');
  const batches = await take(ds, 3);
  for (const b of batches) await checkPixels(t, dir, b);
  const rotated = batches[0]!.crops[batches[0]!.files.indexOf('f.JPEG')]!;
  t.same([rotated.width, rotated.height], [26, 48], 'EXIF orientation is applied before cropping');
  const grey = batches[0]!.files.indexOf('d.png');
  const g = batches[0]!.data.subarray(grey * 1200, (grey + 1) * 1200);
  t.ok(g.subarray(0, 400).every((v, i) => v === g[400 + i] && v === g[800 + i]), 'grey becomes three equal channels');
  t.ok(batches[0]!.data.every((v) => v >= 0 && v <= 1), 'values in [0, 1]');
});

t.test('crops of real BSDS500 JPEGs equal the source pixels', needsTrainMini, async (t) => {
  const ds = await ImageDataset.open({ dir: trainMini, crop: 128, batchSize: 4, seed: 2024, limit: 8 });
  t.equal(ds.size, 8);
  const batches = await take(ds, 3);
  for (const b of batches) {
    t.ok(b.crops.every((c) => !c.upscaled && ((c.width === 481 && c.height === 321) || (c.width === 321 && c.height === 481))));
    await checkPixels(t, trainMini, b);
  }
});

t.test('images smaller than the crop are upscaled, keeping the aspect ratio', async (t) => {
  const dir = join(root, 'small');
  mkdirSync(dir);
  await rawImage(10, 20, 11).png().toFile(join(dir, 'tall.png'));
  await rawImage(40, 12, 12).png().toFile(join(dir, 'wide.png'));
  await rawImage(9, 9, 13).png().toFile(join(dir, 'tiny.png'));
  await rawImage(64, 64, 14).png().toFile(join(dir, 'big.png'));
  const ds = await ImageDataset.open({ dir, crop: 16, batchSize: 4, seed: 1 });
  const [b] = await take(ds, 1);
  const info = Object.fromEntries(b!.files.map((f, j) => [f, b!.crops[j]!]));
  t.match(info['tall.png'], { width: 16, height: 32, upscaled: true });
  t.match(info['wide.png'], { width: 53, height: 16, upscaled: true, top: 0 });
  t.match(info['tiny.png'], { width: 16, height: 16, upscaled: true, left: 0, top: 0 });
  t.match(info['big.png'], { width: 64, height: 64, upscaled: false });
  await checkPixels(t, dir, b!);
});

t.test('annotations: CSV and JSON attached to the right files', async (t) => {
  const dir = await makeFolder('annotated', 6);
  const csv = join(root, 'labels.csv');
  writeFileSync(csv, [
    'file,identity,caption,Smiling',
    'images/img00.png,82,"a red, noisy square",1',
    'images/img01.png,17,"she said ""hi""\nand left",0',
    'img03.png,5,,1',
    'images/img04.png,9,plain text,0',
    'images/not-in-folder.png,1,x,0',
  ].join('\r\n') + '\r\n');
  const viaCsv = await ImageDataset.open({ dir, crop: 8, batchSize: 6, seed: 4, annotations: csv });
  const [b] = await take(viaCsv, 1);
  const byFile = Object.fromEntries(b!.files.map((f, j) => [f, { caption: b!.captions[j], labels: b!.labels[j] }]));
  t.same(byFile['img00.png'], { caption: 'a red, noisy square', labels: { file: 'images/img00.png', identity: '82', caption: 'a red, noisy square', Smiling: '1' } });
  t.same(byFile['img01.png']!.caption, 'she said "hi"\nand left');
  t.same(byFile['img03.png'], { caption: undefined, labels: { file: 'img03.png', identity: '5', caption: '', Smiling: '1' } });
  t.equal(byFile['img04.png']!.labels!.identity, '9');
  t.same(byFile['img02.png'], { caption: undefined, labels: undefined }, 'no annotation: undefined');
  t.same(byFile['img05.png'], { caption: undefined, labels: undefined });

  const coco = join(root, 'coco.json');
  const caps = (k: number) => Array.from({ length: 5 }, (_, c) => `caption ${c} of image ${k}`);
  writeFileSync(coco, JSON.stringify({
    description: 'test',
    categories: [{ id: 1, name: 'person' }],
    images: [0, 1, 2, 4].map((k) => ({ file: `images/img0${k}.png`, coco_image_id: 100 + k, captions: caps(k), boxes: [{ bbox: [1, 2, 3, 4] }] })),
  }));
  const viaCoco = await ImageDataset.open({ dir, crop: 8, batchSize: 3, seed: 4, annotations: coco });
  const seen = new Map<string, Set<string>>();
  for (const batch of await take(viaCoco, 20)) {
    batch.files.forEach((f, j) => {
      const k = Number(f.slice(3, 5));
      const caption = batch.captions[j];
      if ([0, 1, 2, 4].includes(k)) {
        t.ok(caps(k).includes(caption!), `${f}: one of its own captions`);
        t.equal(batch.labels[j]!.coco_image_id, String(100 + k));
        t.same(JSON.parse(batch.labels[j]!.captions!), caps(k), 'arrays are JSON-encoded in labels');
        if (!seen.has(f)) seen.set(f, new Set());
        seen.get(f)!.add(caption!);
      } else {
        t.equal(caption, undefined);
        t.equal(batch.labels[j], undefined);
      }
    });
  }
  t.ok([...seen.values()].some((s) => s.size > 1), 'the chosen caption varies between epochs');
  const again = await take(await ImageDataset.open({ dir, crop: 8, batchSize: 3, seed: 4, annotations: coco }), 20);
  t.same(again.map((x) => x.captions), (await take(viaCoco, 20)).map((x) => x.captions), 'caption choice is seeded');

  const map = join(root, 'map.json');
  writeFileSync(map, JSON.stringify({ 'img00.png': 'just a caption', 'sub/img05.png': { label: 'cat', score: 0.5 } }));
  const [m] = await take(await ImageDataset.open({ dir, crop: 8, batchSize: 6, seed: 4, annotations: map }), 1);
  const mm = Object.fromEntries(m!.files.map((f, j) => [f, { caption: m!.captions[j], labels: m!.labels[j] }]));
  t.same(mm['img00.png'], { caption: 'just a caption', labels: { caption: 'just a caption' } });
  t.same(mm['img05.png'], { caption: undefined, labels: { label: 'cat', score: '0.5' } });
  t.same(mm['img01.png'], { caption: undefined, labels: undefined });
});

t.test('celeba-mini labels.csv by basename', needsCeleba, async (t) => {
  const dir = join(celebaMini, 'images');
  const ds = await ImageDataset.open({ dir, crop: 64, batchSize: 4, seed: 0, limit: 8, annotations: join(celebaMini, 'labels.csv') });
  const [b] = await take(ds, 1);
  for (let j = 0; j < 4; j++) {
    t.equal(b!.labels[j]!.file, `images/${b!.files[j]}`);
    t.match(b!.labels[j]!.identity, /^\d+$/);
    t.match(b!.labels[j]!.Smiling, /^[01]$/);
  }
});

t.test('coco-mini annotations by basename', needsCoco, async (t) => {
  const dir = join(cocoMini, 'images');
  const ds = await ImageDataset.open({ dir, crop: 128, batchSize: 4, seed: 0, limit: 8, annotations: join(cocoMini, 'annotations.json') });
  const [b] = await take(ds, 1);
  for (let j = 0; j < 4; j++) {
    const captions = JSON.parse(b!.labels[j]!.captions!) as string[];
    t.equal(captions.length, 5);
    t.ok(captions.includes(b!.captions[j]!), `${b!.files[j]}: a caption of its own`);
    t.equal(b!.labels[j]!.file, `images/${b!.files[j]}`);
  }
});

t.test('typed errors', async (t) => {
  const dir = await makeFolder('errors', 4);
  const base = { dir, crop: 8, batchSize: 2, seed: 0 };
  await t.rejects(ImageDataset.open({ ...base, dir: join(root, 'no-such-folder') }), { name: 'PsicInputError', message: /cannot read dataset dir/ });
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await t.rejects(ImageDataset.open({ ...base, dir: empty }), { name: 'PsicInputError', message: /has no png/ });
  writeFileSync(join(empty, 'readme.txt'), 'x');
  await t.rejects(ImageDataset.open({ ...base, dir: empty }), PsicInputError, 'non-image files do not count');
  await t.rejects(ImageDataset.open({ ...base, dir: join(dir, 'img00.png') }), { message: /not a folder/ });
  await t.rejects(ImageDataset.open({ ...base, crop: 0 }), { name: 'PsicInputError', message: /crop must be a positive integer/ });
  await t.rejects(ImageDataset.open({ ...base, crop: 2.5 }), PsicInputError);
  await t.rejects(ImageDataset.open({ ...base, batchSize: 0 }), { message: /batchSize/ });
  await t.rejects(ImageDataset.open({ ...base, batchSize: 5 }), { name: 'PsicInputError', message: /batchSize 5 is larger than the dataset \(4 images\)/ });
  await t.rejects(ImageDataset.open({ ...base, limit: 1 }), { message: /no full batch/ });
  await t.rejects(ImageDataset.open({ ...base, seed: 0.5 }), { message: /seed/ });
  await t.rejects(ImageDataset.open({ ...base, prefetch: -1 }), { message: /prefetch/ });
  await t.rejects(ImageDataset.open({ ...base, files: ['img00.png', 'nope.png'] }), { message: /nope\.png/ });
  await t.rejects(ImageDataset.open({ ...base, files: ['img00.png', 'img00.png'] }), { message: /twice/ });
  await t.rejects(ImageDataset.open({ ...base, annotations: join(root, 'missing.csv') }), { name: 'PsicIoError', message: /cannot read annotations/ });
  writeFileSync(join(root, 'bad.json'), '{"images": [');
  await t.rejects(ImageDataset.open({ ...base, annotations: join(root, 'bad.json') }), { name: 'PsicInputError', message: /not valid JSON/ });
  writeFileSync(join(root, 'nofile.csv'), 'name,caption\na.png,x\n');
  await t.rejects(ImageDataset.open({ ...base, annotations: join(root, 'nofile.csv') }), { name: 'PsicInputError', message: /no 'file' column/ });
  writeFileSync(join(root, 'ragged.csv'), 'file,caption\na.png,x,y\n');
  await t.rejects(ImageDataset.open({ ...base, annotations: join(root, 'ragged.csv') }), { message: /row 2 has 3 fields/ });
  writeFileSync(join(root, 'badcaps.json'), JSON.stringify({ images: [{ file: 'a.png', captions: 'not a list' }] }));
  await t.rejects(ImageDataset.open({ ...base, annotations: join(root, 'badcaps.json') }), { message: /captions/ });

  // A corrupt image: batches() rejects naming the file, promptly, whatever the prefetch depth.
  writeFileSync(join(dir, 'img02.png'), noise(300, 77));
  for (const prefetch of [0, 2, 5]) {
    const ds = await ImageDataset.open({ ...base, prefetch });
    const started = Date.now();
    await t.rejects(take(ds, 10), { name: 'PsicInputError', message: /img02\.png.*could not be decoded/ }, `prefetch ${prefetch}`);
    t.ok(Date.now() - started < 10000, 'no hang');
  }
  const truncated = join(root, 'truncated');
  mkdirSync(truncated);
  const jpeg = await rawImage(64, 64, 9).jpeg().toBuffer();
  writeFileSync(join(truncated, 'cut.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  await t.rejects(take(await ImageDataset.open({ dir: truncated, crop: 8, batchSize: 1, seed: 0 }), 1), { name: 'PsicInputError', message: /cut\.jpg/ });

  const ds = await ImageDataset.open({ ...base, files: ['img00.png', 'img01.png'] });
  ds.close();
  t.throws(() => ds.batches(), /closed/);
});

t.test('prefetch decodes off the main thread; the event loop stays responsive', async (t) => {
  // Large images so that decoding takes a while: 12 PNGs of 1600x1200 noise.
  const dir = join(root, 'large');
  mkdirSync(dir);
  for (let k = 0; k < 12; k++) await rawImage(1600, 1200, 500 + k).png({ compressionLevel: 1 }).toFile(join(dir, `big${k}.png`));
  const ds = await ImageDataset.open({ dir, crop: 256, batchSize: 4, seed: 1, prefetch: 2 });
  const cold = await ImageDataset.open({ dir, crop: 256, batchSize: 4, seed: 1, prefetch: 0 });

  // Cold: prefetch 0 decodes on demand, so each read after a pause waits for a whole batch.
  const coldIt = cold.batches();
  await coldIt.next(); // warm the metadata cache and the file cache
  let coldWait = 0;
  for (let k = 0; k < 2; k++) {
    await new Promise((r) => setTimeout(r, 400));
    const s = performance.now();
    await coldIt.next();
    coldWait += performance.now() - s;
  }
  await coldIt.return?.();

  const it = ds.batches();
  const started = performance.now();
  const gaps = watchTimerGaps(10);
  t.teardown(() => gaps.stop());
  const first = await it.next();
  t.equal(first.done, false);
  const firstMs = performance.now() - started;
  let warmWait = 0;
  for (let k = 0; k < 2; k++) {
    await new Promise((r) => setTimeout(r, 400)); // a slow consumer
    const s = performance.now();
    const r = await it.next();
    warmWait += performance.now() - s;
    t.equal(r.done, false);
  }
  const elapsed = performance.now() - started;
  await it.return?.();
  const { maxGapMs: maxGap, ticks } = gaps.stop();
  t.comment(`first batch ${firstMs.toFixed(0)} ms; read after a pause: ${(warmWait / 2).toFixed(1)} ms with prefetch 2, ${(coldWait / 2).toFixed(1)} ms with prefetch 0; ${ticks} ticks in ${elapsed.toFixed(0)} ms, max gap ${maxGap.toFixed(0)} ms`);
  t.ok(ticks >= (elapsed / 10) * 0.4, 'the 10 ms timer kept firing while batches decoded');
  t.ok(maxGap < 300, `the event loop was never blocked long (max gap ${maxGap.toFixed(0)} ms)`);
  t.ok(warmWait < coldWait, 'with prefetch, the next batch is ready when a slow consumer asks for it');
  ds.close();
  cold.close();
  t.same(readdirSync(dir).length, 12);
});
