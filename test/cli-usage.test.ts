// The CLI's usage contract from the TypeScript sources (node --import tsx src/cli/main.ts), so it
// runs without the addon or dist/: --help, exit 2 for usage errors, exit 1 with one clear line
// for other failures that happen before the model is loaded, never a stack trace.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { repoRoot } from './helpers/shared.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStack = /\n\s+at \S/;

t.test('--help for every command', async (t) => {
  const top = cli(['--help']);
  t.equal(top.status, 0);
  t.match(top.stdout, /Usage: psic <command>/);
  t.match(top.stdout, /compress-dir IN_DIR -o OUT_DIR/);
  t.match(top.stdout, /decompress-dir IN_DIR -o OUT_DIR/);
  for (const cmd of ['compress', 'decompress', 'compress-dir', 'decompress-dir', 'info', 'bench']) {
    const r = cli([cmd, '--help']);
    t.equal(r.status, 0, `${cmd} --help exits 0`);
    t.match(r.stdout, new RegExp(`Usage: psic ${cmd}`), `${cmd} --help prints its usage`);
    t.equal(r.stderr, '', `${cmd} --help writes nothing to stderr`);
  }
});

t.test('usage errors exit 2 with one line on stderr', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /^$/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['compress'], /expected exactly one input image, got 0/],
    [['compress', 'a.png', 'b.png', '-o', 'x.psic', '--model', 'm'], /expected exactly one input image, got 2/],
    [['compress', 'a.png', '--model', 'm'], /missing -o OUT\.psic/],
    [['compress', 'a.png', '-o', 'x.psic'], /missing --model M/],
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--bogus'], /Unknown option '--bogus'/],
    [['compress', 'a.png', '-o'], /-o/],
    [['decompress', 'a.psic', '--model', 'm'], /missing -o OUT\.png/],
    [['decompress', 'a.psic', '-o', 'a.png', '--model', 'm', '--key', 'ab', '--key-file', 'k'], /not both/],
    [['compress-dir', 'in', '--model', 'm'], /missing -o OUT_DIR/],
    [['compress-dir', '-o', 'out', '--model', 'm'], /expected exactly one input directory, got 0/],
    [['decompress-dir', 'in', '-o', 'out'], /missing --model M/],
    [['decompress-dir', 'in', '-o', 'out', '--model', 'm', '--key', 'ab', '--key-file', 'k'], /not both/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--resume=yes'], /--resume/],
    [['info'], /expected exactly one input \.psic file, got 0/],
    [['info', 'a.psic', '--verbose'], /Unknown option '--verbose'/],
    [['eval', 'rd', '--key-file', 'k'], /missing --models M/],
    [['eval', 'rd', '--models', 'a', 'b'], /missing --key-file K/],
    [['eval', 'rd', '--models', 'a', '--key-file', 'k', '--limit', '0'], /--limit must be an integer/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    const what = `psic ${args.join(' ')}`;
    t.equal(r.status, 2, `${what}: exit 2`, { stderr: r.stderr });
    t.match(r.stderr, message, `${what}: says what is wrong`);
    t.notMatch(r.stderr, noStack, `${what}: no stack trace`);
    t.ok(r.stderr.trim().split('\n').length <= 1, `${what}: at most one line`);
  }
});

t.test('failures before the model loads exit 1 and write nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-usage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'x.psic');
  const r1 = cli(['compress', join(dir, 'in.png'), '-o', out, '--model', join(dir, 'no-model.pth.tar')]);
  t.equal(r1.status, 1);
  t.match(r1.stderr, /PsicWeightsError: .*no-model\.pth\.tar/);
  const r2 = cli(['decompress', join(dir, 'missing.psic'), '-o', join(dir, 'x.png'), '--model', 'm']);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /PsicIoError: cannot read '.*missing\.psic'/);
  const r3 = cli(['info', join(dir, 'missing.psic')]);
  t.equal(r3.status, 1);
  t.match(r3.stderr, /PsicIoError/);
  const r6 = cli(['compress-dir', join(dir, 'no-such-dir'), '-o', join(dir, 'out'), '--model', 'm']);
  t.equal(r6.status, 1);
  t.match(r6.stderr, /PsicInputError: cannot read directory '.*no-such-dir'/);
  for (const r of [r1, r2, r3, r6]) t.notMatch(r.stderr, noStack, 'no stack trace');
  t.notOk(existsSync(out), 'no output file');
  t.same(readdirSync(dir), [], 'nothing written, no temp files');
});

t.test('bad flag values are usage errors (exit 2) in every command', async (t) => {
  // Each is refused before any file is read or any model loaded: the paths need not exist.
  const cases: [string[], RegExp][] = [
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--threads', 'abc'], /--threads must be an integer in \[1, 1024\], got 'abc'/],
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--threads', '0'], /--threads/],
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--threads', '1.5'], /--threads/],
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--device', 'gpu'], /--device must be cpu, cuda or cuda:N, got 'gpu'/],
    [['compress', 'a.png', '-o', 'x.psic', '--model', 'm', '--background', 'notacolour'], /--background/],
    [['decompress', 'a.psic', '-o', 'a.png', '--model', 'm', '--threads', '-2'], /--threads/],
    [['decompress', 'a.psic', '-o', 'a.png', '--model', 'm', '--device', 'cuda:x'], /--device/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--concurrency', '0'], /--concurrency must be an integer in \[1, 1024\], got '0'/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--concurrency', 'abc'], /--concurrency/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--concurrency', '5000'], /--concurrency/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--threads', 'x'], /--threads/],
    [['compress-dir', 'in', '-o', 'out', '--model', 'm', '--background', '#12'], /--background/],
    [['decompress-dir', 'in', '-o', 'out', '--model', 'm', '--concurrency', '-1'], /--concurrency/],
    [['decompress-dir', 'in', '-o', 'out', '--model', 'm', '--device', 'tpu'], /--device/],
    [['bench', '--suite', 'nope'], /--suite must be one of codec, /],
    [['bench', '--images', '0'], /--images/],
    [['bench', '--runs', 'x'], /--runs/],
    [['bench', '--device', 'tpu'], /--device/],
    [['model', 'init', '--arch', 'nope', '--N', '16', '--M', '24', '-o', 'm'], /--arch must be one of psic-hyperprior, /],
    [['model', 'init', '--arch', 'psic-hyperprior', '--N', 'abc', '--M', '24', '-o', 'm'], /--N must be an integer/],
    [['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '0', '-o', 'm'], /--M must be an integer/],
    [['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '--seed', '-1', '-o', 'm'], /--seed/],
    [['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '--condition-dim', '0', '-o', 'm'], /--condition-dim/],
    [['eval', 'rd', '--models', 'a', '--key-file', 'k', '--threads', '0'], /--threads/],
    [['eval', 'rd', '--models', 'a', '--key-file', 'k', '--wrong-keys', '-1'], /--wrong-keys/],
    [['eval', 'target', '--target', 'human:gear', '--a', 'a', '--b', 'b', '--limit', 'x'], /--limit/],
    [['eval', 'attack', '--model', 'm', '--key-file', 'k', '--backbone', 'b', '--faces', '.', '--pgd-steps', '0'], /--pgd-steps/],
    [['train', '--config', 'c.json', '--steps', 'x'], /--steps/],
    [['train', '--config', 'c.json', '--nproc', '0'], /--nproc/],
    [['target', 'run', '--target', 'human:gear', '--input-tensor', 'f.bin', '--shape', '1,a,2,3'], /--shape/],
    [['clip', 'embed', '--model', 'm', '--image-tensor', 'f.bin', '--shape', '1,3'], /--shape must be B,3,H,W/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    const what = `psic ${args.join(' ')}`;
    t.equal(r.status, 2, `${what}: exit 2`, { stderr: r.stderr });
    t.match(r.stderr, message, `${what}: says what is wrong`);
    t.match(r.stderr, /\(see --help\)/, `${what}: a usage error`);
    t.notMatch(r.stderr, noStack, `${what}: no stack trace`);
  }
});

t.test('keygen never overwrites a key by accident', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-keygen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'owner.key');
  const r1 = cli(['keygen', '-o', keyFile]);
  t.equal(r1.status, 0, 'a new key', { stderr: r1.stderr });
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8');
  const r2 = cli(['keygen', '-o', keyFile]);
  t.equal(r2.status, 1, 'refused: the file exists');
  t.match(r2.stderr, /PsicIoError: key file '.*owner\.key' already exists.*--force/);
  t.equal(readFileSync(keyFile, 'utf8'), key, 'the old key is untouched');
  const r3 = cli(['keygen', '-o', keyFile, '--force']);
  t.equal(r3.status, 0, '--force replaces it');
  t.not(readFileSync(keyFile, 'utf8'), key);
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  const r4 = cli(['keygen', '-o', join(dir, 'missing', 'k.key')]);
  t.equal(r4.status, 1);
  t.match(r4.stderr, /PsicIoError: cannot write key file '.*missing\/k\.key': folder '.*missing' does not exist/);
  t.notMatch(r4.stderr, /\.tmp/);
  t.same(readdirSync(dir), ['owner.key'], 'no temp files');
});

t.test('outputs that would replace an input are refused (exit 2, nothing touched)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-same-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const photo = join(dir, 'photo.png');
  writeFileSync(photo, 'original bytes');
  symlinkSync(photo, join(dir, 'alias.psic'));
  linkSync(photo, join(dir, 'hard.psic'));
  mkdirSync(join(dir, 'sub'));
  const inDir = join(dir, 'in');
  mkdirSync(inDir);
  writeFileSync(join(inDir, 'a.png'), 'a');
  writeFileSync(join(inDir, 'a.psic'), 'c');
  symlinkSync(inDir, join(dir, 'in-link'));
  const cases: [string[], RegExp][] = [
    [['compress', photo, '-o', photo, '--model', 'm'], /output '.*photo\.png' is the input/],
    [['compress', photo, '-o', join(dir, 'sub', '..', 'photo.png'), '--model', 'm'], /is the input/],
    [['compress', photo, '-o', join(dir, 'alias.psic'), '--model', 'm'], /output '.*alias\.psic' is the input/],
    [['compress', photo, '-o', join(dir, 'hard.psic'), '--model', 'm'], /output '.*hard\.psic' is the input/],
    [['decompress', join(inDir, 'a.psic'), '-o', join(dir, 'in-link', 'a.psic'), '--model', 'm'], /is the input/],
    [['compress-dir', inDir, '-o', inDir, '--model', 'm'], /output folder '.*in' is the input folder/],
    [['compress-dir', inDir, '-o', `${inDir}/.`, '--model', 'm'], /is the input folder/],
    [['decompress-dir', inDir, '-o', join(dir, 'in-link'), '--model', 'm'], /output folder '.*in-link' is the input folder/],
    [['decompress-dir', join(dir, 'in-link'), '-o', inDir, '--model', 'm'], /is the input folder/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    const what = `psic ${args.join(' ')}`;
    t.equal(r.status, 2, `${what}: exit 2`, { stderr: r.stderr });
    t.match(r.stderr, message, what);
    t.notMatch(r.stderr, noStack);
  }
  t.equal(readFileSync(photo, 'utf8'), 'original bytes', 'the photo is untouched');
  t.same(readdirSync(inDir).sort(), ['a.png', 'a.psic'], 'the input folder is untouched');
});

t.test('compress-dir checks the output folder is writable before any job', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-outdir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const inDir = join(dir, 'in');
  mkdirSync(inDir);
  writeFileSync(join(inDir, 'a.png'), 'a');
  writeFileSync(join(dir, 'afile'), 'x');
  // The model does not exist: the output folder is checked first, so its error is the one seen.
  const r1 = cli(['compress-dir', inDir, '-o', join(dir, 'afile', 'out'), '--model', join(dir, 'no-model')]);
  t.equal(r1.status, 1, 'exit 1', { stderr: r1.stderr });
  t.match(r1.stderr, /PsicIoError: cannot write to output folder '.*afile\/out'/);
  const r2 = cli(['decompress-dir', inDir, '-o', join(dir, 'afile'), '--model', join(dir, 'no-model')]);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /PsicIoError: cannot write to output folder '.*afile'/);
  t.test('no permission', { skip: process.getuid?.() === 0 ? 'running as root: permissions do not apply' : false }, async (t) => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    t.teardown(() => chmodSync(ro, 0o700));
    const r = cli(['compress-dir', inDir, '-o', ro, '--model', join(dir, 'no-model')]);
    t.equal(r.status, 1);
    t.match(r.stderr, /PsicIoError: cannot write to output folder '.*ro': permission denied/);
  });
  const made = join(dir, 'new', 'deep');
  const r3 = cli(['compress-dir', inDir, '-o', made, '--model', join(dir, 'no-model')]);
  t.match(r3.stderr, /PsicWeightsError/, 'a missing output folder is made and probed, then the model is loaded');
  t.notOk(existsSync(join(dir, 'new')), 'and removed again when the run fails before any job');
  mkdirSync(join(dir, 'there'));
  cli(['compress-dir', inDir, '-o', join(dir, 'there'), '--model', join(dir, 'no-model')]);
  t.same(readdirSync(join(dir, 'there')), [], 'no probe file left behind; an existing folder stays');
});

t.test('a key file others can read is warned about, as ssh does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-cli-keymode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'k.key');
  writeFileSync(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o644 });
  chmodSync(keyFile, 0o644);
  const r = cli(['decompress', join(dir, 'missing.psic'), '-o', join(dir, 'x.png'), '--model', 'm', '--key-file', keyFile]);
  t.match(r.stderr, /psic: warning: key file '.*k\.key' is readable by group or others \(mode 0644\)/);
  chmodSync(keyFile, 0o600);
  const quiet = cli(['decompress', join(dir, 'missing.psic'), '-o', join(dir, 'x.png'), '--model', 'm', '--key-file', keyFile]);
  t.notMatch(quiet.stderr, /warning/);
  const dev = cli(['decompress', join(dir, 'missing.psic'), '-o', join(dir, 'x.png'), '--model', 'm', '--key-file', '/dev/zero']);
  t.equal(dev.status, 1);
  t.match(dev.stderr, /PsicIoError: key file '\/dev\/zero' is not a regular file/);
});
