// Decodes image sets with a PSIC model for evaluation: for each image, the protected decode,
// the full decode (owner's key), one wrong-key decode and the plain backbone's decode, written
// as PNGs under OUT/{protected,full,wrong-key,backbone}/, plus bpp and PSNR per decode in
// OUT/summary.json. Usage:
//   node --import tsx scripts/decode-sets.ts --model M --key-file K --backbone CKPT --data DIR --out OUT [--limit N]
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';

import { Codec, psnr, readImage, readKeyFile, writePng } from '../src/index.js';
import { Progress } from '../src/io/progress.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, 'key-file': { type: 'string' }, backbone: { type: 'string' },
  data: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' } } });
if (!values.model || !values['key-file'] || !values.backbone || !values.data || !values.out) {
  console.error('usage: decode-sets.ts --model M --key-file K --backbone CKPT --data DIR --out OUT [--limit N]');
  process.exit(2);
}
const model = await Codec.load(values.model);
const backbone = await Codec.load(values.backbone);
const key = await readKeyFile(values['key-file']);
const wrongKey = 'f0'.repeat(32);
let files = readdirSync(values.data).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
if (values.limit) files = files.slice(0, Number(values.limit));
const kinds = ['protected', 'full', 'wrong-key', 'backbone'] as const;
for (const k of kinds) mkdirSync(join(values.out, k), { recursive: true });
const sums: Record<string, { bpp: number; psnr: number }> = Object.fromEntries(kinds.map((k) => [k, { bpp: 0, psnr: 0 }]));
const bar = new Progress('decode', files.length);
for (const f of files) {
  const path = join(values.data, f);
  const original = await readImage(path);
  const raw = { ...original, channels: 3 as const };
  const bytes = await model.compress(raw);
  const plainBytes = await backbone.compress(raw);
  const pixels = original.width * original.height;
  const decodes = {
    protected: await model.decompress(bytes),
    full: await model.decompress(bytes, { key }),
    'wrong-key': await model.decompress(bytes, { key: wrongKey }),
    backbone: await backbone.decompress(plainBytes),
  };
  for (const k of kinds) {
    await writePng(decodes[k], join(values.out, k, `${basename(f, extname(f))}.png`));
    sums[k].bpp += ((k === 'backbone' ? plainBytes.length : bytes.length) * 8) / pixels;
    sums[k].psnr += psnr(original.data, decodes[k].data);
  }
  bar.tick(f);
}
bar.finish();
const summary = { model: values.model, backbone: values.backbone, data: values.data, images: files.length,
  mean: Object.fromEntries(kinds.map((k) => [k, { bpp: sums[k].bpp / files.length, psnr: sums[k].psnr / files.length }])) };
writeFileSync(join(values.out, 'summary.json'), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary));
