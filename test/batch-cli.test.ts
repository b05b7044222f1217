// psic compress-dir / decompress-dir: mirrored names, one bad file among good ones (reported,
// exit 1, the rest written), --resume (skips complete outputs, redoes missing and partial ones,
// removes a killed run's temp files), the JSON summary, and no temp files left.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { Codec, writeKeyFile } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { needsBoth, sharedDir, tinyModel } from './helpers/shared.js';

const kodak = (n: number) => join(sharedDir(), 'data', 'kodak', `kodim${String(n).padStart(2, '0')}.png`);
const noTemp = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

t.test('compress-dir and decompress-dir', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-batch-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'psic.safetensors');
  await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, conditionDim: 4, seed: 3 })).save(model);
  const keyFile = join(dir, 'owner.key');
  await writeKeyFile(keyFile, Buffer.alloc(32, 7));
  const inDir = join(dir, 'in');
  mkdirSync(inDir);
  const names = ['a', 'b', 'c', 'd'];
  for (const [i, n] of names.entries()) await sharp(kodak(i + 1)).resize(128, 96).toFormat(i === 3 ? 'jpeg' : 'png').toFile(join(inDir, `${n}.${i === 3 ? 'jpg' : 'png'}`));
  writeFileSync(join(inDir, 'bad.png'), 'not an image');
  writeFileSync(join(inDir, 'notes.txt'), 'ignored: not an image name');
  const packed = join(dir, 'packed');

  const first = psic(['compress-dir', inDir, '-o', packed, '--model', model, '--concurrency', '2', '--json']);
  t.equal(first.status, 1, 'exit 1: one file failed', { stderr: first.stderr });
  t.match(first.stderr, /bad\.png: PsicInputError: .*not a supported image/, 'the failure is reported');
  t.match(first.stderr, /PsicError: 1 of 5 files failed/);
  const summary = JSON.parse(first.stdout);
  t.match(summary, { command: 'compress-dir', concurrency: 2, files: { total: 5, ok: 4, failed: 1, skipped: 0 }, failures: [{ file: /bad\.png$/, code: 'PsicInputError' }] });
  t.ok(summary.bpp > 0 && summary.seconds > 0 && summary.imagesPerS > 0, 'bpp, seconds, images/s');
  t.same(readdirSync(packed).sort(), ['a.psic', 'b.psic', 'c.psic', 'd.psic'], 'names mirrored, nothing for the bad file, no temp files');
  const codec = await Codec.load(model);
  const sizes = names.map((n) => Codec.inspect(readFileSync(join(packed, `${n}.psic`))));
  t.ok(sizes.every((h) => h.width === 128 && h.height === 96 && h.modelId === codec.modelId), 'valid containers of this model');
  t.equal(summary.bytes.output, sizes.reduce((a, h) => a + h.totalBytes, 0));

  const again = psic(['compress-dir', inDir, '-o', packed, '--model', model, '--resume', '--json']);
  t.equal(again.status, 1, 'the bad file still fails');
  t.match(JSON.parse(again.stdout).files, { ok: 0, failed: 1, skipped: 4 }, 'resume skips every finished output');

  // A killed run: one output missing, one truncated, a temp file of a dead process.
  const mtimeA = statSync(join(packed, 'a.psic')).mtimeMs;
  rmSync(join(packed, 'b.psic'));
  writeFileSync(join(packed, 'c.psic'), readFileSync(join(packed, 'c.psic')).subarray(0, 40));
  const deadPid = spawnSync('true').pid;
  writeFileSync(join(packed, `.b.psic.${deadPid}.0123456789ab.tmp`), 'partial');
  rmSync(join(inDir, 'bad.png'));
  const resumed = psic(['compress-dir', inDir, '-o', packed, '--model', model, '--resume', '--json']);
  t.equal(resumed.status, 0, 'exit 0 once nothing fails', { stderr: resumed.stderr });
  t.match(JSON.parse(resumed.stdout).files, { total: 4, ok: 2, failed: 0, skipped: 2 }, 'redoes the missing and the partial output');
  t.equal(statSync(join(packed, 'a.psic')).mtimeMs, mtimeA, 'a finished output is left alone');
  t.equal(Codec.inspect(readFileSync(join(packed, 'c.psic'))).width, 128, 'the partial one is whole again');
  t.same(noTemp(packed), [], 'the dead run\'s temp file is removed');

  const full = join(dir, 'full');
  const d = psic(['decompress-dir', packed, '-o', full, '--model', model, '--key-file', keyFile, '--json']);
  t.equal(d.status, 0, 'decompress-dir exits 0', { stderr: d.stderr });
  const dSummary = JSON.parse(d.stdout);
  t.match(dSummary, { command: 'decompress-dir', files: { total: 4, ok: 4, failed: 0 } });
  t.same(readdirSync(full).sort(), ['a.png', 'b.png', 'c.png', 'd.png']);
  t.equal(dSummary.bytes.output, ['a', 'b', 'c', 'd'].reduce((a, n) => a + statSync(join(full, `${n}.png`)).size, 0), 'bytes.output: the PNGs written');
  const key = readFileSync(keyFile, 'utf8').trim();
  const expected = await codec.decompressToPng(readFileSync(join(packed, 'a.psic')), { key });
  const got = await sharp(join(full, 'a.png')).raw().toBuffer();
  t.ok(got.equals(await sharp(expected).raw().toBuffer()), 'the keyed (full) decode');
  writeFileSync(join(full, 'b.png'), readFileSync(join(full, 'b.png')).subarray(0, 100));
  const d2 = psic(['decompress-dir', packed, '-o', full, '--model', model, '--key-file', keyFile, '--resume', '--json']);
  t.equal(d2.status, 0);
  t.match(JSON.parse(d2.stdout).files, { ok: 1, skipped: 3 }, 'a truncated PNG is redone');
  // A key file others can read: said on stderr and in the JSON.
  const openKey = join(dir, 'open.key');
  writeFileSync(openKey, readFileSync(keyFile));
  chmodSync(openKey, 0o644);
  const warned = psic(['decompress-dir', packed, '-o', join(dir, 'full2'), '--model', model, '--key-file', openKey, '--json']);
  t.equal(warned.status, 0, 'a warning, not a failure', { stderr: warned.stderr });
  t.match(warned.stderr, /psic: warning: key file '.*open\.key' is readable by group or others \(mode 0644\)/);
  t.match(JSON.parse(warned.stdout).warnings, [/open\.key' is readable by group or others/]);
  const one = psic(['decompress', join(packed, 'a.psic'), '-o', join(dir, 'one.png'), '--model', model, '--key-file', openKey, '--json']);
  t.equal(one.status, 0, { stderr: one.stderr });
  t.match(JSON.parse(one.stdout), { decode: 'full', warnings: [/readable by group or others/] });
  t.same(JSON.parse(psic(['decompress', join(packed, 'a.psic'), '-o', join(dir, 'one.png'), '--model', model, '--key-file', keyFile, '--json']).stdout).warnings, [], 'none for a 0600 key');
  const text = psic(['decompress-dir', packed, '-o', join(dir, 'prot'), '--model', model]);
  t.match(text.stdout, /decompressed 4 of 4 files \(0 failed, 0 skipped\)/, 'plain summary line');
  t.same(noTemp(full), []);
});

t.test('--background flattens transparent inputs', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-batch-cli-bg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = tinyModel();  // trained: different colours give different bitstreams
  const inDir = join(dir, 'in');
  mkdirSync(inDir);
  // Red hidden under full transparency.
  await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toFile(join(inDir, 't.png'));
  // The container of a solid image of the expected colour: the same pixels give the same bitstream.
  const codec = await Codec.load(model);
  const solid = (rgb: number[]) => codec.compress({ data: new Uint8Array(64 * 64 * 3).map((_, i) => rgb[i % 3]), width: 64, height: 64, channels: 3 });
  t.equal(psic(['compress', join(inDir, 't.png'), '-o', join(dir, 'w.psic'), '--model', model]).status, 0);
  t.ok(readFileSync(join(dir, 'w.psic')).equals(Buffer.from(await solid([255, 255, 255]))), 'default: flattened onto white');
  t.notOk(Buffer.from(await solid([255, 255, 255])).equals(Buffer.from(await solid([255, 0, 0]))), '(the model tells white from red)');
  t.notOk(Buffer.from(await solid([255, 255, 255])).equals(Buffer.from(await solid([0, 0, 255]))), '(and from blue)');
  const r = psic(['compress-dir', inDir, '-o', join(dir, 'out'), '--model', model, '--background', '#0000ff']);
  t.equal(r.status, 0, { stderr: r.stderr });
  t.ok(readFileSync(join(dir, 'out', 't.psic')).equals(Buffer.from(await solid([0, 0, 255]))), '--background #0000ff: blue');
});

t.test('directory misuse', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-batch-cli-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'm.safetensors');
  await (await Codec.init({ architecture: 'bmshj2018-hyperprior', N: 16, M: 24, seed: 0 })).save(model);
  const inDir = join(dir, 'in');
  mkdirSync(inDir);
  await sharp(kodak(1)).resize(64, 64).png().toFile(join(inDir, 'x.png'));
  await sharp(kodak(1)).resize(64, 64).jpeg().toFile(join(inDir, 'x.jpg'));
  const out = join(dir, 'out');
  const clash = psic(['compress-dir', inDir, '-o', out, '--model', model]);
  t.equal(clash.status, 1);
  t.match(clash.stderr, /'x\.jpg' and 'x\.png' would both be written to 'x\.psic'/);
  t.notOk(existsSync(out), 'nothing written');
  rmSync(join(inDir, 'x.jpg'));
  t.equal(psic(['compress-dir', inDir, '-o', out, '--model', model]).status, 0);
  const keyed = psic(['decompress-dir', out, '-o', join(dir, 'png'), '--model', model, '--key', 'ab'.repeat(32)]);
  t.equal(keyed.status, 1);
  t.match(keyed.stderr, /PsicKeyError: .*single decode/, 'a key for a single-decode model is refused once, up front');
  const many = psic(['compress-dir', inDir, '-o', out, '--model', model, '--concurrency', '64', '--json'], { UV_THREADPOOL_SIZE: '3' });
  t.equal(many.status, 0);
  t.match(many.stderr, /running 3 files at once, not 64: the libuv threadpool has 3 threads/, 'said, not silent');
  t.equal(JSON.parse(many.stdout).concurrency, 3);
});
