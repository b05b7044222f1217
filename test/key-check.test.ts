// The container's key check (cpp/models/keys.h): a file compressed with the owner's key refuses
// a wrong key instead of decoding a plausible image; without a key it still decodes protected.
// Also: keys derived in C++ agree with HKDF from node:crypto, bounded container reads, and the
// default pixel limit.
import { execFileSync } from 'node:child_process';
import { hkdfSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { Codec, PsicFormatError, PsicIoError, PsicKeyError, PsicLimitError, defaultPixelLimit, deriveCondition, generateKey, writeKeyFile } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { fixtures, needsAddon, needsBoth } from './helpers/shared.js';

t.test('a key condition derived in C++ is node:crypto HKDF-SHA256 mapped to [-1, 1]', needsAddon, async (t) => {
  const key = generateKey();
  const salt = '00112233445566778899aabbccddeeff';
  const okm = Buffer.from(hkdfSync('sha256', key, Buffer.from(salt, 'hex'), Buffer.from('psic/condition/v1'), 4 * 16));
  const expected = Float32Array.from({ length: 16 }, (_, i) => (okm.readUInt32BE(4 * i) / 0xffffffff) * 2 - 1);
  t.same([...deriveCondition(key, salt, 16)], [...expected]);
});

t.test('compress with the key: a wrong key fails, the right one decodes as before, no key is protected', needsBoth, async (t) => {
  const png = join(fixtures(), 'inputs', 'k19-200x130.png');
  const codec = await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, conditionDim: 4, seed: 3 });
  const key = generateKey();
  const plain = await codec.compress(png);
  const checked = await codec.compress(png, { key });
  const a = Codec.inspect(plain), b = Codec.inspect(checked);
  t.equal(a.version, 1, 'without a key: version 1, as before');
  t.equal(a.keyCheck, false);
  t.equal(b.version, 2, 'with a key: version 2');
  t.equal(b.keyCheck, true);
  t.equal(b.headerBytes - a.headerBytes, 32, 'a 16-byte file salt and a 16-byte tag');
  t.same(a.strings.map((s) => s.sha256), b.strings.map((s) => s.sha256), 'the same bitstream');
  const again = await codec.compress(png, { key });
  t.not(Buffer.from(again).toString('hex'), Buffer.from(checked).toString('hex'), 'a fresh file salt each time');

  const full = await codec.decompress(checked, { key });
  t.same(full.data, (await codec.decompress(plain, { key })).data, 'the full decode is unchanged');
  t.same((await codec.decompress(checked)).data, (await codec.decompress(plain)).data, 'no key: the protected decode');
  await t.rejects(codec.decompress(checked, { key: generateKey() }), PsicKeyError, 'a wrong key is refused');
  await t.rejects(codec.decompress(checked, { key: Buffer.from(key).toString('hex').replace(/^./, (c) => (c === '0' ? '1' : '0')) }), PsicKeyError);
  const many = await codec.decompressMany([checked, plain], { key: generateKey() });
  t.equal(many[0].ok, false, 'batches check each file');
  t.type(!many[0].ok && many[0].error, PsicKeyError);
  t.equal(many[1].ok, true, 'a file without a key check cannot tell (documented)');

  // The check is covered by the CRC like the rest of the header.
  const tampered = Uint8Array.from(checked);
  tampered[90] ^= 1;
  await t.rejects(codec.decompress(tampered, { key }), PsicFormatError);
  // Unconditional models take no key at compress either.
  const plainModel = await Codec.init({ architecture: 'bmshj2018-hyperprior', N: 16, M: 24, seed: 1 });
  await t.rejects(plainModel.compress(png, { key }), PsicKeyError);
});

t.test('CLI: decompress --key-file with a wrong key exits 1 and writes nothing', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-keycheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'm.safetensors');
  t.equal(psic(['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '--seed', '2', '-o', model]).status, 0);
  const owner = join(dir, 'owner.key'), other = join(dir, 'other.key');
  await writeKeyFile(owner, generateKey());
  await writeKeyFile(other, generateKey());
  const png = join(fixtures(), 'inputs', 'k19-200x130.png');
  const container = join(dir, 'a.psic');
  const c = psic(['compress', png, '-o', container, '--model', model, '--key-file', owner, '--json']);
  t.equal(c.status, 0, c.stderr);
  t.equal(JSON.parse(c.stdout).keyCheck, true);
  const wrong = psic(['decompress', container, '-o', join(dir, 'wrong.png'), '--model', model, '--key-file', other]);
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /PsicKeyError: wrong key/);
  t.notOk(existsSync(join(dir, 'wrong.png')), 'no output file');
  t.equal(psic(['decompress', container, '-o', join(dir, 'full.png'), '--model', model, '--key-file', owner]).status, 0);
  t.equal(psic(['decompress', container, '-o', join(dir, 'shown.png'), '--model', model]).status, 0, 'no key: protected');
  t.match(psic(['info', container]).stdout, /key check +yes/);
});

t.test('container files are read only as far as their header declares', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-bounded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const codec = await Codec.load(join(fixtures(), 'tiny-N16-M24.pth.tar'));
  const bytes = await codec.compress(join(fixtures(), 'inputs', 'k19-200x130.png'));
  const good = join(dir, 'a.psic');
  writeFileSync(good, bytes);
  t.same((await codec.decompressMany([good]))[0].ok, true);
  const trailing = join(dir, 'trailing.psic');
  writeFileSync(trailing, Buffer.concat([Buffer.from(bytes), Buffer.alloc(1 << 20)]));
  const truncated = join(dir, 'truncated.psic');
  writeFileSync(truncated, bytes);
  truncateSync(truncated, bytes.length - 1);
  const fifo = join(dir, 'pipe.psic');
  execFileSync('mkfifo', [fifo]);  // no writer: opening it must not block
  for (const [path, error] of [[trailing, PsicFormatError], [truncated, PsicFormatError], ['/dev/zero', PsicIoError], [dir, PsicIoError], [fifo, PsicIoError]] as const) {
    const [item] = await codec.decompressMany([path]);
    t.equal(item.ok, false, path);
    t.type(!item.ok && item.error, error, path);
  }
  const info = psic(['info', '/dev/zero']);
  t.equal(info.status, 1);
  t.match(info.stderr, /PsicIoError: '\/dev\/zero' is not a regular file/);
  t.match(psic(['info', truncated]).stderr, /truncated or has trailing bytes/);
});

t.test('the default pixel limit follows from RAM; a container over the limit fails before decoding', needsBoth, async (t) => {
  const expected = Math.min(268402689, Math.floor(totalmem() / 2 / 560));
  t.equal(defaultPixelLimit(), expected);
  const codec = await Codec.load(join(fixtures(), 'tiny-N16-M24.pth.tar'), { pixelLimit: 200 * 130 - 1 });
  const container = readFileSync(join(fixtures(), 'inputs', 'k19-200x130.png'));
  await t.rejects(codec.compress(container), PsicLimitError);
  const full = await Codec.load(join(fixtures(), 'tiny-N16-M24.pth.tar'));
  const bytes = await full.compress(container);
  await t.rejects(codec.decompress(bytes), { name: 'PsicLimitError', message: /--pixel-limit/ });
  t.throws(() => Codec.inspect(bytes, { pixelLimit: 100 }), PsicLimitError);
});
