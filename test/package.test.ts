// The npm package: `npm pack` carries the prebuilt addon, dist/ and bin/ but no build
// intermediates, tests or node_modules; the tarball installs into an empty folder (from the
// local npm cache when it can) without compiling, and its psic runs --help and a
// compress/decompress round trip there, without ../shared.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { needsAddon, repoRoot } from './helpers/shared.js';

const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 180_000 });

t.test('npm pack contents, install into an empty folder, psic from there', needsAddon, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-pack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // prepack (scripts/prebuild.sh) refreshes prebuilds/ from the current build first.
  const pack = npm(['pack', '--json', '--pack-destination', dir], repoRoot);
  t.equal(pack.status, 0, 'npm pack', { stderr: pack.stderr.slice(-2000) });
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
  const files: { path: string; size: number }[] = info.files;
  const paths = files.map((f) => f.path);
  t.ok(paths.some((p) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(p)), 'the prebuilt addon');
  for (const p of ['bin/psic.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/codec/batch.js', 'scripts/install.mjs', 'CMakeLists.txt', 'package.json']) {
    t.ok(paths.includes(p), `includes ${p}`);
  }
  for (const prefix of ['build/', 'test/', 'node_modules/', 'benchmarks/', '.ci/']) {
    t.notOk(paths.some((p) => p.startsWith(prefix)), `excludes ${prefix}`);
  }
  t.notOk(paths.some((p) => /\.(o|a|gch|tmp)$/.test(p) || p.endsWith('psic.safetensors')), 'no objects, archives, PCHs, temp files or built models');
  const biggest = files.reduce((a, f) => (f.size > a.size ? f : a));
  t.ok(biggest.size < 5e6, `largest file ${biggest.path} is ${biggest.size} bytes`);
  t.ok(info.size < 10e6, `tarball is ${info.size} bytes`);

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  const install = npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], app);
  t.equal(install.status, 0, 'npm install of the tarball', { stderr: install.stderr.slice(-2000) });
  const pkg = join(app, 'node_modules', 'psic');
  t.notOk(existsSync(join(pkg, 'build')), 'nothing compiled at install: the prebuild matched');

  // No ../shared next to the app, and PSIC_SHARED pointing nowhere: the package needs neither.
  const env = { ...process.env, PSIC_SHARED: join(dir, 'no-shared') };
  const bin = join(app, 'node_modules', '.bin', 'psic');
  const run = (args: string[]) => spawnSync(bin, args, { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
  const help = run(['--help']);
  t.equal(help.status, 0, 'psic --help', { stderr: help.stderr });
  t.match(help.stdout, /Usage: psic <command>/);
  t.match(help.stdout, /compress-dir/);
  const which = spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(join(pkg, 'dist', 'native.js'))}).then((m) => console.log(m.addonPath()))`], { cwd: app, env, encoding: 'utf8' });
  t.match(which.stdout.trim(), new RegExp(`^${pkg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/prebuilds/linux-x64/[^/]+\\.node$`), 'loads the prebuild');

  await sharp({ create: { width: 80, height: 56, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toFile(join(app, 'x.png'));
  const steps = [
    ['model', 'init', '--arch', 'psic-hyperprior', '--N', '16', '--M', '24', '-o', 'm.safetensors'],
    ['compress', 'x.png', '-o', 'x.psic', '--model', 'm.safetensors'],
    ['decompress', 'x.psic', '-o', 'y.png', '--model', 'm.safetensors', '--json'],
  ];
  let last = '';
  for (const args of steps) {
    const r = run(args);
    t.equal(r.status, 0, `psic ${args.slice(0, 2).join(' ')}`, { stderr: r.stderr });
    last = r.stdout;
  }
  t.match(JSON.parse(last), { width: 80, height: 56, decode: 'protected' });
  t.match(await sharp(join(app, 'y.png')).metadata(), { width: 80, height: 56, format: 'png' });
  t.same(readdirSync(app).filter((f) => f.endsWith('.tmp')), [], 'no temp files');
});
