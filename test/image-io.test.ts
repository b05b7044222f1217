// Image input and output through sharp, and argument validation before any decoding.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { writeFileAtomic } from '../src/io/atomic-write.js';
import { PsicInputError, PsicLimitError, readImage, writePng } from '../src/index.js';
import { fixtures, needsShared } from './helpers/shared.js';

t.test('decodes every input kind to RGB', needsShared, async (t) => {
  const png = join(fixtures(), 'inputs', 'k15-64x64.png');
  const fromPath = await readImage(png);
  t.match(fromPath, { width: 64, height: 64 });
  t.equal(fromPath.data.length, 64 * 64 * 3);
  const rgba = await sharp(png).ensureAlpha().raw().toBuffer();
  const fromRgba = await readImage({ data: new Uint8Array(rgba), width: 64, height: 64, channels: 4 });
  t.same(Buffer.from(fromRgba.data), Buffer.from(fromPath.data), 'RGBA drops alpha');
  const grey = await readImage({ data: new Uint8Array(16).fill(7), width: 4, height: 4, channels: 1 });
  t.equal(grey.data.length, 48);
  t.ok(grey.data.every((v) => v === 7), 'grey expands to RGB');
  const webp = await readImage(await sharp(png).webp({ lossless: true }).toBuffer());
  t.same(Buffer.from(webp.data), Buffer.from(fromPath.data), 'lossless WebP decodes to the same pixels');
});

t.test('one clear error per misuse', async (t) => {
  await t.rejects(readImage(Buffer.alloc(0)), PsicInputError);
  await t.rejects(readImage(Buffer.from('GIF? no')), { name: 'PsicInputError', message: /not a supported image/ });
  await t.rejects(readImage({ data: new Uint8Array(5), width: 2, height: 2, channels: 3 }), { message: /expected width\*height\*channels = 12/ });
  await t.rejects(readImage({ data: new Uint8Array(12), width: 2.5, height: 2, channels: 3 }), { message: /width must be a positive integer/ });
  await t.rejects(readImage({ data: new Uint8Array(8), width: 2, height: 2, channels: 2 as never }), { message: /channels must be 1, 3 or 4/ });
  await t.rejects(readImage({ data: [1, 2, 3] as never, width: 1, height: 1, channels: 3 }), { message: /Uint8Array/ });
  await t.rejects(readImage(null as never), PsicInputError);
  await t.rejects(readImage('/no/such/file.png'), { name: 'PsicIoError', message: /cannot read input '\/no\/such\/file\.png': no such file/ });
  await t.rejects(readImage({ data: new Uint8Array(300), width: 10, height: 10, channels: 3 }, { pixelLimit: 50 }), PsicLimitError);
  const big = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#808080' } }).png().toBuffer();
  await t.rejects(readImage(big, { pixelLimit: 1000 }), PsicLimitError, 'encoded images are checked from their header');
  await t.rejects(readImage(big, { pixelLimit: -1 }), PsicInputError);
});

t.test('atomic writes leave nothing behind on failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-io-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writePng({ data: new Uint8Array(12).fill(200), width: 2, height: 2 }, join(dir, 'ok.png'));
  t.same(readdirSync(dir), ['ok.png']);
  await t.rejects(writeFileAtomic(join(dir, 'no-such-dir', 'x.png'), new Uint8Array(3)), { name: 'PsicIoError', message: /no-such-dir\/x\.png/ });
  await t.rejects(writePng({ data: new Uint8Array(5), width: 2, height: 2 }, join(dir, 'bad.png')));
  t.same(readdirSync(dir), ['ok.png'], 'no partial or temp files');
});
