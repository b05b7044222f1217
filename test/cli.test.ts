// The psic CLI contract: commands, --help, exit codes, clear messages, no half-written outputs.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { psic } from './helpers/cli.js';
import { fixtures, needsAddon, needsBoth, tinyModel } from './helpers/shared.js';

t.test('help and usage errors', needsAddon, async (t) => {
  for (const cmd of ['compress', 'decompress', 'compress-dir', 'decompress-dir', 'info', 'bench']) {
    const r = psic([cmd, '--help']);
    t.equal(r.status, 0, `${cmd} --help exits 0`);
    t.match(r.stdout, new RegExp(`Usage: psic ${cmd}`));
  }
  t.equal(psic([]).status, 2, 'no command: exit 2');
  const unknown = psic(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command 'frobnicate'/);
  const missing = psic(['compress', 'a.png']);
  t.equal(missing.status, 2, 'missing -o: exit 2');
  t.match(missing.stderr, /missing -o OUT\.psic/);
  t.equal(psic(['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--bogus']).status, 2, 'unknown flag: exit 2');
});

t.test('compress, info, decompress', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(fixtures(), 'inputs', 'k07-97x61.png');
  const container = join(dir, 'a.psic');
  const c = psic(['compress', input, '-o', container, '--model', tinyModel(), '--json']);
  t.equal(c.status, 0, 'compress exits 0', { stderr: c.stderr });
  const summary = JSON.parse(c.stdout);
  t.equal(summary.width, 97);
  t.equal(summary.bytes, readFileSync(container).length);
  const info = psic(['info', container, '--json']);
  t.equal(info.status, 0);
  const header = JSON.parse(info.stdout);
  t.match(header, { version: 1, width: 97, height: 61, padding: { left: 15, right: 16, top: 1, bottom: 2 }, yShape: [24, 4, 8], zShape: [16, 1, 2] });
  t.same(header.strings.map((s: { name: string }) => s.name), ['z', 'y']);
  t.match(header.strings[0], { bytes: Number, sha256: /^[0-9a-f]{64}$/ });
  t.match(psic(['info', container]).stdout, /model id\s+[0-9a-f]{32}/);
  const png = join(dir, 'a.png');
  const d = psic(['decompress', container, '-o', png, '--model', tinyModel()]);
  t.equal(d.status, 0, 'decompress exits 0', { stderr: d.stderr });
  t.same([...readFileSync(png).subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

t.test('bad input: clear message, exit 1, no output left behind', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const notImage = join(dir, 'notes.txt');
  writeFileSync(notImage, 'hello');
  const r1 = psic(['compress', notImage, '-o', join(dir, 'x.psic'), '--model', tinyModel()]);
  t.equal(r1.status, 1);
  t.match(r1.stderr, /PsicInputError: .*not a supported image/);
  const r2 = psic(['compress', join(fixtures(), 'inputs', 'k15-64x64.png'), '-o', join(dir, 'y.psic'), '--model', join(dir, 'missing.pth')]);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /PsicWeightsError/);
  const truncated = join(dir, 'trunc.psic');
  const good = join(dir, 'good.psic');
  t.equal(psic(['compress', join(fixtures(), 'inputs', 'k15-64x64.png'), '-o', good, '--model', tinyModel()]).status, 0);
  writeFileSync(truncated, readFileSync(good).subarray(0, 50));
  const r3 = psic(['decompress', truncated, '-o', join(dir, 'z.png'), '--model', tinyModel()]);
  t.equal(r3.status, 1);
  t.match(r3.stderr, /PsicFormatError: .*truncated/);
  const r4 = psic(['info', notImage]);
  t.equal(r4.status, 1);
  t.match(r4.stderr, /PsicFormatError: not a \.psic container/);
  const r5 = psic(['decompress', good, '-o', join(dir, 'w.png'), '--model', join(fixtures(), 'hyperprior-N128-M192.pth.tar')]);
  t.equal(r5.status, 1);
  t.match(r5.stderr, /PsicModelMismatchError/);
  for (const f of ['x.psic', 'y.psic', 'z.png', 'w.png']) t.notOk(existsSync(join(dir, f)), `${f} not written`);
  t.same(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temp files left');
  t.notMatch(r1.stderr + r2.stderr + r3.stderr + r4.stderr, /\n\s+at /, 'no stack traces');
});
