// The training config has one owner, cpp/training/trainer_config.h: an unknown field (at any
// level), a wrong type or a value out of range is a PsicConfigError naming the field (the CLI
// exits 2), a minimal config resolves to the documented defaults, the model loads once in the
// addon, which also fixes the key salt (keySaltFor: the same formula as before) and the key's
// condition.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { Codec, PsicConfigError, keySaltFor } from '../src/index.js';
import { deriveCondition } from '../src/keys.js';
import { Trainer, type TrainerConfig, resolveTrainerConfig } from '../src/training/trainer.js';
import { psic } from './helpers/cli.js';
import { needsAddon } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'psic-train-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const key = 'c3'.repeat(32);

async function tinyModel(): Promise<string> {
  const path = join(dir, 'tiny.safetensors');
  await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, seed: 0 })).save(path);
  return path;
}

// [what, a patch of a valid config, the field the error must name, the message]
const bad: [string, Record<string, unknown>, RegExp][] = [
  ['unknown field', { lamda: 0.01 }, /unknown config field 'lamda' \(did you mean 'lambda'\?\)/],
  ['unknown nested field', { data: { dir: 'faces', crp: 64 } }, /unknown config field 'data\.crp'/],
  ['unknown field of a target', { targets: [{ target: 'human:age', wieght: 1 }] }, /unknown config field 'targets\[0\]\.wieght'/],
  ['unknown field of distributed', { distributed: { worldSize: 1, ranks: 0 } }, /unknown config field 'distributed\.ranks'/],
  ['wrong type (lr)', { lr: '0.1' }, /config field 'lr' must be a number, got "0\.1"/],
  ['wrong type (stage)', { stage: '2' }, /config field 'stage' must be 1 or 2, got "2"/],
  ['wrong type (data.crop)', { data: { dir: 'faces', crop: '128' } }, /config field 'data\.crop' must be a multiple of 64, got "128"/],
  ['wrong type (conditioningOnly)', { conditioningOnly: 'yes' }, /config field 'conditioningOnly' must be true or false/],
  ['wrong type (null)', { seed: null }, /config field 'seed' must be a non-negative integer, got null/],
  ['out of range (temperature)', { temperature: 1.5 }, /config field 'temperature' must be in \(0, 1\), got 1\.5/],
  ['out of range (data.crop)', { data: { dir: 'faces', crop: 100 } }, /config field 'data\.crop' must be a multiple of 64, got 100/],
  ['out of range (wrongKeys)', { wrongKeys: 65 }, /config field 'wrongKeys' must be an integer in \[0, 64\], got 65/],
  ['out of range (stage)', { stage: 3 }, /config field 'stage' must be 1 or 2, got 3/],
  ['out of range (uaeo)', { uaeo: 'x' }, /config field 'uaeo' must be one of 'paper', 'code', 'naive'/],
  ['out of range (device)', { device: 'gpu' }, /config field 'device' must be 'cpu', 'cuda' or 'cuda:N', got "gpu"/],
  ['out of range (distributed.master)', { distributed: { worldSize: 2, rank: 0, master: 'localhost' } }, /config field 'distributed\.master' must be ADDR:PORT/],
];

t.test('Trainer.create rejects a bad field with PsicConfigError naming it', needsAddon, async (t) => {
  const base: TrainerConfig = { model: await tinyModel(), key, steps: 1 };
  for (const [what, patch, message] of bad) {
    await t.rejects(Trainer.create({ ...base, ...patch } as TrainerConfig), { name: 'PsicConfigError', message }, what);
  }
  t.throws(() => resolveTrainerConfig({ key } as TrainerConfig), { name: 'PsicConfigError', message: /config field 'model' is required/ });
  let caught: unknown;
  try {
    resolveTrainerConfig({ model: 'm', lr: -1 });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof PsicConfigError, 'an instance of PsicConfigError');
});

t.test('psic train --config bad.json exits 2 and names the field', needsAddon, async (t) => {
  const model = await tinyModel();
  for (const [what, patch, message] of [bad[0], bad[1], bad[5], bad[10]]) {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ model, key, ...patch }));
    const r = psic(['train', '--config', file]);
    t.equal(r.status, 2, `${what}: exit 2`);
    t.match(r.stderr, /PsicConfigError/, what);
    t.match(r.stderr, message, `${what}: stderr names the field`);
  }
  // The CLI's overrides are validated with the file: --master joins distributed.master.
  const file = join(dir, 'ok.json');
  writeFileSync(file, JSON.stringify({ model, key }));
  const r = psic(['train', '--config', file, '--world-size', '2', '--rank', '0', '--master', 'localhost']);
  t.equal(r.status, 2);
  t.match(r.stderr, /config field 'distributed\.master' must be ADDR:PORT/);
});

t.test('a minimal config resolves to the documented defaults', needsAddon, async (t) => {
  const model = await tinyModel();
  const trainer = await Trainer.create({ model, key });
  t.match(trainer.config, {
    stage: 1, conditioningOnly: false, steps: 1000, lambda: 0.013, lr: 1e-4, auxLr: 1e-3, clipMaxNorm: 1, schedule: 'alternate',
    balance: 'fixed', attackWeight: 1, protectedPsnr: 30, dualLr: 0.05, uaeo: 'paper', temperature: 0.1, wrongKeys: 2, seed: 0,
    logEvery: 10, checkpointEvery: 200, device: 'cpu', targets: [],
    output: join(dir, 'tiny.trained.safetensors'), checkpoint: join(dir, 'tiny.trained.ckpt.safetensors'),
  });
  t.equal(trainer.config.data, undefined);
  t.equal(trainer.config.distributed, undefined);
  const data = resolveTrainerConfig({ model: 'm.safetensors', data: { dir: 'faces' }, targets: [{ target: 'human:age' }] });
  t.same(data.data, { dir: 'faces', crop: 128, batchSize: 8, prefetch: 2 });
  t.same(data.targets, [{ target: 'human:age', weight: 1 }]);
  t.same(resolveTrainerConfig({ model: 'm', distributed: { worldSize: 1, rank: 0, master: 'x:1' } }).distributed,
    { worldSize: 1, rank: 0, master: 'x:1', timeoutSeconds: 60 });
  // Relative paths resolve from the config file's folder; the CLI-style override merges first.
  const file = join(dir, 'relative.json');
  writeFileSync(file, JSON.stringify({ model: 'tiny.safetensors', key, output: 'out/o.safetensors', steps: 7 }));
  const fromFile = await Trainer.create(file, { override: { steps: 3 } });
  t.equal(fromFile.config.model, model);
  t.equal(fromFile.config.output, join(dir, 'out', 'o.safetensors'));
  t.equal(fromFile.config.checkpoint, join(dir, 'out', 'o.ckpt.safetensors'));
  t.equal(fromFile.config.steps, 3);
});

t.test('distributed.master is ADDR:PORT, an IPv6 address in brackets', needsAddon, async (t) => {
  for (const master of ['127.0.0.1:29500', '[::1]:29500', 'node-3.cluster:1', '[fe80::1%eth0]:65535']) {
    t.equal(resolveTrainerConfig({ model: 'm', distributed: { worldSize: 2, rank: 1, master } }).distributed?.master, master, master);
  }
  for (const master of ['localhost', '127.0.0.1:70000', '127.0.0.1:0', '::1:29500', '[::1]29500', ':29500', 'a b:1']) {
    t.throws(() => resolveTrainerConfig({ model: 'm', distributed: { worldSize: 2, rank: 0, master } }),
      { name: 'PsicConfigError', message: /distributed\.master/ }, master);
  }
  t.throws(() => resolveTrainerConfig({ model: 'm', distributed: { worldSize: 2, rank: 0 } as never }), { name: 'PsicConfigError', message: /distributed\.master' is required/ });
});

t.test('keySaltFor is the formula it always was; the trainer derives salt and condition once', needsAddon, async (t) => {
  const oldFormula = (id: string, seed: number) => createHash('sha256').update(`psic/key-salt/v1/${id}/${seed}`).digest('hex').slice(0, 32);
  for (const [id, seed] of [['0123456789abcdef0123456789abcdef', 0], ['ffffffffffffffffffffffffffffffff', 7], ['a1b2c3d4e5f60718293a4b5c6d7e8f90', 9007199254740991]] as const) {
    t.equal(keySaltFor(id, seed), oldFormula(id, seed), `${id} / ${seed}`);
  }
  t.throws(() => keySaltFor('not hex', 0), { name: 'PsicKeyError' });
  const model = await tinyModel();
  const codec = await Codec.load(model);
  const trainer = await Trainer.create({ model, key, seed: 5 });
  t.equal(trainer.keySalt, oldFormula(codec.modelId, 5), 'a fresh model: the salt of its id and the seed');
  t.same(Array.from(trainer.fullCondition), Array.from(deriveCondition(key, trainer.keySalt, codec.conditionDim)), 'the key\'s condition under that salt');
  // A trained model keeps its salt whatever the seed.
  const output = join(dir, 'salted.safetensors');
  await trainer.save(output);
  const again = await Trainer.create({ model: output, key, seed: 9 });
  t.equal(again.keySalt, trainer.keySalt);
  t.same(Array.from(again.fullCondition), Array.from(trainer.fullCondition));
  // An unconditional model has a single decode.
  const plain = join(dir, 'plain.safetensors');
  await (await Codec.init({ architecture: 'bmshj2018-hyperprior', N: 16, M: 24, seed: 0 })).save(plain);
  await t.rejects(Trainer.create({ model: plain, key }), { name: 'PsicInputError', message: /single decode/ });
});
