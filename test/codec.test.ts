// The Codec API: loading checkpoints and model files, round trips, errors, and a bounded fuzz
// of the container decoder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import {
  Codec,
  PsicError,
  PsicFormatError,
  PsicInputError,
  PsicLimitError,
  PsicModelMismatchError,
  PsicWeightsError,
  psnr,
  readImage,
} from '../src/index.js';
import { crc32 } from './helpers/crc32.js';
import { bigModel, fixtures, needsBoth, tinyModel } from './helpers/shared.js';

const kodak = (name: string) => join(fixtures(), 'inputs', name);

t.test('loading', needsBoth, async (t) => {
  const tiny = await Codec.load(tinyModel());
  const legacy = await Codec.load(join(fixtures(), 'tiny-N16-M24.legacy-keys.pth.tar'));
  const big = await Codec.load(bigModel());
  t.same(tiny.config, { architecture: 'bmshj2018-hyperprior', N: 16, M: 24 });
  t.same(big.config, { architecture: 'bmshj2018-hyperprior', N: 128, M: 192 });
  t.equal(tiny.modelId, legacy.modelId, 'both EntropyBottleneck key styles load to the same model');
  t.not(tiny.modelId, big.modelId);
  t.match(tiny.modelId, /^[0-9a-f]{32}$/);
  await t.rejects(Codec.load('/nonexistent/model.pth'), PsicWeightsError);
  await t.rejects(Codec.load(kodak('k15-64x64.png')), PsicFormatError, 'an image is not a model');
  await t.rejects(Codec.load(tinyModel(), { path: 'turbo' as never }), PsicInputError);
  await t.rejects(Codec.load(tinyModel(), { threads: 0 }), PsicInputError);
});

t.test('round trip, formats of input, model mismatch, save/load', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-codec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const big = await Codec.load(bigModel());
  const tiny = await Codec.load(tinyModel());
  const png = kodak('k19-200x130.png');
  const original = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const stats = await big.compressWithStats(png);
  t.equal(stats.width, 200);
  t.equal(stats.height, 130);
  t.equal(stats.bpp, (stats.container.length * 8) / (200 * 130));
  t.ok(stats.payloadBpp < stats.bpp, 'payload bpp excludes the header');
  t.ok(Math.abs(stats.estimatedBpp - stats.payloadBpp) < 0.1 * stats.payloadBpp, 'estimated bpp is close to the real one');
  const decoded = await big.decompress(stats.container);
  t.equal(decoded.width, 200);
  t.equal(decoded.height, 130);
  t.ok(psnr(new Uint8Array(original.data), decoded.data) > 20, 'decoded image resembles the input');

  // The same pixels through every input kind give the same bitstream.
  const raw = { data: new Uint8Array(original.data), width: 200, height: 130, channels: 3 as const };
  const fromBuffer = await big.compress(await sharp(png).png().toBuffer());
  const fromRaw = await big.compress(raw);
  t.same(Buffer.from(fromBuffer), Buffer.from(stats.container));
  t.same(Buffer.from(fromRaw), Buffer.from(stats.container));
  const jpeg = await big.compress(await sharp(png).jpeg().toBuffer());
  const webp = await big.compress(await sharp(png).webp().toBuffer());
  t.ok(jpeg.length > 76 && webp.length > 76, 'JPEG and WebP inputs compress');

  await t.rejects(tiny.decompress(stats.container), PsicModelMismatchError);

  const saved = join(dir, 'big.safetensors');
  await big.save(saved);
  const reloaded = await Codec.load(saved);
  t.equal(reloaded.modelId, big.modelId, 'a saved model keeps its id');
  t.equal(reloaded.source, 'psic');
  t.same(Buffer.from(await reloaded.compress(png)), Buffer.from(stats.container), 'and makes the same bitstream');

  // The SDK's own image types go back in: readImage's result and decompress's output.
  const read = await readImage(png);
  t.same(Buffer.from(await big.compress(read)), Buffer.from(stats.container), 'readImage() -> compress');
  const again = await big.compress(decoded);
  t.ok(again.length > 76, 'decompress() output -> compress');
  await t.rejects(big.compress(await big.decompress(stats.container, { output: 'float32' }) as never), { name: 'PsicInputError', message: /uint8/ }, 'a float32 decode is refused clearly');

  const pngOut = await big.decompressToPng(stats.container);
  t.same([...pngOut.subarray(1, 4)], [0x50, 0x4e, 0x47], 'decompressToPng gives a PNG');
});

t.test('a condition with NaN or infinite values is refused', needsBoth, async (t) => {
  const codec = await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, conditionDim: 4, seed: 1 });
  const container = await codec.compress(kodak('k15-64x64.png'));
  for (const bad of [NaN, Infinity, -Infinity]) {
    await t.rejects(codec.decompress(container, { condition: new Float32Array([0.1, bad, 0.2, 0.3]) }), { name: 'PsicInputError', message: /condition value 1 is not finite/ }, `${bad}`);
    await t.rejects(codec.decompressMany([container], { condition: new Float32Array([bad, 0, 0, 0]) }), { name: 'PsicInputError' }, `${bad} in a batch`);
  }
  t.ok((await codec.decompress(container, { condition: new Float32Array([0.1, -1, 1, 0]) })).width === 64, 'finite values decode');
});

t.test('bad input', needsBoth, async (t) => {
  const tiny = await Codec.load(tinyModel(), { pixelLimit: 100_000 });
  await t.rejects(tiny.compress(Buffer.from('this is not an image')), PsicInputError);
  await t.rejects(tiny.compress('/nonexistent.png'), { name: 'PsicIoError', message: /cannot read input '\/nonexistent\.png'/ });
  await t.rejects(tiny.compress({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }), PsicInputError);
  await t.rejects(tiny.compress({ data: new Uint8Array(0), width: 0, height: 2, channels: 3 }), PsicInputError);
  await t.rejects(tiny.compress(42 as never), PsicInputError);
  await t.rejects(tiny.compress(kodak('kodim23.png')), PsicLimitError, 'pixel limit is checked before decoding');
  const truncatedPng = (await sharp(kodak('k15-64x64.png')).png().toBuffer()).subarray(0, 200);
  await t.rejects(tiny.compress(truncatedPng), PsicInputError);
  await t.rejects(tiny.decompress(new Uint8Array(0)), PsicFormatError);
  await t.rejects(tiny.decompress(Buffer.from('PNG? no, GIF89a............')), PsicFormatError);
  await t.rejects(tiny.decompress('abc' as never), PsicInputError);
});

// A header that passes the checksum but lies about its size must be refused before any allocation.
function craftHeader(width: number, height: number, zLen = 8, yLen = 8, version = 1): Uint8Array {
  const b = Buffer.alloc(76 + zLen + yLen);
  b.write('PSIC', 0, 'latin1');
  b.writeUInt16LE(version, 4);
  b.writeUInt16LE(76, 6);
  b.writeUInt32LE(height, 24);
  b.writeUInt32LE(width, 28);
  const crc = crc32(Buffer.concat([b.subarray(0, 72), b.subarray(76)]));
  b.writeUInt32LE(crc, 72);
  return b;
}

t.test('handcrafted headers', needsBoth, async (t) => {
  const tiny = await Codec.load(tinyModel());
  t.throws(() => Codec.inspect(craftHeader(0, 10)), PsicFormatError, 'zero width');
  t.throws(() => Codec.inspect(craftHeader(0xffffffff, 0xffffffff)), PsicLimitError, 'absurd dimensions');
  await t.rejects(tiny.decompress(craftHeader(100000, 100000)), PsicLimitError);
  t.throws(() => Codec.inspect(craftHeader(64, 64, 8, 8, 2)), PsicFormatError, 'unknown version');
  t.throws(() => Codec.inspect(craftHeader(64, 64)), PsicFormatError, 'inconsistent geometry');
  const big = craftHeader(20000, 20000);
  t.throws(() => Codec.inspect(big, { pixelLimit: 1000 }), PsicLimitError, 'a configurable limit');
});

t.test('10,000 random mutations and truncations never crash or hang', needsBoth, async (t) => {
  const tiny = await Codec.load(tinyModel());
  const valid = await tiny.compress(kodak('k15-64x64.png'));
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const outcomes = { decoded: 0, typed: 0 };
  const started = Date.now();
  for (let i = 0; i < 10_000; i++) {
    let bytes: Uint8Array = Buffer.from(valid);
    const kind = i % 4;
    if (kind === 0) bytes = bytes.subarray(0, rand(bytes.length));
    else {
      const flips = 1 + rand(4);
      for (let f = 0; f < flips; f++) bytes[rand(bytes.length)] ^= 1 + rand(255);
      // Half the mutations keep a valid checksum, so they reach the header checks and the rANS decoder.
      if (kind >= 2 && bytes.length >= 76) Buffer.from(bytes.buffer, bytes.byteOffset).writeUInt32LE(crc32(Buffer.concat([bytes.subarray(0, 72), bytes.subarray(76)])), 72);
    }
    try {
      await tiny.decompress(bytes);
      outcomes.decoded++;
    } catch (err) {
      if (!(err instanceof PsicError)) throw err;
      outcomes.typed++;
    }
  }
  t.equal(outcomes.decoded + outcomes.typed, 10_000, `every input decoded or threw a PsicError (${JSON.stringify(outcomes)}, ${Date.now() - started} ms)`);
  t.ok(outcomes.typed > 5000, 'most corruptions are detected');
});
