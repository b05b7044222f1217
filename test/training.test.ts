// PSIC training on a tiny config (N=16, M=24, 64x64 crops of celeba-train, the emotion model as
// the target): alternation order, stage-2 freezing, exact resume, Ctrl-C, and the key-bound
// unlock (wrong keys decode to the protected image, the owner's key to the full one).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { Codec, psnr } from '../src/index.js';
import { type StepLog, Trainer, type TrainerConfig } from '../src/training/trainer.js';
import { needsHumanModels } from './helpers/human.js';
import { repoRoot, sharedDir } from './helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'psic-train-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const key = 'a1'.repeat(32);
const faces = () => join(sharedDir(), 'data', 'celeba-train', 'images');

async function tinyModel(): Promise<string> {
  const path = join(dir, 'tiny.safetensors');
  if (!existsSync(path)) await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, seed: 0 })).save(path);
  return path;
}

async function config(extra: Partial<TrainerConfig> = {}): Promise<TrainerConfig> {
  return {
    model: await tinyModel(), key, data: { dir: faces(), crop: 64, batchSize: 4, limit: 32 },
    targets: [{ target: 'human:emotion' }], steps: 4, logEvery: 1, lr: 1e-3, wrongKeys: 1,
    output: join(dir, `out-${Math.random().toString(36).slice(2)}.safetensors`), checkpointEvery: 1000, ...extra,
  };
}

async function logsOf(trainer: Trainer): Promise<StepLog[]> {
  const logs: StepLog[] = [];
  trainer.on('progress', (l: StepLog) => logs.push(l));
  await trainer.run();
  return logs;
}

t.test('stage 1 alternates full and protected steps; mixed splits each batch', needsHumanModels, async (t) => {
  const logs = await logsOf(await Trainer.create(await config()));
  t.same(logs.map((l) => l.mode), ['full', 'protected', 'full', 'protected']);
  t.same(logs.map((l) => l.step), [0, 1, 2, 3]);
  t.ok(logs.every((l) => Number.isFinite(l.loss) && l.bpp > 0 && l.stage === 1));
  t.ok(logs[1].attackLoss !== null && logs[1].psnrProtected !== null && logs[1].psnrWrongKey !== null, 'protected steps report the attack');
  const mixed = await logsOf(await Trainer.create(await config({ schedule: 'mixed', steps: 2 })));
  t.same(mixed.map((l) => l.mode), ['mixed', 'mixed']);
  t.ok(mixed.every((l) => l.psnrFull !== null && l.psnrProtected !== null), 'both halves measured every step');
  const small = await Trainer.create(await config({ schedule: 'mixed' }));
  await t.rejects(small.step({ data: new Float32Array(2 * 3 * 64 * 64), shape: [2, 3, 64, 64] }), { name: 'PsicInputError', message: /at least 4/ });
  await t.rejects(small.step({ data: new Float32Array(4 * 3 * 60 * 60), shape: [4, 3, 60, 60] }), { name: 'PsicInputError', message: /multiples of 64/ });
});

t.test('stage 2 freezes g_a, h_a, h_s and the entropy models bit for bit', needsHumanModels, async (t) => {
  const trainer = await Trainer.create(await config({ stage: 2, steps: 2 }));
  t.ok(trainer.trainableNames.length > 0 && trainer.trainableNames.every((n) => /^(g_s_cond|global_cond)\./.test(n)), 'only the decoder trains');
  const before = trainer.stateDigest();
  await trainer.run();
  const after = trainer.stateDigest();
  const frozen = Object.keys(before).filter((n) => /^(g_a|h_a|h_s|entropy_bottleneck|gaussian_conditional)\./.test(n));
  t.ok(frozen.length > 20, `${frozen.length} encoder-side tensors`);
  t.same(frozen.filter((n) => before[n] !== after[n]), [], 'every frozen tensor is bit-identical');
  t.ok(Object.keys(before).some((n) => n.startsWith('g_s_cond.') && before[n] !== after[n]), 'the decoder changed');
});

t.test('--resume continues exactly: the same losses as an uninterrupted run', needsHumanModels, async (t) => {
  const straight = await Trainer.create(await config({ steps: 4 }));
  const all = await logsOf(straight);
  const first = await Trainer.create(await config({ steps: 2, checkpoint: join(dir, 'half.ckpt.safetensors') }));
  await logsOf(first);
  const resumed = await Trainer.create(await config({ steps: 4 }), { resume: join(dir, 'half.ckpt.safetensors') });
  t.equal(resumed.stepsDone, 2);
  const rest = await logsOf(resumed);
  t.same(rest.map((l) => l.step), [2, 3]);
  t.same(rest.map((l) => [l.loss, l.bpp, l.gradNorm, l.auxLoss]), all.slice(2).map((l) => [l.loss, l.bpp, l.gradNorm, l.auxLoss]), 'losses and gradient norms equal');
  t.same(resumed.stateDigest(), straight.stateDigest(), 'weights equal');
  // A checkpoint of another config is refused.
  const other = join(dir, 'other.safetensors');
  await (await Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 32, seed: 0 })).save(other);
  await t.rejects(Trainer.create({ ...(await config()), model: other }, { resume: join(dir, 'half.ckpt.safetensors') }), { name: 'PsicModelMismatchError' });
  await t.rejects(Trainer.create(await config(), { resume: join(dir, 'tiny.safetensors') }), { name: 'PsicFormatError' });
});

t.test('the owner key unlocks the full decode; 20 wrong keys give the protected one', needsHumanModels, async (t) => {
  const output = join(dir, 'keyed.safetensors');
  // 80 steps: at 40 the decodes are still near 10 dB and which image a wrong key lands closer
  // to depends on the CPU's float rounding; by 80 every wrong key sits ~5 dB nearer the protected one.
  const trainer = await Trainer.create(await config({ steps: 80, logEvery: 10, wrongKeys: 2, output }));
  await trainer.run();
  const codec = await Codec.load(output);
  t.equal(codec.config.key_salt, trainer.keySalt, 'the trained model carries its key salt');
  t.same(Array.from(codec.conditionFor(key)), Array.from(trainer.fullCondition), 'the key derives the condition training used');
  const bytes = await codec.compress(join(sharedDir(), 'data', 'celeba-mini', 'images', '000002.jpg'));
  const full = await codec.decompress(bytes, { key });
  const prot = await codec.decompress(bytes);
  t.ok(psnr(full.data, prot.data) < 60, 'full and protected differ');
  let closer = 0;
  for (let i = 0; i < 20; i++) {
    const wrong = await codec.decompress(bytes, { key: createHash('sha256').update(`wrong key ${i}`).digest() });
    if (psnr(wrong.data, prot.data) > psnr(wrong.data, full.data)) closer++;
  }
  t.equal(closer, 20, `every wrong key (${closer}/20) decodes closer to the protected image than to the full one`);
  t.same(Array.from((await codec.decompress(bytes, { key })).data.subarray(0, 64)), Array.from(full.data.subarray(0, 64)), 'the key reproduces the full decode');
});

t.test('config errors are typed', needsHumanModels, async (t) => {
  await t.rejects(Trainer.create({ ...(await config()), stage: 3 as 1 }), { name: 'PsicConfigError', message: /'stage'/ });
  await t.rejects(Trainer.create({ ...(await config()), uaeo: 'x' as 'paper' }), { name: 'PsicConfigError', message: /'uaeo'/ });
  await t.rejects(Trainer.create({ ...(await config()), key: undefined }), { name: 'PsicKeyError' });
  if (!Codec.cudaAvailable()) await t.rejects(Trainer.create({ ...(await config()), device: 'cuda' }), { name: 'PsicDeviceError', message: /CUDA/ });
  await t.rejects(Trainer.create({ ...(await config()), device: 'gpu' as 'cuda' }), { name: 'PsicConfigError', message: /'device'/ });
  await t.rejects(Trainer.create({ ...(await config()), targets: [{ target: 'human:nope' }] }), { name: 'PsicInputError' });
  const plain = join(sharedDir(), 'fixtures', 'compressai-hyperprior', 'tiny-N16-M24.pth.tar');
  await t.rejects(Trainer.create({ ...(await config()), model: plain }), { name: 'PsicInputError', message: /single decode/ });
  await t.rejects(Trainer.create(join(dir, 'missing.json')), { name: 'PsicIoError' });
  // A missing keyFile is created (mode 0600) and reused.
  const keyFile = join(dir, 'new.key');
  const a = await Trainer.create({ ...(await config()), key: undefined, keyFile });
  t.ok(existsSync(keyFile));
  const b = await Trainer.create({ ...(await config()), key: undefined, keyFile });
  t.same(Array.from(a.fullCondition), Array.from(b.fullCondition));
});

t.test('psic train: JSON lines, Ctrl-C saves a checkpoint, --resume goes on', needsHumanModels, async (t) => {
  const cfg = { ...(await config({ steps: 10000, checkpoint: join(dir, 'cli.ckpt.safetensors') })) };
  const file = join(dir, 'train.json');
  writeFileSync(file, JSON.stringify(cfg));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'psic.js'), 'train', '--config', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let signalled = false;
  child.stdout.on('data', (d) => {
    out += d;
    if (!signalled && out.includes('"step":1,')) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  t.equal(code, 0, 'a clean exit');
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  t.ok(lines.length >= 3);
  t.match(lines[0], { step: 0, stage: 1, mode: 'full' });
  const done = lines.at(-1).done;
  t.equal(done.stopped, true);
  t.ok(existsSync(join(dir, 'cli.ckpt.safetensors')), 'checkpoint written');
  const { psic } = await import('./helpers/cli.js');
  const r = psic(['train', '--config', file, '--resume', join(dir, 'cli.ckpt.safetensors'), '--steps', String(done.steps + 1), '--json']);
  t.equal(r.status, 0, r.stderr);
  const resumed = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(resumed[0].step, done.steps, 'continues at the next step');
  t.equal(resumed.at(-1).done.stopped, false);
  t.ok(existsSync(cfg.output!), 'the trained model is written at the end');
  t.equal(psic(['train']).status, 2, 'missing --config is a usage error');
});

t.test('CLIP with captions: the attack uses image-caption pairs', needsHumanModels, async (t) => {
  const { readdirSync } = await import('node:fs');
  const names = readdirSync(faces()).sort().slice(0, 8);
  const csv = join(dir, 'captions.csv');
  writeFileSync(csv, 'file,caption\n' + names.map((n, i) => `${n},a photo of person number ${i}`).join('\n') + '\n');
  const clip = `clip:${join(sharedDir(), 'fixtures', 'clip-tiny', 'clip-tiny.safetensors')}`;
  const run = async (annotations?: string) => logsOf(await Trainer.create(await config({
    steps: 2, targets: [{ target: clip }], data: { dir: faces(), crop: 64, batchSize: 4, files: names, annotations } })));
  const withCaptions = await run(csv);
  const without = await run();
  t.equal(withCaptions[0].loss, without[0].loss, 'the full step does not involve the target');
  t.ok(Number.isFinite(withCaptions[1].attackLoss!) && Number.isFinite(without[1].attackLoss!));
  t.not(withCaptions[1].attackLoss, without[1].attackLoss, 'captions change the attack (texts = captions, not the other images)');
});

t.test('a conditioning-only training is its seed plus the exported conditioning', needsHumanModels, async (t) => {
  const seed = join(sharedDir(), 'fixtures', 'compressai-hyperprior', 'tiny-N16-M24.pth.tar');
  const start = join(dir, 'balle.safetensors');
  await (await Codec.init({ architecture: 'psic-balle', N: 16, M: 24, seed: 0, from: seed })).save(start);
  const output = join(dir, 'balle-trained.safetensors');
  const trainer = await Trainer.create({ ...(await config({ stage: 2, steps: 2, output })), model: start, conditioningOnly: true });
  t.ok(trainer.trainableNames.every((n) => /^(global_cond|g_s_shift)\./.test(n)), 'only the conditioning trains');
  await trainer.run();
  const trained = await Codec.load(output);
  const cond = join(dir, 'balle.conditioning.safetensors');
  await trained.exportConditioning(cond);
  const rebuilt = await Codec.init({ architecture: 'psic-balle', N: 16, M: 24, seed: 5, from: seed, conditioning: cond });
  t.equal(rebuilt.modelId, trained.modelId, 'same weights, config and key salt');
  t.equal(rebuilt.config.key_salt, trainer.keySalt);
  await t.rejects(Codec.init({ architecture: 'psic-balle', N: 16, M: 24, from: seed, conditioning: output }), { name: 'PsicFormatError', message: /conditioning file/ });
  await t.rejects(Codec.init({ architecture: 'psic-hyperprior', N: 16, M: 24, conditioning: cond }), { name: 'PsicWeightsError', message: /conditioning/ });
  await t.rejects(Codec.init({ architecture: 'psic-balle', N: 32, M: 24, conditioning: cond }), { name: 'PsicWeightsError' });
  await t.rejects((await Codec.load(seed)).exportConditioning(join(dir, 'x.safetensors')), { name: 'PsicWeightsError' });
});
