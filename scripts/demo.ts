// npm run demo: compress and decompress a real photo, then print size, bpp and PSNR.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { writeFileAtomic } from '../src/atomic-write.js';
import { Codec, psnr, readImage, writePng } from '../src/index.js';

const shared = resolve(process.env.PSIC_SHARED ?? join(process.cwd(), '..', 'shared'));
const photo = process.argv[2] ?? join(shared, 'data', 'kodak', 'kodim23.png');
const seed = join(shared, 'models', 'hyperprior-N128-M192-seed.pth.tar');
const fixture = join(shared, 'fixtures', 'compressai-hyperprior', 'hyperprior-N128-M192.pth.tar');
const model = process.argv[3] ?? (existsSync(seed) ? seed : fixture);

if (!existsSync(photo) || !existsSync(model)) {
  console.error(`demo: needs a photo and a model; looked for ${photo} and ${model}. Set PSIC_SHARED to the shared data folder.`);
  process.exit(1);
}

const outDir = join(process.cwd(), 'out');
mkdirSync(outDir, { recursive: true });
const codec = await Codec.load(model);
const original = await readImage(photo);
const stats = await codec.compressWithStats(photo);
const t1 = performance.now();
const decoded = await codec.decompress(stats.container);
const t2 = performance.now();
await writeFileAtomic(join(outDir, 'demo.psic'), stats.container);
await writePng(decoded, join(outDir, 'demo.png'));

console.log(`model     ${model} (${codec.architecture}, N=${codec.config.N}, M=${codec.config.M}, id ${codec.modelId})`);
console.log(`photo     ${photo} (${original.width}x${original.height})`);
console.log(`size      ${stats.container.length} bytes -> out/demo.psic, decoded -> out/demo.png`);
console.log(`bpp       ${stats.bpp.toFixed(4)} (payload ${stats.payloadBpp.toFixed(4)}, model estimate ${stats.estimatedBpp.toFixed(4)})`);
console.log(`PSNR      ${psnr(original.data, decoded.data).toFixed(3)} dB`);
console.log(`time      encode ${stats.timings.totalMs.toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms (${codec.architecture}, fast path)`);
