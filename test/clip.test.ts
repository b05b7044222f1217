// CLIP through the SDK and the CLI against OpenAI's reference outputs (../shared/fixtures/clip-tiny).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

import { Clip, PsicInputError, PsicWeightsError } from '../src/index.js';
import { psic } from './helpers/cli.js';
import { needsBoth, sharedDir } from './helpers/shared.js';

const dir = () => join(sharedDir(), 'fixtures', 'clip-tiny');
const f32 = (file: string) => {
  const b = readFileSync(join(dir(), file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

t.test('psic clip embed reproduces the reference for every weight format', needsBoth, async (t) => {
  const texts = JSON.parse(readFileSync(join(dir(), 'texts.json'), 'utf8')) as string[];
  const refImg = f32('image_features.bin');
  const refTxt = f32('text_features.bin');
  const refLpi = f32('logits_per_image.bin');
  const refLpt = f32('logits_per_text.bin');
  for (const file of ['clip-tiny.jit.pt', 'clip-tiny.state_dict.pt', 'clip-tiny.fp16.state_dict.pt', 'clip-tiny.safetensors', 'clip-tiny.hf.safetensors']) {
    const r = psic(['clip', 'embed', '--model', join(dir(), file), '--image-tensor', join(dir(), 'images.bin'), '--shape', '3,3,64,64', ...texts.flatMap((x) => ['--text', x]), '--json']);
    t.equal(r.status, 0, `${file}: exits 0`, { stderr: r.stderr });
    const out = JSON.parse(r.stdout);
    t.ok(maxDiff(out.image_features.flat(), refImg) <= 1e-4, `${file}: image features within 1e-4`);
    t.ok(maxDiff(out.text_features.flat(), refTxt) <= 1e-4, `${file}: text features within 1e-4`);
    t.ok(maxDiff(out.logits_per_image.flat(), refLpi) <= 1e-4, `${file}: logits_per_image within 1e-4`);
    t.ok(maxDiff(out.logits_per_text.flat(), refLpt) <= 1e-4, `${file}: logits_per_text within 1e-4`);
  }
});

t.test('psic clip tokenize matches clip.tokenize', needsBoth, async (t) => {
  const texts = JSON.parse(readFileSync(join(dir(), 'texts.json'), 'utf8')) as string[];
  const r = psic(['clip', 'tokenize', ...texts, '--json']);
  t.equal(r.status, 0, { stderr: r.stderr });
  const b = readFileSync(join(dir(), 'tokens.bin'));
  const expected = Array.from({ length: 4 }, (_, i) => Array.from({ length: 77 }, (_, j) => Number(b.readBigInt64LE((i * 77 + j) * 8))));
  t.same(JSON.parse(r.stdout).ids, expected);
});

t.test('SDK: preprocessing of image files, similarity, zero-shot, errors', needsBoth, async (t) => {
  const clip = await Clip.load(join(dir(), 'clip-tiny.safetensors'));
  t.match(clip.info, { embedDim: 64, imageResolution: 64, contextLength: 77 });
  // OpenAI's _transform(224) on the Kodak PNGs (PIL bicubic, antialiased): the fixture's tensors.
  for (const name of ['kodim05', 'kodim23']) {
    const ref = f32(join('preprocess', `${name}.clip224.bin`));
    const { tensorFromFile } = await import('./helpers/clip-preprocess.js');
    const ours = await tensorFromFile(join(sharedDir(), 'data', 'kodak', `${name}.png`), 224);
    const err = maxDiff(ours, ref);
    t.ok(err <= 1e-5, `${name}: preprocessing within 1e-5 (max ${err})`);
  }
  const images = { data: f32('images.bin'), shape: [3, 3, 64, 64] as [number, number, number, number] };
  const texts = JSON.parse(readFileSync(join(dir(), 'texts.json'), 'utf8')) as string[];
  const logits = clip.similarity(await clip.encodeImage(images), await clip.encodeText(texts));
  t.ok(maxDiff(logits.flatMap((r) => Array.from(r)), f32('logits_per_image.bin')) <= 1e-4, 'similarity = logits_per_image');
  const zs = await clip.zeroShot(images, ['cat', 'dog'], ['a photo of a {}.', 'a {}.']);
  t.equal(zs.length, 3);
  t.ok(zs.every((z) => Math.abs(z.probs.reduce((a, b) => a + b, 0) - 1) < 1e-6 && ['cat', 'dog'].includes(z.label)));
  await t.rejects(Clip.load('/nonexistent.pt'), PsicWeightsError);
  await t.rejects(Clip.load(join(dir(), 'clip-tiny.safetensors'), { vocab: '/nonexistent.gz' }), PsicWeightsError);
  await t.rejects(clip.encodeImage({ data: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }), PsicInputError);
  await t.rejects(clip.zeroShot(images, ['cat'], ['no placeholder']), PsicInputError);
});
