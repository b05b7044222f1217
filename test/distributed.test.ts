// Data-parallel training (c10d over Gloo on 127.0.0.1): ranks shard every batch, two ranks train
// the weights one process trains on the combined batch, a dead or missing rank fails the others
// with PsicDistributedError instead of hanging, and the launcher fails when a rank does.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { Codec } from '../src/index.js';
import { ImageDataset } from '../src/training/dataset.js';
import { freePort } from '../src/training/launch.js';
import { Trainer, type TrainerConfig } from '../src/training/trainer.js';
import { psic } from './helpers/cli.js';
import { needsAddon, needsBoth, repoRoot, sharedDir } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'psic-dist-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const images = join(dir, 'images');
const key = 'b2'.repeat(32);
const env = { PSIC_SHARED: sharedDir() };

// Eight 96x80 noisy gradients: small, deterministic, no shared data needed.
t.before(async () => {
  mkdirSync(images);
  let s = 1;
  for (let i = 0; i < 8; i++) {
    const px = Buffer.alloc(96 * 80 * 3);
    for (let k = 0; k < px.length; k++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      px[k] = ((s >>> 24) + ((k / 3) % 96) * 2) & 255;
    }
    await sharp(px, { raw: { width: 96, height: 80, channels: 3 } }).png().toFile(join(images, `${i}.png`));
  }
});

async function tinyModel(): Promise<string> {
  const path = join(dir, 'tiny.safetensors');
  await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, seed: 0 })).save(path);
  return path;
}

/** The F32 tensors of a safetensors file, by name. */
function weights(path: string): Map<string, Float32Array> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, Float32Array>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || info.dtype !== 'F32') continue;
    const bytes = buf.subarray(8 + n + info.data_offsets[0], 8 + n + info.data_offsets[1]);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  return out;
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let max = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  }
  return max;
}

function rank(config: string, r: number, master: string, json = false): ChildProcess {
  return spawn(process.execPath, [join(repoRoot, 'bin', 'psic.js'), 'train', '--config', config, '--world-size', '2', '--rank', String(r), '--master', master, ...(json ? ['--json'] : [])],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

const exited = (child: ChildProcess) => new Promise<number | null>((done) => child.on('close', (code) => done(code)));

t.test('each rank takes its part of every batch: together they are the unsharded batch', async (t) => {
  const open = (shard?: { rank: number; count: number }) => ImageDataset.open({ dir: images, crop: 64, batchSize: 4, seed: 3, prefetch: 0, shard });
  const [whole, r0, r1] = await Promise.all([open(), open({ rank: 0, count: 2 }), open({ rank: 1, count: 2 })]);
  const take = async (ds: ImageDataset, n: number) => {
    const out = [];
    const it = ds.batches({ epoch: 0, index: 1 });
    for (let i = 0; i < n; i++) out.push((await it.next()).value!);
    await it.return?.();
    return out;
  };
  const [a, b, c] = await Promise.all([take(whole, 3), take(r0, 3), take(r1, 3)]);
  for (let i = 0; i < 3; i++) {
    t.same([...b[i]!.files, ...c[i]!.files], a[i]!.files, `batch ${i}: the files`);
    t.same(b[i]!.shape, [2, 3, 64, 64]);
    t.same(Array.from(b[i]!.data).concat(Array.from(c[i]!.data)), Array.from(a[i]!.data), `batch ${i}: the crops`);
  }
  await t.rejects(open({ rank: 2, count: 2 }), { name: 'PsicInputError', message: /shard.rank/ });
  await t.rejects(ImageDataset.open({ dir: images, crop: 64, batchSize: 3, seed: 0, shard: { rank: 0, count: 2 } }), { name: 'PsicInputError', message: /multiple of the 2 ranks/ });
});

// clip-tiny (an embedding head) as the target: its UAEO loss couples the samples of a batch (the
// other images are the texts), so the ranks must put the whole batch together to match.
t.test('two ranks on 127.0.0.1 train the weights one process trains on the combined batch', needsBoth, async (t) => {
  const model = await tinyModel();
  const clip = `clip:${join(sharedDir(), 'fixtures', 'clip-tiny', 'clip-tiny.safetensors')}`;
  const cases: [string, Partial<TrainerConfig>][] = [
    ['alternate: full, protected, full steps', {}],
    ['mixed schedule, inverse-loss balance, 2 wrong keys', { schedule: 'mixed', balance: 'inverse-loss', wrongKeys: 2, data: { dir: images, crop: 64, batchSize: 8 } }],
  ];
  for (const [what, extra] of cases) {
    const base: TrainerConfig = {
      model, key, data: { dir: images, crop: 64, batchSize: 4 }, targets: [{ target: clip }], steps: 3, logEvery: 1,
      lr: 1e-4, wrongKeys: 1, checkpointEvery: 1000, distributed: { worldSize: 1, rank: 0, master: '127.0.0.1:1', timeoutSeconds: 30 }, ...extra,
    };
    const single = await Trainer.create({ ...base, output: join(dir, 'single.safetensors') });
    const logs: number[] = [];
    single.on('progress', (l) => logs.push(l.loss));
    await single.run();
    const file = join(dir, 'two.json');
    writeFileSync(file, JSON.stringify({ ...base, output: join(dir, 'two.safetensors') }));
    const r = psic(['train', '--config', file, '--nproc', '2', '--json'], env);
    t.equal(r.status, 0, `${what}: the launcher succeeds (${r.stderr})`);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    t.equal(lines.length, 4, `${what}: rank 0's three log lines and its summary, nothing from rank 1`);
    t.equal(lines.at(-1).done.worldSize, 2);
    const relative = lines.slice(0, 3).map((l, i) => Math.abs(l.loss - logs[i]!) / logs[i]!);
    t.ok(relative.every((x) => x < 1e-5), `${what}: the combined batch's losses (relative differences ${relative.map((x) => x.toExponential(1)).join(', ')})`);
    const one = weights(join(dir, 'single.safetensors'));
    const diff = maxAbsDiff(one, weights(join(dir, 'two.safetensors')));
    t.ok(diff <= 1e-5, `${what}: max |w_1 process - w_2 ranks| = ${diff.toExponential(2)} <= 1e-5`);
    const moved = maxAbsDiff(one, weights(model));
    t.ok(moved > 100 * 1e-5, `${what}: the weights moved from init (max ${moved.toExponential(2)}), so the comparison can fail`);
  }
});

t.test('a rank that dies makes the other fail with PsicDistributedError, not hang', needsAddon, async (t) => {
  const config = join(dir, 'long.json');
  writeFileSync(config, JSON.stringify({
    model: await tinyModel(), key, data: { dir: images, crop: 64, batchSize: 4 }, steps: 100000, logEvery: 1, wrongKeys: 0,
    output: join(dir, 'long.safetensors'), distributed: { timeoutSeconds: 5 },
  }));
  const master = `127.0.0.1:${await freePort()}`;
  const r0 = rank(config, 0, master, true);
  const r1 = rank(config, 1, master);
  let stderr = '';
  r0.stderr!.on('data', (d) => { stderr += d; });
  let out = '';
  r0.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('"step":1,')) r1.kill('SIGKILL');  // mid-run, after two steps together
  });
  const start = Date.now();
  const [code0, code1] = await Promise.all([exited(r0), exited(r1)]);
  t.equal(code1, null, 'rank 1 was killed');
  t.equal(code0, 1, 'rank 0 exits non-zero');
  t.match(stderr, /PsicDistributedError: distributed: rank 0 of 2: .* failed; another rank exited or did not answer within 5 s/);
  t.ok(Date.now() - start < 120_000, 'and well before a hang would end (loose bound)');
});

t.test('a missing rank fails the rendezvous after the timeout; a failing rank fails the launcher', needsAddon, async (t) => {
  const config = join(dir, 'alone.json');
  const model = await tinyModel();
  writeFileSync(config, JSON.stringify({ model, key, data: { dir: images, crop: 64, batchSize: 4 }, steps: 2, distributed: { timeoutSeconds: 2 } }));
  const r0 = rank(config, 0, `127.0.0.1:${await freePort()}`);
  let stderr = '';
  r0.stderr!.on('data', (d) => { stderr += d; });
  t.equal(await exited(r0), 1);
  t.match(stderr, /PsicDistributedError: distributed: rank 0 of 2 could not (meet the others at|connect to every other rank) .*within 2 s/);
  // Every rank fails on a bad data folder; the launcher reports the first and exits 1.
  writeFileSync(config, JSON.stringify({ model, key, data: { dir: join(dir, 'nope'), crop: 64, batchSize: 4 }, steps: 2 }));
  const r = psic(['train', '--config', config, '--nproc', '2'], env);
  t.equal(r.status, 1);
  t.match(r.stderr, /PsicInputError: cannot read dataset dir/);
  t.match(r.stderr, /PsicDistributedError: rank \d exited with code 1; the other ranks were stopped/);
});

t.test('distributed config and flags are validated', needsAddon, async (t) => {
  const model = await tinyModel();
  const base: TrainerConfig = { model, key, data: { dir: images, crop: 64, batchSize: 4 } };
  const bad = async (distributed: unknown, message: RegExp, extra: Partial<TrainerConfig> = {}, name = 'PsicConfigError') =>
    t.rejects(Trainer.create({ ...base, ...extra, distributed: distributed as TrainerConfig['distributed'] }), { name, message });
  await bad({ worldSize: 2, rank: 2, master: '127.0.0.1:29500' }, /distributed.rank/);
  await bad({ worldSize: 0, rank: 0, master: '127.0.0.1:29500' }, /distributed.worldSize/);
  await bad({ worldSize: 2, rank: 0, master: 'localhost' }, /ADDR:PORT/);
  await bad({ worldSize: 2, rank: 0, master: '127.0.0.1:70000' }, /ADDR:PORT/);
  await bad({ worldSize: 2, rank: 0, master: '127.0.0.1:29500', timeoutSeconds: 0 }, /timeoutSeconds/);
  await bad({ worldSize: 3, rank: 0, master: '127.0.0.1:29500' }, /multiple of the 3 ranks/, {}, 'PsicInputError');
  await bad({ worldSize: 2, rank: 1, master: '127.0.0.1:29500' }, /distributed ranks need an existing key/, { key: undefined, keyFile: join(dir, 'none.key') }, 'PsicKeyError');
  const file = join(dir, 'flags.json');
  writeFileSync(file, JSON.stringify(base));
  t.equal(psic(['train', '--config', file, '--rank', '0']).status, 2, '--rank alone is a usage error');
  t.equal(psic(['train', '--config', file, '--nproc', '2', '--world-size', '2', '--rank', '0', '--master', '127.0.0.1:1']).status, 2);
  t.equal(psic(['train', '--config', file, '--world-size', '2', '--rank', '2', '--master', '127.0.0.1:1']).status, 2);
  t.equal(psic(['train', '--config', file, '--nproc', '0']).status, 2);
});
