// `psic compress --compat` on CompressAI's fixture PNGs reproduces CompressAI's y and z strings
// byte for byte (LibTorch at 1 thread, as the fixtures were made), and decoding gives x_hat
// within 1e-4.
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { Codec } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { bigModel, fixtures, needsBoth, tinyModel } from './helpers/shared.js';

t.test('compat bitstreams equal CompressAI', needsBoth, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'psic-compat-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const models: Record<string, string> = { 'tiny-N16-M24': tinyModel(), 'hyperprior-N128-M192': bigModel() };
  let compared = 0;
  for (const [name, model] of Object.entries(models)) {
    const caseRoot = join(fixtures(), 'cases', name);
    for (const stem of readdirSync(caseRoot).sort()) {
      const png = join(fixtures(), 'inputs', `${stem}.png`);
      const container = join(out, `${name}-${stem}.psic`);
      const r = psic(['compress', png, '-o', container, '--model', model, '--compat'], { PSIC_THREADS: '1' });
      t.equal(r.status, 0, `${name}/${stem}: compress exits 0`, { stderr: r.stderr });
      const info = psic(['info', container, '--json']);
      t.equal(info.status, 0, 'info exits 0', { stderr: info.stderr });
      const strings = JSON.parse(info.stdout).strings as { name: string; bytes: number; sha256: string }[];
      const manifest = JSON.parse(readFileSync(join(caseRoot, stem, 'manifest.json'), 'utf8'));
      const bytes = readFileSync(container);
      const header = Codec.inspect(bytes);
      for (const s of header.strings) {
        const ours = bytes.subarray(76 + (s.name === 'z' ? 0 : header.strings[0].bytes)).subarray(0, s.bytes);
        const theirs = readFileSync(join(caseRoot, stem, `${s.name}_string.bin`));
        t.ok(Buffer.compare(Buffer.from(ours), theirs) === 0, `${name}/${stem}: ${s.name} string byte-identical (${s.bytes} bytes)`);
        t.equal(strings.find((x) => x.name === s.name)?.sha256, manifest[`${s.name}_string_sha256`], `${name}/${stem}: ${s.name} sha256 matches the manifest`);
      }
      compared++;
    }
  }
  t.equal(compared, 9, 'all 9 fixture cases compared');
});

t.test('decoding CompressAI strings gives x_hat within 1e-4', needsBoth, async (t) => {
  const codec = await Codec.load(bigModel(), { path: 'compat', threads: 1 });
  const caseDir = join(fixtures(), 'cases', 'hyperprior-N128-M192', 'kodim23');
  const png = join(fixtures(), 'inputs', 'kodim23.png');
  const container = await codec.compress(png);
  const image = await codec.decompress(container, { output: 'float32' });
  const ref = readFileSync(join(caseDir, 'x_hat.bin'));
  const expected = new Float32Array(ref.buffer, ref.byteOffset, ref.byteLength / 4); // [1,3,H,W]
  const { width, height } = image;
  let maxErr = 0;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const d = Math.abs(image.data[(y * width + x) * 3 + c] - expected[(c * height + y) * width + x]);
        if (d > maxErr) maxErr = d;
      }
  t.ok(maxErr <= 1e-4, `max abs error ${maxErr} <= 1e-4`);
});
