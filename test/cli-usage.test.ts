// The CLI's usage contract from the TypeScript sources (node --import tsx src/cli/main.ts), so it
// runs without the addon or dist/: --help, exit 2 for usage errors, exit 1 with one clear line
// for other failures that happen before the model is loaded, never a stack trace.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
  t.match(r2.stderr, /PsicInputError: cannot read '.*missing\.psic'/);
  const r3 = cli(['info', join(dir, 'missing.psic')]);
  t.equal(r3.status, 1);
  t.match(r3.stderr, /PsicInputError/);
  const r4 = cli(['compress', 'a.png', '-o', out, '--model', 'm', '--threads', 'many']);
  t.equal(r4.status, 1);
  t.match(r4.stderr, /--threads must be a positive integer/);
  const r5 = cli(['compress-dir', dir, '-o', join(dir, 'out'), '--model', 'm', '--concurrency', '0']);
  t.equal(r5.status, 1);
  t.match(r5.stderr, /--concurrency must be an integer/);
  const r6 = cli(['compress-dir', join(dir, 'no-such-dir'), '-o', join(dir, 'out'), '--model', 'm']);
  t.equal(r6.status, 1);
  t.match(r6.stderr, /PsicInputError: cannot read directory '.*no-such-dir'/);
  for (const r of [r1, r2, r3, r4, r5, r6]) t.notMatch(r.stderr, noStack, 'no stack trace');
  t.notOk(existsSync(out), 'no output file');
  t.same(readdirSync(dir), [], 'nothing written, no temp files');
});
