// Image input edge cases that need neither the addon nor the shared data: every image is made
// here with sharp. Each decodes to 8-bit sRGB RGB (HWC), or fails with one typed error.
import sharp from 'sharp';
import t from 'tap';

import { PsicInputError, PsicLimitError, encodePng, readImage } from '../src/index.js';
import { crc32 } from './helpers/crc32.js';

/** A w×h RGB gradient whose every pixel differs from its neighbours. */
function gradient(w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 37) & 255;
      data[i + 1] = (y * 53) & 255;
      data[i + 2] = (x * 11 + y * 7) & 255;
    }
  return data;
}

const raw = (data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(data, { raw: { width, height, channels } });

t.test('encoded formats decode to the same pixels', async (t) => {
  const pixels = gradient(9, 7);
  const png = await raw(pixels, 9, 7, 3).png().toBuffer();
  const fromPng = await readImage(png);
  t.match(fromPng, { width: 9, height: 7 });
  t.same(Buffer.from(fromPng.data), Buffer.from(pixels), 'PNG is lossless');
  t.ok(fromPng.data instanceof Uint8Array);
  const webp = await readImage(await raw(pixels, 9, 7, 3).webp({ lossless: true }).toBuffer());
  t.same(Buffer.from(webp.data), Buffer.from(pixels), 'lossless WebP');
  const tiff = await readImage(await raw(pixels, 9, 7, 3).tiff({ compression: 'lzw' }).toBuffer());
  t.same(Buffer.from(tiff.data), Buffer.from(pixels), 'TIFF');
  const jpeg = await readImage(await raw(pixels, 9, 7, 3).jpeg({ quality: 95 }).toBuffer());
  t.match(jpeg, { width: 9, height: 7 });
  t.equal(jpeg.data.length, 9 * 7 * 3, 'JPEG decodes to RGB');
  const asUint8 = await readImage(new Uint8Array(png));
  t.same(Buffer.from(asUint8.data), Buffer.from(pixels), 'a plain Uint8Array works like a Buffer');
});

t.test('alpha, grey, 16-bit and CMYK inputs become 8-bit RGB', async (t) => {
  const pixels = gradient(5, 4);
  const rgba = new Uint8Array(5 * 4 * 4);
  for (let i = 0; i < 20; i++) {
    rgba.set(pixels.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = i * 13; // alpha varies, from fully transparent to nearly opaque
  }
  // Flattened onto white: what hides under transparent pixels must not show.
  const onto = (bg: number[]) => pixels.map((c, j) => {
    const a = rgba[Math.floor(j / 3) * 4 + 3] / 255;
    return c * a + bg[j % 3] * (1 - a);
  });
  const close = (got: Uint8Array, want: number[]) => got.every((v, j) => Math.abs(v - want[j]) <= 1.5);
  const fromRgbaPng = await readImage(await raw(rgba, 5, 4, 4).png().toBuffer());
  t.ok(close(fromRgbaPng.data, onto([255, 255, 255])), 'RGBA PNG: flattened onto white');
  t.same([...fromRgbaPng.data.subarray(0, 3)], [255, 255, 255], 'a fully transparent pixel is white');
  const fromRgbaRaw = await readImage({ data: rgba, width: 5, height: 4, channels: 4 });
  t.ok(close(fromRgbaRaw.data, onto([255, 255, 255])), 'raw RGBA: flattened onto white');
  const onBlack = await readImage({ data: rgba, width: 5, height: 4, channels: 4 }, { background: '#000000' });
  t.ok(close(onBlack.data, onto([0, 0, 0])), 'background: another colour');
  const onRed = await readImage({ data: rgba, width: 5, height: 4, channels: 4 }, { background: { r: 255, g: 0, b: 0 } });
  t.same([...onRed.data.subarray(0, 3)], [255, 0, 0], 'background as {r, g, b}');
  await t.rejects(readImage(rgba, { background: 'notacolour' }), { name: 'PsicInputError', message: /background/ });
  await t.rejects(readImage(rgba, { background: 42 as never }), { name: 'PsicInputError', message: /background/ });
  // A hidden colour under a fully transparent pixel (the case that leaked).
  const hidden = await raw(new Uint8Array([200, 10, 30, 0]), 1, 1, 4).png().toBuffer();
  t.same([...(await readImage(hidden)).data], [255, 255, 255], 'hidden RGB stays hidden');
  const opaque = await readImage({ data: rgba.map((v, j) => (j % 4 === 3 ? 255 : v)), width: 5, height: 4, channels: 4 });
  t.same(Buffer.from(opaque.data), Buffer.from(pixels), 'opaque RGBA: the same pixels');
  t.equal(opaque.channels, 3, 'readImage says channels: 3');

  const grey = new Uint8Array(20).map((_, i) => i * 12);
  const greyAlpha = new Uint8Array(40).map((_, i) => (i % 2 ? 255 : (i >> 1) * 12)); // opaque
  const fromGreyAlpha = await readImage(await raw(greyAlpha, 5, 4, 2).png().toBuffer());
  t.equal(fromGreyAlpha.data.length, 60, 'grey + alpha PNG: 3 channels');
  for (let i = 0; i < 20; i++) {
    const px = [...fromGreyAlpha.data.subarray(i * 3, i * 3 + 3)];
    if (px.some((v) => v !== grey[i])) {
      t.fail(`pixel ${i}: ${px} != ${grey[i]}`);
      break;
    }
  }

  const deep = await raw(pixels, 5, 4, 3).png().toColourspace('rgb16').toBuffer();
  t.equal((await sharp(deep).metadata()).depth, 'ushort', 'the PNG is 16-bit');
  const fromDeep = await readImage(deep);
  t.equal(fromDeep.data.length, 60, '16-bit PNG: 8-bit RGB');
  t.ok(fromDeep.data.every((v, i) => Math.abs(v - pixels[i]) <= 1), '16-bit PNG: same pixels');

  const cmyk = await raw(pixels, 5, 4, 3).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
  t.equal((await sharp(cmyk).metadata()).space, 'cmyk', 'the JPEG is CMYK');
  const fromCmyk = await readImage(cmyk);
  t.equal(fromCmyk.data.length, 60, 'CMYK JPEG: converted to RGB');
});

t.test('EXIF orientation is applied', async (t) => {
  const pixels = gradient(6, 3);
  // Orientation 6: the stored 6x3 image is displayed rotated 90° clockwise, as 3x6.
  const jpeg = await raw(pixels, 6, 3, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const image = await readImage(jpeg);
  t.match(image, { width: 3, height: 6 });
});

t.test('misuse: one typed error each, before decoding', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['a number', 42, /input must be a file path/],
    ['undefined', undefined, /input must be a file path/],
    ['an array', [1, 2, 3], /input must be a file path/],
    ['an empty buffer', new Uint8Array(0), /is empty/],
    ['random bytes', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), /not a supported image/],
    ['zero width', { data: new Uint8Array(0), width: 0, height: 4, channels: 3 }, /width must be a positive integer/],
    ['NaN height', { data: new Uint8Array(0), width: 4, height: NaN, channels: 3 }, /height must be a positive integer/],
    ['string width', { data: new Uint8Array(12), width: '2', height: 2, channels: 3 }, /width must be a positive integer/],
    ['channels 0', { data: new Uint8Array(4), width: 2, height: 2, channels: 0 }, /channels must be 1, 3 or 4/],
    ['Float32Array data', { data: new Float32Array(12), width: 2, height: 2, channels: 3 }, /must be a Uint8Array/],
    ['too much data', { data: new Uint8Array(13), width: 2, height: 2, channels: 3 }, /has 13 bytes, expected .* = 12/],
  ];
  for (const [what, input, message] of cases) {
    await t.rejects(readImage(input as never), { name: 'PsicInputError', message }, what);
  }
  const truncated = (await raw(gradient(40, 40), 40, 40, 3).png().toBuffer()).subarray(0, 100);
  await t.rejects(readImage(truncated), PsicInputError, 'a truncated PNG');
  for (const limit of [0, 1.5, -3, Infinity, '100']) {
    await t.rejects(readImage(new Uint8Array(3), { pixelLimit: limit as never }), { name: 'PsicInputError', message: /pixelLimit/ }, `pixelLimit ${String(limit)}`);
  }
});

t.test('the pixel limit is checked from the header, before decoding', async (t) => {
  const png = await sharp({ create: { width: 120, height: 100, channels: 3, background: '#102030' } }).png().toBuffer();
  await t.rejects(readImage(png, { pixelLimit: 11_999 }), { name: 'PsicLimitError', message: /120x100/ });
  t.match(await readImage(png, { pixelLimit: 12_000 }), { width: 120, height: 100 }, 'exactly at the limit is allowed');
  await t.rejects(readImage({ data: new Uint8Array(12_000 * 3), width: 120, height: 100, channels: 3 }, { pixelLimit: 100 }), PsicLimitError);
  // A PNG header that claims 30000x30000 (sharp's own limit would refuse it too, later): ours says so first.
  const hugeHeader = Buffer.from(png);
  hugeHeader.writeUInt32BE(30_000, 16);
  hugeHeader.writeUInt32BE(30_000, 20);
  hugeHeader.writeUInt32BE(crc32(hugeHeader.subarray(12, 29)), 29); // IHDR's CRC over type + data
  await t.rejects(readImage(hugeHeader, { pixelLimit: 1_000_000 }), PsicLimitError, 'a lying header');
});

t.test('encodePng round-trips', async (t) => {
  const pixels = gradient(8, 5);
  const png = await encodePng({ data: pixels, width: 8, height: 5 });
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = await readImage(png);
  t.same(Buffer.from(back.data), Buffer.from(pixels));
});
