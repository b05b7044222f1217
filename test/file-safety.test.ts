// What the SDK reads and writes on the user's disk, without the addon: bounded reads of regular
// files only (no FIFO, no /dev/zero), key files that are never overwritten by accident and
// written 0600 from the start, a warning for keys others can read, and write failures that name
// the user's path (not a temp file).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { writeFileAtomic } from '../src/io/atomic-write.js';
import { ioError, openRegularFile, readFileHead, readRegularFile, readRegularFileSync } from '../src/io/read-file.js';
import { PsicIoError, PsicKeyError, PsicLimitError, generateKey, readImage, readKeyFile, writeKeyFile } from '../src/index.js';
import { keyFileWarnings } from '../src/keys.js';
import { prepareKeyFile } from '../src/training/trainer.js';

const isRoot = process.getuid?.() === 0;

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'psic-file-safety-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fifo(dir: string): string {
  const path = join(dir, 'pipe');
  execFileSync('mkfifo', [path]);
  return path;
}

t.test('readRegularFile: regular files only, bounded', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'a.bin');
  writeFileSync(file, Buffer.alloc(100, 1));
  t.same(await readRegularFile(file, { maxBytes: 100, what: 'test file' }), Buffer.alloc(100, 1));
  t.same(readRegularFileSync(file, { maxBytes: 100, what: 'test file' }), Buffer.alloc(100, 1), 'sync variant');
  await t.rejects(readRegularFile(file, { maxBytes: 99, what: 'test file' }), { name: 'PsicLimitError', message: /test file '.*a\.bin' is 100 bytes, over the limit of 99/ });
  t.throws(() => readRegularFileSync(file, { maxBytes: 99, what: 'test file' }), PsicLimitError);
  await t.rejects(readRegularFile('/dev/zero', { maxBytes: 1 << 20, what: 'test file' }), { name: 'PsicIoError', message: /'\/dev\/zero' is not a regular file/ });
  t.throws(() => readRegularFileSync('/dev/zero', { maxBytes: 1 << 20, what: 'test file' }), PsicIoError);
  await t.rejects(readRegularFile(dir, { maxBytes: 1 << 20, what: 'test file' }), { name: 'PsicIoError', message: /is a directory|not a regular file/ });
  await t.rejects(readRegularFile(join(dir, 'missing'), { maxBytes: 10, what: 'test file' }), { name: 'PsicIoError', message: /cannot read test file '.*missing': no such file/ });
  // A FIFO with no writer: opening it must not block.
  const pipe = fifo(dir);
  await t.rejects(readRegularFile(pipe, { maxBytes: 10, what: 'test file' }), { name: 'PsicIoError', message: /not a regular file/ });
  t.throws(() => readRegularFileSync(pipe, { maxBytes: 10, what: 'test file' }), PsicIoError);
  // Symlinks to regular files are followed.
  symlinkSync(file, join(dir, 'link'));
  t.equal((await readRegularFile(join(dir, 'link'), { maxBytes: 100, what: 'test file' })).length, 100);
});

t.test('readFileHead and openRegularFile (for container readers)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'c.bin');
  writeFileSync(file, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  const head = await readFileHead(file, 4, 'container');
  t.same([...head.bytes], [0, 1, 2, 3]);
  t.equal(head.size, 10);
  t.same([...(await readFileHead(file, 40, 'container')).bytes], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'a short file gives what it has');
  const f = await openRegularFile(file, 'container');
  try {
    t.equal(f.size, 10);
    t.same([...(await f.readExactly(6, 3))], [6, 7, 8]);
    await t.rejects(f.readExactly(8, 3), { name: 'PsicFormatError', message: /container '.*c\.bin' is truncated/ });
  } finally {
    await f.close();
  }
  await t.rejects(readFileHead('/dev/zero', 4, 'container'), PsicIoError);
  await t.rejects(openRegularFile(fifo(dir), 'container'), PsicIoError);
});

t.test('key files: bounded, regular, never overwritten by accident', async (t) => {
  const dir = tempDir(t);
  await t.rejects(readKeyFile('/dev/zero'), { name: 'PsicIoError', message: /key file '\/dev\/zero' is not a regular file/ });
  await t.rejects(readKeyFile(fifo(dir)), PsicIoError, 'a FIFO is refused without blocking');
  const big = join(dir, 'big.key');
  writeFileSync(big, 'ab'.repeat(4096));
  await t.rejects(readKeyFile(big), { name: 'PsicKeyError', message: /over the limit of 4096 bytes/ });
  await t.rejects(readKeyFile(join(dir, 'missing.key')), { name: 'PsicIoError', message: /cannot read key file '.*missing\.key'/ });

  const keyFile = join(dir, 'owner.key');
  const first = generateKey();
  await writeKeyFile(keyFile, first);
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  await t.rejects(writeKeyFile(keyFile, generateKey()), { name: 'PsicIoError', message: /key file '.*owner\.key' already exists/ });
  t.same(await readKeyFile(keyFile), first, 'the existing key is kept');
  const second = generateKey();
  await writeKeyFile(keyFile, second, { overwrite: true });
  t.same(await readKeyFile(keyFile), second, 'overwrite: true replaces it');
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  // A dangling symlink is an existing path too: never written through.
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'dangling.key'));
  await t.rejects(writeKeyFile(join(dir, 'dangling.key'), generateKey()), PsicIoError);
  t.notOk(existsSync(join(dir, 'elsewhere')));
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
});

t.test('key files: 0600 from creation (umask 0), warning when others can read', async (t) => {
  const dir = tempDir(t);
  const keyFile = join(dir, 'k.key');
  const old = process.umask(0);
  try {
    // Watch the temp file while it exists: the directory listing as the write happens.
    const modes: number[] = [];
    const watcher = setInterval(() => {
      for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) try { modes.push(statSync(join(dir, f)).mode & 0o777); } catch { /* renamed */ }
    }, 0);
    await writeKeyFile(keyFile, generateKey());
    clearInterval(watcher);
    t.ok(modes.every((m) => m === 0o600), `temp file modes seen: ${modes.map((m) => m.toString(8)).join(',') || 'none'}`);
  } finally {
    process.umask(old);
  }
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  t.same(await keyFileWarnings(keyFile), [], 'no warning for 0600');
  chmodSync(keyFile, 0o644);
  const warnings: string[] = [];
  await readKeyFile(keyFile, { onWarning: (w) => warnings.push(w) });
  t.equal(warnings.length, 1);
  t.match(warnings[0], /key file '.*k\.key' is readable by group or others \(mode 0644\).*chmod 600/);
  chmodSync(keyFile, 0o640);
  t.match((await keyFileWarnings(keyFile))[0], /readable by group or others \(mode 0640\)/);
});

t.test('config files are bounded and regular', async (t) => {
  const dir = tempDir(t);
  await t.rejects(prepareKeyFile('/dev/zero'), { name: 'PsicIoError', message: /config '\/dev\/zero' is not a regular file/ });
  await t.rejects(prepareKeyFile(fifo(dir)), PsicIoError);
  const big = join(dir, 'big.json');
  writeFileSync(big, `{"x": "${'a'.repeat(1 << 20)}"}`);
  await t.rejects(prepareKeyFile(big), { name: 'PsicLimitError', message: /config '.*big\.json' is \d+ bytes, over the limit of 1048576/ });
  const ok = join(dir, 'ok.json');
  writeFileSync(ok, `{"keyFile": "made.key"}`);
  await prepareKeyFile(ok);
  t.ok(existsSync(join(dir, 'made.key')), 'a config under the limit is read');
});

t.test('image inputs: regular files only, bounded by the pixel limit', async (t) => {
  const dir = tempDir(t);
  await t.rejects(readImage('/dev/zero'), { name: 'PsicIoError', message: /'\/dev\/zero' is not a regular file/ });
  await t.rejects(readImage(fifo(dir)), PsicIoError);
  const big = join(dir, 'big.png');
  writeFileSync(big, 'x');
  truncateSync(big, 32 * 1024 * 1024); // sparse: nothing is written
  await t.rejects(readImage(big, { pixelLimit: 1000 }), { name: 'PsicLimitError', message: /over the limit/ }, 'a file far larger than any image of the pixel limit');
});

t.test('write failures name the user\'s path, not a temp file', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'no-such-folder', 'out.psic');
  await t.rejects(writeFileAtomic(missing, Buffer.from('x')), { name: 'PsicIoError', message: /cannot write '.*no-such-folder\/out\.psic': folder '.*no-such-folder' does not exist/ });
  const err = await writeFileAtomic(missing, Buffer.from('x')).catch((e: Error) => e);
  t.notMatch((err as Error).message, /\.tmp/, 'no temp file name');
  writeFileSync(join(dir, 'afile'), 'x');
  await t.rejects(writeFileAtomic(join(dir, 'afile', 'out.psic'), Buffer.from('x')), { name: 'PsicIoError', message: /'.*afile' is not a folder/ });
  const full = ioError(Object.assign(new Error(`ENOSPC: no space left on device, write '/x/.out.psic.1.abcdef012345.tmp'`), { code: 'ENOSPC' }), 'write', '/x/out.psic');
  t.ok(full instanceof PsicIoError);
  t.equal(full.message, "cannot write '/x/out.psic': no space left on device");
  t.test('no permission', { skip: isRoot ? 'running as root: permissions do not apply' : false }, async (t) => {
    const ro = join(dir, 'ro');
    execFileSync('mkdir', [ro]);
    chmodSync(ro, 0o500);
    t.teardown(() => chmodSync(ro, 0o700));
    await t.rejects(writeFileAtomic(join(ro, 'out.psic'), Buffer.from('x')), { name: 'PsicIoError', message: /cannot write '.*ro\/out\.psic': permission denied/ });
  });
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  t.notOk(existsSync(join(dir, 'no-such-folder')));
  t.equal(readFileSync(join(dir, 'afile'), 'utf8'), 'x');
});

t.test('PsicKeyError stays the error of malformed keys', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bad.key'), 'not hex\n');
  await t.rejects(readKeyFile(join(dir, 'bad.key')), PsicKeyError);
});
