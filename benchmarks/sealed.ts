// Sealed files against unsealed ones, side by side on one machine: container sizes (the
// conditional coding and simulcast), the public decode's PSNR against today's protected decode
// (and against the other public synthesis), the full decode's identity, and the time sealing
// and unsealing add. Every figure of docs/results.md "Sealed files" comes from here.
//   node --import tsx benchmarks/sealed.ts [--model M] [--key-file K] [--data DIR] [--limit N] [--json]
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { Codec, psnr, readImage, readKeyFile } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const shared = process.env.PSIC_SHARED ?? '../shared';
const modelPath = flag('--model', 'models/psic-balle-faces.safetensors');
const data = flag('--data', join(shared, 'data', 'kodak'));
const limit = Number(flag('--limit', '1000'));
const key = await readKeyFile(flag('--key-file', 'models/demo-owner.key'));
const codec = await Codec.load(modelPath, { threads: Number(process.env.PSIC_THREADS ?? 2) });

const files = readdirSync(data).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort().slice(0, limit).map((f) => join(data, f));
const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

interface Row {
  file: string;
  bytes: Record<'plain' | 'sealed' | 'conditional' | 'simulcast' | 'public' | 'sealedSection', number>;
  coding: string;
  psnr: Record<'full' | 'protected' | 'sealedPublic' | 'sealedPublicOtherSynthesis', number>;
  fullIdentical: boolean;
  ms: Record<'compress' | 'compressSealed' | 'decompressFull' | 'decompressFullSealed' | 'decompressProtected' | 'decompressPublicSealed', number>;
}
const rows: Row[] = [];
for (const file of files) {
  const image = await readImage(file);
  const [plain, tPlain] = await time(() => codec.compress(image));
  const [sealed, tSealed] = await time(() => codec.compress(image, { seal: { key } }));
  const simulcast = await codec.compress(image, { seal: { key, coding: 'simulcast' } });
  const conditional = await codec.compress(image, { seal: { key, coding: 'conditional' } });
  const otherSynthesis = await codec.compress(image, { seal: { key, publicSynthesis: 'protected' } });
  const [fullPlain, tFullPlain] = await time(() => codec.decompress(plain, { key }));
  const [fullSealed, tFullSealed] = await time(() => codec.decompress(sealed, { key }));
  const [shownPlain, tShownPlain] = await time(() => codec.decompress(plain));
  const [shownSealed, tShownSealed] = await time(() => codec.decompress(sealed));
  const shownOther = await codec.decompress(otherSynthesis);
  const info = Codec.inspect(sealed);
  rows.push({
    file: file.replace(/^.*\//, ''),
    bytes: { plain: plain.length, sealed: sealed.length, conditional: conditional.length, simulcast: simulcast.length, public: info.seal!.publicBytes, sealedSection: info.seal!.sealedBytes },
    coding: info.seal!.coding,
    psnr: { full: psnr(image.data, fullPlain.data), protected: psnr(image.data, shownPlain.data), sealedPublic: psnr(image.data, shownSealed.data), sealedPublicOtherSynthesis: psnr(image.data, shownOther.data) },
    fullIdentical: equal(fullPlain.data, fullSealed.data),
    ms: { compress: tPlain, compressSealed: tSealed, decompressFull: tFullPlain, decompressFullSealed: tFullSealed, decompressProtected: tShownPlain, decompressPublicSealed: tShownSealed },
  });
  if (!args.includes('--json')) process.stderr.write(`${rows.at(-1)!.file}: sealed/plain ${(sealed.length / plain.length).toFixed(3)}\n`);
}
const ratio = (k: 'sealed' | 'conditional' | 'simulcast') => mean(rows.map((r) => r.bytes[k] / r.bytes.plain));
const timeRatio = (a: keyof Row['ms'], b: keyof Row['ms']) => median(rows.map((r) => r.ms[a] / r.ms[b]));
const summary = {
  model: modelPath, data, images: rows.length, threads: Number(process.env.PSIC_THREADS ?? 2),
  sizeRatio: { sealed: ratio('sealed'), conditional: ratio('conditional'), simulcast: ratio('simulcast') },
  codings: { conditional: rows.filter((r) => r.coding === 'conditional').length, simulcast: rows.filter((r) => r.coding === 'simulcast').length },
  psnr: Object.fromEntries(Object.keys(rows[0].psnr).map((k) => [k, mean(rows.map((r) => r.psnr[k as keyof Row['psnr']]))])),
  fullIdentical: rows.every((r) => r.fullIdentical),
  timeRatio: { compress: timeRatio('compressSealed', 'compress'), decompressFull: timeRatio('decompressFullSealed', 'decompressFull'), decompressPublic: timeRatio('decompressPublicSealed', 'decompressProtected') },
  medianMs: Object.fromEntries(Object.keys(rows[0].ms).map((k) => [k, median(rows.map((r) => r.ms[k as keyof Row['ms']]))])),
};
process.stdout.write(`${JSON.stringify(args.includes('--rows') ? { summary, rows } : summary, null, 2)}\n`);
