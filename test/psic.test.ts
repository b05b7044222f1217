// PSIC: one bitstream with a protected and a full decode, keyed conditions, model files.
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { Codec, PsicFormatError, PsicKeyError, deriveCondition, generateKey, hkdfSha256, readKeyFile } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { fixtures, needsAddon, needsBoth, tinyModel } from './helpers/shared.js';

const hex = (s: string) => Buffer.from(s, 'hex');

t.test('HKDF-SHA256 matches the RFC 5869 test vectors', async (t) => {
  // RFC 5869, Appendix A, test cases 1-3.
  t.equal(Buffer.from(hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42)).toString('hex'),
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  const ikm2 = Buffer.from(Array.from({ length: 80 }, (_, i) => i));
  const salt2 = Buffer.from(Array.from({ length: 80 }, (_, i) => 0x60 + i));
  const info2 = Buffer.from(Array.from({ length: 80 }, (_, i) => 0xb0 + i));
  t.equal(Buffer.from(hkdfSha256(ikm2, salt2, info2, 82)).toString('hex'),
    'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87');
  t.equal(Buffer.from(hkdfSha256(hex('0b'.repeat(22)), new Uint8Array(0), new Uint8Array(0), 42)).toString('hex'),
    '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
});

t.test('key derivation', async (t) => {
  const model = '0123456789abcdef0123456789abcdef';
  const k1 = generateKey();
  const k2 = generateKey();
  const c1 = deriveCondition(k1, model, 16);
  t.equal(c1.length, 16);
  t.ok(c1.every((v) => v >= -1 && v <= 1), 'values in [-1, 1]');
  t.same([...deriveCondition(k1, model, 16)], [...c1], 'deterministic');
  t.notSame([...deriveCondition(k2, model, 16)], [...c1], 'different keys give different conditions');
  t.notSame([...deriveCondition(k1, 'f'.repeat(32), 16)], [...c1], 'the model id salts the derivation');
  t.same([...deriveCondition(Buffer.from(k1).toString('hex'), model, 16)], [...c1], 'hex keys are the same key');
  t.throws(() => deriveCondition(new Uint8Array(8), model, 16), PsicKeyError, 'short keys are refused');
  t.throws(() => deriveCondition('not hex!', model, 16), PsicKeyError);
});

t.test('one bitstream, protected by default, full with the key', needsBoth, async (t) => {
  const png = join(fixtures(), 'inputs', 'k19-200x130.png');
  for (const architecture of ['psic-hyperprior', 'psic-factorized'] as const) {
    const codec = await Codec.init({ architecture, N: 16, M: 24, conditionDim: 4, seed: 3 });
    t.equal(codec.conditionDim, 4);
    const bytes = await codec.compress(png);
    const key = generateKey();
    const protectedA = await codec.decompress(bytes);
    const protectedB = await codec.decompress(bytes);
    const full = await codec.decompress(bytes, { key });
    const wrong = await codec.decompress(bytes, { key: generateKey() });
    t.same(Buffer.from(protectedA.data), Buffer.from(protectedB.data), `${architecture}: decompress is deterministic`);
    t.notSame(Buffer.from(full.data), Buffer.from(protectedA.data), `${architecture}: the key changes the decode`);
    t.notSame(Buffer.from(wrong.data), Buffer.from(full.data), `${architecture}: another key gives another decode`);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 3] ^= 0x10;
    await t.rejects(codec.decompress(tampered, { key }), PsicFormatError, `${architecture}: tampered containers are rejected`);
  }
  const plain = await Codec.load(tinyModel());
  await t.rejects(plain.decompress(await plain.compress(png), { key: generateKey() }), PsicKeyError, 'plain models take no key');
  const reference = await Codec.init({ architecture: 'reference', N: 16, M: 24, seed: 1 });
  t.same([...reference.conditionFor(generateKey())], [0], 'the reference config is the public bit: full = 0');
});

t.test('CLI: keygen, model init/info/export-encoder, keyed decompress', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'owner.key');
  t.equal(psic(['keygen', '-o', keyFile]).status, 0);
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'key file mode 0600');
  t.equal((await readKeyFile(keyFile)).length, 32, '256-bit key');
  const model = join(dir, 'psic.safetensors');
  const init = psic(['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '--seed', '5', '--from', tinyModel(), '-o', model]);
  t.equal(init.status, 0, 'model init', { stderr: init.stderr });
  const info = JSON.parse(psic(['model', 'info', model, '--json']).stdout);
  t.match(info, { config: { architecture: 'psic-hyperprior', N: 16, M: 24, condition_dim: 16 }, modelId: /^[0-9a-f]{32}$/ });
  for (const k of ['total', 'g_a', 'h_a', 'h_s', 'entropy_bottleneck', 'g_s_cond', 'global_cond', 'cltg_projections']) t.type(info.parameterCounts[k], 'number', k);
  const again = psic(['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '--seed', '5', '--from', tinyModel(), '-o', join(dir, 'again.safetensors')]);
  t.match(again.stdout, info.modelId, 'seeded init is reproducible');
  const exported = join(dir, 'encoder.safetensors');
  t.equal(psic(['model', 'export-encoder', model, '-o', exported]).status, 0);
  t.ok(statSync(exported).size > 1000);

  const container = join(dir, 'a.psic');
  t.equal(psic(['compress', join(fixtures(), 'inputs', 'k15-64x64.png'), '-o', container, '--model', model]).status, 0);
  const prot = psic(['decompress', container, '-o', join(dir, 'p.png'), '--model', model, '--json']);
  const full = psic(['decompress', container, '-o', join(dir, 'f.png'), '--model', model, '--key-file', keyFile, '--json']);
  t.equal(JSON.parse(prot.stdout).decode, 'protected');
  t.equal(JSON.parse(full.stdout).decode, 'full');
  t.notSame(readFileSync(join(dir, 'p.png')), readFileSync(join(dir, 'f.png')), 'the key file unlocks another decode');
  const viaHex = psic(['decompress', container, '-o', join(dir, 'h.png'), '--model', model, '--key', readFileSync(keyFile, 'utf8').trim()]);
  t.equal(viaHex.status, 0);
  t.same(readFileSync(join(dir, 'h.png')), readFileSync(join(dir, 'f.png')), '--key K equals --key-file');
  t.equal(psic(['decompress', container, '-o', join(dir, 'x.png'), '--model', model, '--key', 'ab', '--key-file', keyFile]).status, 2);
  const badKey = join(dir, 'bad.key');
  writeFileSync(badKey, 'xyz');
  const bad = psic(['decompress', container, '-o', join(dir, 'y.png'), '--model', model, '--key-file', badKey]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /PsicKeyError/);
});

t.test('model init validates its arguments', needsAddon, async (t) => {
  const r = psic(['model', 'init', '--arch', 'psic-magic', '--N', '8', '--M', '8', '-o', '/tmp/never.safetensors']);
  t.equal(r.status, 2, 'a bad flag value is a usage error');
  t.match(r.stderr, /--arch must be one of psic-hyperprior, .*got 'psic-magic'/);
  await t.rejects(Codec.init({ architecture: 'psic-magic' as never, N: 8, M: 8 }), { name: 'PsicInputError', message: /architecture must be one of/ }, 'the API still says so itself');
  t.equal(psic(['model']).status, 2);
});
