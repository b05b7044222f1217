// Peak memory per pixel of an encode and a decode (the figure the default pixel limit follows
// from: cpp/codec.h kPeakBytesPerPixel). Each measurement runs in a fresh process, so the peak
// RSS is that operation's alone: (peak RSS − RSS after loading the model) / pixels.
//   node --import tsx benchmarks/peak-memory.ts [--model M] [--sides 1024,2048,3072] [--json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

import { Codec } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const model = flag('--model', 'models/psic-balle-faces.safetensors');

if (args[0] === '--child') {
  const [, mode, file, side] = args;
  const n = Number(side);
  const codec = await Codec.load(model, { pixelLimit: 1e9, threads: 2 });
  const before = process.memoryUsage().rss;
  if (mode === 'decode') await codec.decompress(readFileSync(file));
  else await codec.compress({ data: new Uint8Array(readFileSync(file)), width: n, height: n, channels: 3 });
  process.stdout.write(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024 }));
} else {
  const kodak = join(process.env.PSIC_SHARED ?? '../shared', 'data', 'kodak');
  const source = join(kodak, readdirSync(kodak).filter((f) => f.endsWith('.png')).sort()[0]);
  const dir = mkdtempSync(join(tmpdir(), 'psic-memory-'));
  const rows = [];
  try {
    const codec = await Codec.load(model, { pixelLimit: 1e9 });
    for (const side of flag('--sides', '1024,2048,3072').split(',').map(Number)) {
      const rgb = await sharp(source).resize(side, side).removeAlpha().raw().toBuffer();
      const raw = join(dir, `${side}.rgb`), container = join(dir, `${side}.psic`);
      writeFileSync(raw, rgb);
      writeFileSync(container, await codec.compress({ data: new Uint8Array(rgb), width: side, height: side, channels: 3 }));
      for (const [mode, file] of [['encode', raw], ['decode', container]] as const) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, file, String(side), '--model', model], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
        const { before, peak } = JSON.parse(r.stdout);
        rows.push({ mode, megapixels: (side * side) / 1e6, bytesPerPixel: Math.round((peak - before) / (side * side)) });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify({ model, rows }, null, 2)}\n`);
  else for (const r of rows) process.stdout.write(`${r.mode.padEnd(6)} ${r.megapixels.toFixed(1).padStart(5)} MP  ${r.bytesPerPixel} bytes/pixel\n`);
}
