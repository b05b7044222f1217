// Sealed files (container version 3): the public bytes decode to the protected image only; the
// full image is AES-256-GCM sealed and opens with the owner's key or a recipient's X25519 secret
// key, byte-identical to the full decode of the unsealed file.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';

import { Codec, PsicError, PsicInputError, PsicIntegrityError, PsicKeyError, formatRecipient, generateKey, generateX25519KeyPair, writeKeyFile } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { crc32 } from './helpers/crc32.js';
import { fixtures, needsBoth, tinyModel } from './helpers/shared.js';

const png = () => join(fixtures(), 'inputs', 'k19-200x130.png');
// Byte equality of pixel arrays (tap's deep comparison of large typed arrays is slow when they differ).
const equalBytes = (a: Uint8Array | Float32Array, b: Uint8Array | Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function smallPng(width: number, height: number): Promise<Buffer> {
  return sharp(png()).resize(width, height).png().toBuffer();
}

/** Passes when the promise rejects with one of psic's typed errors (any PsicError subclass). */
async function rejectsTyped(t: Test, promise: Promise<unknown>, what: string): Promise<void> {
  try {
    await promise;
    t.fail(`${what}: no error`);
  } catch (e) {
    t.ok(e instanceof PsicError, `${what}: ${(e as Error).name}`);
  }
}

/** Rewrites a sealed file's trailing CRC-32 so that only the authenticated encryption can tell. */
function withFixedCrc(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

t.test('the full decode with the key is byte-identical to the unsealed file\'s; without, the protected image', needsBoth, async (t) => {
  for (const architecture of ['psic-balle', 'psic-hyperprior'] as const) {
    const codec = await Codec.init({ architecture, N: 16, M: 24, conditionDim: 4, seed: 5, from: tinyModel() });
    const key = generateKey();
    const unsealed = await codec.compress(png());
    const sealed = await codec.compress(png(), { seal: { key } });
    const info = Codec.inspect(sealed);
    t.equal(info.version, 3, `${architecture}: version 3`);
    t.equal(info.sealed, true);
    t.equal(info.seal!.recipients, 0);
    t.equal(info.seal!.publicSynthesis, architecture === 'psic-balle' ? 'backbone' : 'protected');
    for (const output of ['uint8', 'float32'] as const) {
      const a = await codec.decompress(unsealed, { key, output });
      const b = await codec.decompress(sealed, { key, output });
      t.ok(equalBytes(a.data, b.data), `${architecture}: full decode identical (${output})`);
    }
    const shown = await codec.decompress(sealed);
    const full = await codec.decompress(sealed, { key });
    t.equal(shown.width, 200);
    t.notOk(equalBytes(shown.data, full.data), `${architecture}: without the key, not the full image`);
    // The public section is the protected image re-encoded: not the full latent.
    const pub = info.strings.find((s) => s.name === 'y')!;
    const plain = Codec.inspect(unsealed).strings.find((s) => s.name === 'y')!;
    t.not(pub.sha256, plain.sha256, `${architecture}: the public latent is not the full one`);
    // Either coding decodes the same full image.
    for (const coding of ['conditional', 'simulcast'] as const) {
      const forced = await codec.compress(png(), { seal: { key, coding } });
      t.equal(Codec.inspect(forced).seal!.coding, coding);
      t.ok(equalBytes((await codec.decompress(forced, { key })).data, full.data), `${architecture}: ${coding} coding`);
    }
  }
});

t.test('keys: a wrong owner key or identity fails, each recipient opens, salts and nonces are fresh', needsBoth, async (t) => {
  const codec = await Codec.init({ architecture: 'psic-balle', N: 16, M: 24, conditionDim: 4, seed: 6, from: tinyModel() });
  const owner = generateKey();
  const recipients = [generateX25519KeyPair(), generateX25519KeyPair(), generateX25519KeyPair()];
  const sealed = await codec.compress(png(), { seal: { key: owner, recipients: recipients.map((r, i) => (i === 1 ? formatRecipient(r.publicKey) : r.publicKey)) } });
  t.equal(Codec.inspect(sealed).seal!.recipients, 3);
  const full = await codec.decompress(sealed, { key: owner });
  for (const [i, r] of recipients.entries()) t.ok(equalBytes((await codec.decompress(sealed, { identity: r.secretKey })).data, full.data), `recipient ${i} opens it`);
  await t.rejects(codec.decompress(sealed, { key: generateKey() }), PsicKeyError, 'a wrong owner key');
  await t.rejects(codec.decompress(sealed, { identity: generateX25519KeyPair().secretKey }), PsicKeyError, 'a stranger\'s X25519 key');
  await t.rejects(codec.decompress(sealed, { key: owner, identity: recipients[0].secretKey }), PsicInputError);
  const again = await codec.compress(png(), { seal: { key: owner } });
  const a = Buffer.from(Codec.inspect(sealed).seal ? sealed.subarray(80, 184) : []), b = Buffer.from(again.subarray(80, 184));
  t.not(a.toString('hex'), b.toString('hex'), 'fresh file salt, owner nonce and sealed nonce');
  t.notOk(Buffer.from(sealed).includes(Buffer.from(owner)), 'the key is not in the file');
  t.notOk(Buffer.from(sealed).includes(Buffer.from(recipients[0].secretKey)), 'no secret key is in the file');
  const plainModel = await Codec.load(tinyModel());
  await t.rejects(plainModel.compress(png(), { seal: { key: owner } }), PsicKeyError, 'a model with a single decode cannot seal');
});

t.test('every single-byte change and every truncation of a small sealed file fails cleanly', needsBoth, async (t) => {
  const codec = await Codec.init({ architecture: 'psic-balle', N: 16, M: 24, conditionDim: 4, seed: 7, from: tinyModel() });
  const key = generateKey();
  const recipient = generateX25519KeyPair();
  const sealed = await codec.compress(await smallPng(48, 40), { seal: { key, recipients: [recipient.publicKey] } });
  const kinds = new Map<string, number>();
  const count = (e: unknown) => kinds.set((e as Error).name, (kinds.get((e as Error).name) ?? 0) + 1);
  let ok = 0;
  for (let i = 0; i < sealed.length; i++) {
    const flipped = Uint8Array.from(sealed);
    flipped[i] ^= 0x5a;
    for (const [what, bytes] of [['flip', flipped], ['flip, CRC fixed', withFixedCrc(flipped)]] as const) {
      if (what === 'flip, CRC fixed' && i >= sealed.length - 4) continue;  // the CRC itself
      try {
        await codec.decompress(bytes, { key });
        t.fail(`${what} at byte ${i} decoded`);
      } catch (e) {
        if (e instanceof PsicIntegrityError || e instanceof PsicKeyError || (e instanceof PsicError && /Format|Limit|ModelMismatch/.test(e.name))) ok++, count(e);
        else t.fail(`${what} at byte ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
    // The recipient's stanza and the sealed section are authenticated for the recipient too.
    if (i >= 184 && i < sealed.length - 4) await rejectsTyped(t, codec.decompress(withFixedCrc(flipped), { identity: recipient.secretKey }), `recipient, byte ${i}`);
  }
  t.ok(ok > sealed.length, `${ok} altered files refused: ${JSON.stringify(Object.fromEntries(kinds))}`);
  t.ok((kinds.get('PsicIntegrityError') ?? 0) > sealed.length, 'mostly integrity errors');
  for (let n = 0; n < sealed.length; n++) {
    await rejectsTyped(t, codec.decompress(sealed.subarray(0, n), { key }), `truncated to ${n} bytes`);
  }
  await rejectsTyped(t, codec.decompress(sealed.subarray(0, 100)), 'truncated, without a key');
});

t.test('CLI: keygen --x25519, compress --seal --recipient, decompress by owner and recipient, info', needsBoth, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-sealed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'm.safetensors');
  t.equal(psic(['model', 'init', '--arch', 'psic-balle', '--N', '16', '--M', '24', '--condition-dim', '4', '--from', tinyModel(), '-o', model]).status, 0);
  const owner = join(dir, 'owner.key');
  await writeKeyFile(owner, generateKey());
  const kg = psic(['keygen', '--x25519', '-o', join(dir, 'friend.key')]);
  t.equal(kg.status, 0, kg.stderr);
  const pub = readFileSync(join(dir, 'friend.key.pub'), 'utf8').trim();
  t.match(pub, /^psic-x25519:[0-9a-f]{64}$/);
  t.equal(psic(['keygen', '--x25519', '-o', join(dir, 'friend.key')]).status, 1, 'refuses to replace a key pair');
  t.equal(psic(['keygen', '--x25519', '-o', join(dir, 'stranger.key')]).status, 0);
  const out = join(dir, 'a.psic');
  const c = psic(['compress', png(), '-o', out, '--model', model, '--seal', '--key-file', owner, '--recipient', join(dir, 'friend.key.pub'), '--json']);
  t.equal(c.status, 0, c.stderr);
  t.match(JSON.parse(c.stdout), { sealed: true, recipients: 1 });
  t.equal(psic(['compress', png(), '-o', join(dir, 'b.psic'), '--model', model, '--seal']).status, 2, '--seal needs the owner key');
  t.equal(psic(['compress', png(), '-o', join(dir, 'b.psic'), '--model', model, '--recipient', pub]).status, 2, '--recipient needs --seal');
  for (const [name, args] of [['owner', ['--key-file', owner]], ['friend', ['--key-file', join(dir, 'friend.key')]], ['shown', []]] as const) {
    const r = psic(['decompress', out, '-o', join(dir, `${name}.png`), '--model', model, ...args]);
    t.equal(r.status, 0, `${name}: ${r.stderr}`);
  }
  t.ok(readFileSync(join(dir, 'friend.png')).equals(readFileSync(join(dir, 'owner.png'))), 'the recipient sees the full image');
  t.notOk(readFileSync(join(dir, 'shown.png')).equals(readFileSync(join(dir, 'owner.png'))), 'without a key: the protected image');
  const wrong = psic(['decompress', out, '-o', join(dir, 'wrong.png'), '--model', model, '--key-file', join(dir, 'stranger.key')]);
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /PsicKeyError/);
  t.notOk(existsSync(join(dir, 'wrong.png')), 'no output file');
  const tampered = readFileSync(out);
  tampered[tampered.length - 30] ^= 1;
  writeFileSync(join(dir, 't.psic'), tampered);
  const bad = psic(['decompress', join(dir, 't.psic'), '-o', join(dir, 't.png'), '--model', model, '--key-file', owner]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /PsicIntegrityError/);
  t.notOk(existsSync(join(dir, 't.png')));
  const info = JSON.parse(psic(['info', out, '--json']).stdout);
  t.match(info, { version: 3, sealed: true, seal: { recipients: 1 } });
  t.ok(info.seal.publicBytes > 0 && info.seal.sealedBytes > 16);
});
