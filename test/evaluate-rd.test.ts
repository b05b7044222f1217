// psic eval rd on tiny models and three small Kodak crops: every reported number is recomputed
// here from scratch (compress, decode, PSNR, MS-SSIM, bpp = bytes · 8 / pixels), the matched
// JPEG quality is checked against all 100 qualities, and the CLI's files and exit codes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { encodeBaseline } from '../src/evaluate/baselines.js';
import * as evaluate from '../src/evaluate/index.js';
import { type RdReport, type RdRow, wrongKey } from '../src/evaluate/rd.js';
import { Codec, evaluateRd, msSsim, msSsimDb, psnr, readImage, writeKeyFile } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { needsBoth, sharedDir, tinyModel } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'psic-rd-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'data');
const key = 'ab'.repeat(32);
const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

async function setUp() {
  mkdirSync(data);
  // Crops of real photos (codecs behave as on Kodak), just over MS-SSIM's 161 px minimum.
  for (const [i, stem] of ['kodim05', 'kodim15', 'kodim23'].entries()) {
    await sharp(join(sharedDir(), 'data', 'kodak', `${stem}.png`)).extract({ left: 100 + 40 * i, top: 60, width: 176, height: 168 })
      .png().toFile(join(data, `${stem}.png`));
  }
  // Two PSIC models with different rates: one with the tiny checkpoint's encoder, one random.
  const a = await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, seed: 1, from: tinyModel() });
  await a.save(join(dir, 'a.safetensors'));
  const b = await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, seed: 2 });
  await b.save(join(dir, 'b.safetensors'));
  await writeKeyFile(join(dir, 'owner.key'), Buffer.from(key, 'hex'));
}

const rowsOf = (r: RdReport, f: (row: RdRow) => boolean) => r.rows.filter(f);

t.test('evaluate.rd: numbers equal an independent recomputation', needsBoth, async (t) => {
  await setUp();
  const models = [join(dir, 'a.safetensors'), join(dir, 'b.safetensors')];
  const report = await evaluate.rd({ models, backbones: [tinyModel()], keyFile: join(dir, 'owner.key'), data,
    wrongKeys: 2, codecs: ['jpeg', 'webp', 'avif'], qualities: [30, 70] });
  t.equal(evaluate.rd, evaluateRd, 'evaluate.rd is evaluateRd');
  t.same(report.images.map((i) => [i.name, i.width, i.height]), [['kodim05.png', 176, 168], ['kodim15.png', 176, 168], ['kodim23.png', 176, 168]]);
  // Per image: 2 models × (full, protected, 2 wrong keys, worst) + backbone + 3 codecs × (2 matched + 2 grid).
  t.equal(report.rows.length, 3 * (2 * 5 + 1 + 3 * 4));
  t.same(report.series.map((s) => s.id), ['psic-full', 'psic-protected', 'psic-wrong-key', 'psic-wrong-key-worst', 'backbone',
    'jpeg-matched', 'jpeg', 'webp-matched', 'webp', 'avif-matched', 'avif']);

  const pixels = 176 * 168;
  const codecA = await Codec.load(models[0]);
  for (const image of report.images) {
    const original = await readImage(join(data, image.name));
    const bytes = await codecA.compress({ ...original, channels: 3 });
    const row = (series: string, extra: Partial<RdRow> = {}) => {
      const found = rowsOf(report, (r) => r.image === image.name && r.series === series && r.model === models[0]
        && Object.entries(extra).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v));
      t.equal(found.length, 1, `${image.name} ${series} ${JSON.stringify(extra)}: one row`);
      return found[0];
    };
    const check = async (r: RdRow, decoded: { data: Uint8Array; width: number; height: number }, what: string) => {
      t.equal(r.bytes, bytes.length, `${what}: container bytes`);
      t.equal(r.bpp, bytes.length * 8 / pixels, `${what}: bpp = bytes · 8 / pixels`);
      t.equal(r.psnr, psnr(original.data, decoded.data), `${what}: PSNR`);
      t.ok(close(r.msssim, msSsim(original, decoded)), `${what}: MS-SSIM`);
    };
    const full = row('psic-full'), prot = row('psic-protected');
    await check(full, await codecA.decompress(bytes, { key }), `${image.name} full`);
    await check(prot, await codecA.decompress(bytes), `${image.name} protected`);
    t.not(full.psnr, prot.psnr, 'the key changes the decode');
    const wrong = [0, 1].map((j) => row('psic-wrong-key', { wrongKey: j }));
    for (const [j, r] of wrong.entries()) await check(r, await codecA.decompress(bytes, { key: wrongKey(j) }), `${image.name} wrong key ${j}`);
    t.not(wrong[0].psnr, full.psnr);
    t.not(wrong[0].psnr, wrong[1].psnr, 'two different wrong keys');
    const worst = row('psic-wrong-key-worst');
    t.equal(worst.psnr, Math.max(...wrong.map((r) => r.psnr)), 'worst = the wrong key with the highest PSNR');
    t.equal(worst.msssim, wrong[worst.wrongKey!].msssim, 'its MS-SSIM is that key\'s');

    // JPEG matched to model A's bpp: the closest of all 100 qualities.
    const m = row('jpeg-matched');
    t.equal(m.targetBpp, full.bpp);
    const sizes = await Promise.all(Array.from({ length: 100 }, (_, q) => encodeBaseline('jpeg', original, q + 1)));
    const best = Math.min(...sizes.map((s) => Math.abs(s.length * 8 / pixels - full.bpp)));
    t.equal(Math.abs(m.bpp - full.bpp), best, `${image.name}: q=${m.quality} (${m.bpp.toFixed(4)} bpp for a target of ${full.bpp.toFixed(4)}) is the closest`);
    const jpeg = sizes[m.quality! - 1];
    t.equal(m.bytes, jpeg.length);
    const decoded = await readImage(jpeg);
    t.equal(m.psnr, psnr(original.data, decoded.data), 'JPEG PSNR from sharp\'s decode');
    t.ok(close(m.msssim, msSsim(original, decoded)), 'JPEG MS-SSIM');
    // The grid row at q = 30 is that file.
    const g = rowsOf(report, (r) => r.image === image.name && r.series === 'jpeg' && r.quality === 30)[0];
    t.equal(g.bytes, sizes[29].length);
  }

  // Summary: means over the images; points sorted by bpp; MS-SSIM dB from the mean.
  for (const s of report.series) {
    t.ok(s.points.every((p, i) => i === 0 || p.bpp >= s.points[i - 1].bpp), `${s.id}: sorted by bpp`);
    for (const p of s.points) {
      const rs = rowsOf(report, (r) => r.series === s.id && (p.quality !== undefined ? r.quality === p.quality : r.model === p.model));
      t.equal(p.n, rs.length);
      t.ok(close(p.bpp, rs.reduce((a, r) => a + r.bpp, 0) / rs.length) && close(p.psnr, rs.reduce((a, r) => a + r.psnr, 0) / rs.length)
        && close(p.msssimDb, msSsimDb(rs.reduce((a, r) => a + r.msssim, 0) / rs.length)), `${s.id} ${p.model ?? p.quality}: means`);
    }
  }
  const count = (id: string) => report.series.find((s) => s.id === id)!.points.length;
  t.same([count('psic-full'), count('psic-wrong-key'), count('backbone'), count('jpeg-matched'), count('avif')], [2, 2, 1, 2, 2]);
  t.equal(report.series.find((s) => s.id === 'psic-wrong-key')!.points[0].n, 6, '3 images × 2 keys');
  // The backbone's encoder is model A's, so its rate is model A's too.
  const backbone = report.series.find((s) => s.id === 'backbone')!.points[0];
  const fullA = report.series.find((s) => s.id === 'psic-full')!.points.find((p) => p.model === models[0])!;
  t.ok(close(backbone.bpp, fullA.bpp, 0.02), `backbone ${backbone.bpp} ≈ model A ${fullA.bpp} bpp`);
});

t.test('psic eval rd: files, JSON, exit codes', needsBoth, async (t) => {
  if (!existsSync(data)) await setUp();
  const out = join(dir, 'out');
  const base = ['eval', 'rd', '--models', join(dir, 'a.safetensors'), join(dir, 'b.safetensors'), '--key-file', join(dir, 'owner.key'),
    '--backbone', tinyModel(), '--data', data];
  const r = psic([...base, '--limit', '2', '--wrong-keys', '1', '--codecs', 'jpeg', '--qualities', '50', '--out', out, '--json']);
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as RdReport;
  t.equal(report.images.length, 2);
  t.same(report.models.map((m) => m.path), [join(dir, 'a.safetensors'), join(dir, 'b.safetensors')], 'both list values of --models');
  t.same(report.series.map((s) => s.id), ['psic-full', 'psic-protected', 'psic-wrong-key', 'psic-wrong-key-worst', 'backbone', 'jpeg-matched', 'jpeg']);
  t.same(JSON.parse(readFileSync(join(out, 'rd.json'), 'utf8')), report, 'rd.json = the printed report');
  const md = readFileSync(join(out, 'rd.md'), 'utf8');
  t.equal(md.split('\n').filter((l) => l.startsWith('| PSIC full')).length, 2, 'rd.md: a row per point');
  const svg = readFileSync(join(out, 'rd.svg'), 'utf8');
  t.equal((svg.match(/<path class="series"/g) ?? []).length, 2 * report.series.length, 'one path per series in each of the two panels');
  const [, w, h] = svg.match(/width="(\d+)" height="(\d+)"/)!.map(Number);
  const meta = await sharp(join(out, 'rd.png')).metadata();
  t.same([meta.format, meta.width, meta.height], ['png', w, h], 'rd.png renders the SVG');
  const text = psic([...base, '--limit', '1', '--wrong-keys', '0', '--codecs', 'none', '--qualities', 'none']);
  t.equal(text.status, 0, text.stderr);
  t.match(text.stdout, /\| PSIC protected \| a\.safetensors \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);

  const fails: [string[], number, RegExp][] = [
    [['eval', 'rd', '--models', join(dir, 'a.safetensors'), '--data', data], 2, /missing --key-file/],
    [['eval', 'rd', '--key-file', join(dir, 'owner.key')], 2, /missing --models/],
    [[...base, '--codecs', 'gif'], 2, /unknown codec 'gif'/],
    [[...base, '--qualities', '0,50'], 2, /'0' is not an integer in \[1, 100\]/],
    [[...base.slice(0, -1), join(dir, 'nope')], 1, /PsicInputError: data folder '.*nope' not found/],
    [['eval', 'rd', '--models', join(dir, 'missing.safetensors'), '--key-file', join(dir, 'owner.key'), '--data', data], 1, /PsicWeightsError: model file .* not found/],
    [['eval', 'rd', '--models', tinyModel(), '--key-file', join(dir, 'owner.key'), '--data', data], 1, /PsicInputError: .*plain model/],
    [['eval', 'rd', '--models', join(dir, 'a.safetensors'), '--key-file', join(dir, 'no.key'), '--data', data], 1, /PsicIoError: cannot read key file '.*no\.key': no such file/],
  ];
  mkdirSync(join(dir, 'small'));
  await sharp({ create: { width: 200, height: 150, channels: 3, background: '#808080' } }).png().toFile(join(dir, 'small', 'x.png'));
  fails.push([[...base.slice(0, -1), join(dir, 'small')], 1, /x\.png' is 200x150: MS-SSIM at 5 scales needs at least 161 pixels/]);
  for (const [args, status, message] of fails) {
    const f = psic(args);
    t.equal(f.status, status, `${message.source}: exit ${status}`);
    t.match(f.stderr, message);
    t.ok(f.stderr.trim().split('\n').length === 1, 'one line');
  }
});
