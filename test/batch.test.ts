// The batch API: compressMany / decompressMany and their iterators on a small random-init PSIC
// model and real Kodak images (downscaled through sharp): input order, equality with single
// calls, per-item failures, lazy input pulling, misuse, grouped (batchSize) transforms, devices,
// more jobs than libuv threads, and a responsive event loop while a batch runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { Codec, PsicDeviceError, PsicInputError, PsicKeyError, generateKey, threadpoolSize } from '../src/index.js';
import { watchTimerGaps } from '../src/bench/timer-gap.js';
import { needsBoth, sharedDir, tinyModel } from './helpers/shared.js';

const kodak = (n: number) => join(sharedDir(), 'data', 'kodak', `kodim${String(n).padStart(2, '0')}.png`);

t.test('batch API', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const modelPath = join(dir, 'psic.safetensors');
  await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, conditionDim: 4, seed: 3 })).save(modelPath);
  const codec = await Codec.load(modelPath);
  const images: string[] = [];
  for (let i = 1; i <= 6; i++) {
    const path = join(dir, `k${i}.png`);
    await sharp(kodak(i)).resize(96 + 16 * i, 64).png().toFile(path);
    images.push(path);
  }
  const plan = codec.planBatch({ concurrency: 2 });
  const single = (p: string) => codec.compress(p, { threads: plan.threadsPerJob });
  const expected: Uint8Array[] = [];
  for (const p of images) expected.push(await single(p));

  t.test('compressMany: input order, same bytes as single calls', async (t) => {
    const items = await codec.compressMany(images, { concurrency: 2 });
    t.equal(items.length, images.length);
    items.forEach((it, i) => {
      t.equal(it.index, i);
      t.equal(it.path, images[i]);
      t.ok(it.ok && Buffer.from(it.value).equals(Buffer.from(expected[i])), `item ${i} equals codec.compress`);
    });
  });

  t.test('decompressMany: bytes and paths, protected and keyed, equal to single calls', async (t) => {
    const key = generateKey();
    const files = expected.map((c, i) => {
      const path = join(dir, `c${i}.psic`);
      writeFileSync(path, c);
      return path;
    });
    for (const options of [{}, { key }]) {
      const fromBytes = await codec.decompressMany(expected, { concurrency: 3, ...options });
      const fromPaths = await codec.decompressMany(files, { concurrency: 3, ...options });
      for (const [i, c] of expected.entries()) {
        const one = await codec.decompress(c, { ...options, threads: codec.planBatch({ concurrency: 3 }).threadsPerJob });
        for (const it of [fromBytes[i], fromPaths[i]]) {
          t.ok(it.ok && it.value.width === one.width && Buffer.from(it.value.data).equals(Buffer.from(one.data)), `item ${i} (${Object.keys(options).join() || 'protected'}) equals decompress`);
        }
      }
      t.equal(fromPaths[0].path, files[0]);
    }
  });

  t.test('a bad input fails alone; stopOnError rejects', async (t) => {
    const text = join(dir, 'notes.png');
    writeFileSync(text, 'not an image');
    const inputs = [images[0], text, images[1], join(dir, 'missing.png'), { data: new Uint8Array(5), width: 2, height: 2, channels: 3 as const }, images[2]];
    const items = await codec.compressMany(inputs, { concurrency: 2 });
    t.same(items.map((it) => it.ok), [true, false, true, false, false, true]);
    for (const i of [1, 4]) {
      const it = items[i];
      t.ok(!it.ok && it.error instanceof PsicInputError, `item ${i} is a PsicInputError`);
    }
    t.match(items[3], { ok: false, error: { name: 'PsicIoError', message: /cannot read input '.*missing\.png': no such file/ } }, 'a missing file is a PsicIoError');
    for (const [i, j] of [[0, 0], [2, 1], [5, 2]]) {
      const it = items[i];
      t.ok(it.ok && Buffer.from(it.value).equals(Buffer.from(expected[j])), `item ${i} still done`);
    }
    await t.rejects(codec.compressMany(inputs, { concurrency: 2, stopOnError: true }), PsicInputError);
    const bad = await codec.decompressMany([expected[0], new Uint8Array([1, 2, 3]), join(dir, 'missing.psic')]);
    t.same(bad.map((it) => it.ok), [true, false, false]);
    t.match(bad[1], { ok: false, error: { name: 'PsicFormatError' } });
    t.match(bad[2], { ok: false, error: { name: 'PsicIoError', message: /cannot read/ } });
  });

  t.test('iterators: ordered, as completed, lazy pulls, early break', async (t) => {
    const ordered: number[] = [];
    for await (const it of codec.compressEach(images, { concurrency: 3 })) ordered.push(it.index);
    t.same(ordered, [0, 1, 2, 3, 4, 5], 'in input order by default');
    const completed: number[] = [];
    for await (const it of codec.compressEach(images, { concurrency: 3, ordered: false })) completed.push(it.index);
    t.same([...completed].sort(), [0, 1, 2, 3, 4, 5], 'ordered: false yields every item');
    let pulled = 0;
    async function* many() {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield images[i % images.length];
      }
    }
    for await (const it of codec.compressEach(many(), { concurrency: 2 })) {
      t.ok(it.ok);
      break;
    }
    t.ok(pulled <= 5, `inputs are pulled as jobs start (${pulled} of 50 after the first result)`);
  });

  t.test('misuse is a typed error before any work', async (t) => {
    t.throws(() => codec.compressEach(images, { concurrency: 0 }), PsicInputError);
    await t.rejects(codec.compressMany(images, { concurrency: 1.5 }), PsicInputError);
    await t.rejects(codec.compressMany(images, { threads: -1 }), PsicInputError);
    await t.rejects(codec.compressMany(42 as never), PsicInputError);
    t.throws(() => codec.compressEach(images, { ordered: 'yes' } as never), PsicInputError);
    await t.rejects(codec.decompressMany(expected, { output: 'png' as never }), PsicInputError);
    const plain = await Codec.load(tinyModel());
    t.throws(() => plain.decompressEach(expected, { key: generateKey() }), PsicKeyError, 'a key for a single-decode model');
    await t.rejects(codec.compress(images[0], { threads: 0 }), PsicInputError);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await t.rejects(codec.compressMany(images, { signal: aborted.signal }), { message: 'stop' });
  });

  t.test('batchSize > 1: grouped transforms give the bytes and images of single calls', async (t) => {
    // Mixed sizes: the six images pad to two widths, so there are groups of several and of one.
    const plan = codec.planBatch({ batchSize: 4 });
    t.same(plan, { concurrency: 8, threadsPerJob: codec.planBatch({ concurrency: 1 }).threadsPerJob, batchSize: 4 });
    const packed = await codec.compressMany(images, { batchSize: 4 });
    const oneByOne = await Promise.all(images.map(async (p) => codec.compress(p, { threads: plan.threadsPerJob })));
    packed.forEach((it, i) => t.ok(it.ok && Buffer.from(it.value).equals(Buffer.from(oneByOne[i])), `item ${i}: same bitstream`));
    const key = generateKey();
    for (const options of [{}, { key }, { key, output: 'float32' as const }]) {
      const unpacked = await codec.decompressMany(oneByOne, { batchSize: 3, ...options });
      for (const [i, c] of oneByOne.entries()) {
        const one = await codec.decompress(c, { ...options, threads: plan.threadsPerJob });
        const it = unpacked[i];
        const diff = it.ok ? Math.max(...Array.from(it.value.data, (v, k) => Math.abs(v - one.data[k]))) : Infinity;
        // Float32 rows may differ by rounding in a grouped convolution; uint8 by at most one level.
        t.ok(it.ok && it.value.width === one.width && diff <= (options.output === 'float32' ? 1e-5 : 1),
          `item ${i} (${Object.keys(options).join() || 'protected'}): max difference ${diff}`);
      }
    }
    // A bad container in a group fails alone: the group is retried one by one.
    const mixed = await codec.decompressMany([oneByOne[0], oneByOne[1].subarray(0, 40), oneByOne[2]], { batchSize: 3 });
    t.same(mixed.map((it) => it.ok), [true, false, true]);
    t.match(mixed[1], { ok: false, error: { name: 'PsicFormatError' } });
    const badImage = await codec.compressMany([images[0], join(dir, 'missing.png'), images[1]], { batchSize: 2 });
    t.same(badImage.map((it) => it.ok), [true, false, true]);
    await t.rejects(codec.compressMany(images, { batchSize: 0 }), PsicInputError);
    await t.rejects(codec.compressMany(images, { batchSize: 2.5 }), PsicInputError);
  });

  t.test('devices: cpu by default; cuda without a CUDA build is a PsicDeviceError', async (t) => {
    t.equal(codec.device, 'cpu');
    await t.rejects(Codec.load(modelPath, { device: 'gpu' as never }), PsicInputError);
    if (Codec.cudaAvailable()) {
      t.equal((await Codec.load(modelPath, { device: 'cuda' })).device, 'cuda:0');
    } else {
      await t.rejects(Codec.load(modelPath, { device: 'cuda' }), PsicDeviceError);
      await t.rejects(Codec.load(modelPath, { device: 'cuda:1' }), PsicDeviceError);
    }
  });

  t.test('threads per job and more jobs than libuv threads', async (t) => {
    t.same(codec.planBatch({ concurrency: 2, threads: 4 }), { concurrency: 2, threadsPerJob: 2, batchSize: 1 });
    t.same(codec.planBatch({ concurrency: 1, threads: 3 }), { concurrency: 1, threadsPerJob: 3, batchSize: 1 });
    t.equal(codec.planBatch({ concurrency: 3, threads: 2 }).threadsPerJob, 1, 'never below one thread');
    const pool = threadpoolSize();
    t.equal(codec.planBatch({ concurrency: 64 }).concurrency, pool, 'capped at the libuv pool size');
    // Runs to completion with the same results (no deadlock when jobs outnumber pool threads).
    const items = await codec.compressMany([...images, ...images], { concurrency: 64, threads: pool });
    t.ok(items.every((it, i) => it.ok && Buffer.from(it.value).equals(Buffer.from(expected[i % images.length]))), 'all 12 done and equal');
  });

  t.test('the event loop stays responsive during a batch', async (t) => {
    const full = [1, 2, 3, 4].map(kodak);  // 768x512
    const gaps = watchTimerGaps(20);
    const t0 = performance.now();
    let allOk = true;
    // Batches for at least 2 s, so that a loop blocked by the batch would show as a long gap.
    while (performance.now() - t0 < 2000) {
      const packed = await codec.compressMany(full, { concurrency: 2 });
      const unpacked = await codec.decompressMany(packed.map((it) => (it.ok ? it.value : new Uint8Array())), { concurrency: 2 });
      allOk &&= packed.every((it) => it.ok) && unpacked.every((it) => it.ok);
    }
    const { maxGapMs: maxGap, ticks } = gaps.stop();
    t.ok(allOk, 'batches done');
    // Loose on purpose (a shared 2-core machine); not a speed assertion.
    t.ok(maxGap < 500, `20 ms timer: longest gap ${maxGap.toFixed(0)} ms over ${(performance.now() - t0).toFixed(0)} ms (${ticks} ticks)`);
  });
});
