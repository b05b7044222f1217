// The TF.js graph importer against the real TF.js runtime (@tensorflow/tfjs, pure-JS CPU backend):
// every output of each human model agrees within 1e-3 on real faces and scenes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import { native } from '../src/native.js';
import { loadTfjsReference } from '../src/targets/tfjs-reference.js';
import { faceImage, humanModelsDir, needsHumanModels, sceneImage } from './helpers/human.js';

async function imageTensor(path: string, h: number, w: number, c: number): Promise<Float32Array> {
  let img = sharp(path).resize(w, h, { fit: 'fill' }).removeAlpha();
  if (c === 1) img = img.greyscale();
  const raw = await img.raw().toBuffer();
  const out = new Float32Array(h * w * c);
  for (let i = 0; i < out.length; i++) out[i] = raw[i] / 255;
  return out;
}

t.test('imported graphs match the TF.js runtime within 1e-3', needsHumanModels, async (t) => {
  for (const name of ['gear', 'emotion', 'gender', 'age', 'mobileface', 'centernet']) {
    const file = join(humanModelsDir(), `${name}.json`);
    const reference = await loadTfjsReference(file);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const ph = json.modelTopology.node.find((n: { op: string }) => n.op === 'Placeholder');
    const dims = ph.attr.shape.shape.dim.map((d: { size: string }) => Number(d.size));
    const [h, w, c] = [dims[1], dims[2], dims[3]];
    const data = await imageTensor(name === 'centernet' ? sceneImage() : faceImage(), h, w, c);
    const ours = await native().loadTfjsGraph(file);
    const outputs = ours.info().outputs;
    const got = await ours.run(data, [1, h, w, c]);
    const expected = await reference.run(data, [1, h, w, c], outputs);
    for (const [i, out] of outputs.entries()) {
      const mine = got[out];
      t.same(mine.shape, expected[i].shape, `${name}/${out}: shape`);
      // 1e-3 absolute, relative for outputs above 1 (CenterNet's box sizes are tens of pixels,
      // where float32 convolutions summed in another order differ by ~1e-3 on some CPUs).
      let maxErr = 0;
      for (let k = 0; k < expected[i].data.length; k++) {
        maxErr = Math.max(maxErr, Math.abs(expected[i].data[k] - mine.data[k]) / Math.max(1, Math.abs(expected[i].data[k])));
      }
      t.ok(maxErr <= 1e-3, `${name}/${out}: max error ${maxErr} <= 1e-3 (absolute, relative above 1)`);
    }
  }
});

t.test('psic target run and clear errors', needsHumanModels, async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { psic } = await import('./helpers/cli.js');
  const { TfjsTarget } = await import('../src/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'psic-tfjs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const input = new Float32Array(64 * 64).map((_, i) => (i % 97) / 97);
  writeFileSync(join(dir, 'x.bin'), Buffer.from(input.buffer));
  const r = psic(['target', 'run', '--target', 'human:emotion', '--input-tensor', join(dir, 'x.bin'), '--shape', '1,64,64,1', '--json']);
  t.equal(r.status, 0, { stderr: r.stderr });
  const cli = JSON.parse(r.stdout).outputs.Identity[0] as number[];
  const direct = await (await TfjsTarget.load('human:emotion')).run(input, [1, 64, 64, 1]);
  // The child process may run another thread count: the same values to float rounding.
  t.equal(cli.length, direct.Identity.data.length, 'the CLI prints every output as nested arrays');
  t.ok(cli.every((v, k) => Math.abs(v - direct.Identity.data[k]) <= 1e-6), 'with the values of a direct run');
  t.equal(psic(['target', 'run', '--target', 'human:emotion', '--input-tensor', join(dir, 'x.bin'), '--shape', '1,64,64,3', '--json']).status, 1, 'a wrong shape is an error');
  // A graph with an op the importer lacks: a clear error naming it.
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [
    { name: 'x', op: 'Placeholder', attr: {} }, { name: 'y', op: 'FancyOp', input: ['x'], attr: {} }] }, weightsManifest: [] }));
  await t.rejects(TfjsTarget.load(join(dir, 'model.json')), { name: 'PsicWeightsError', message: /unsupported TF\.js op 'FancyOp'/ });
});

t.test('a batch-1 graph (centernet) runs a batch image by image', needsHumanModels, async (t) => {
  const { TfjsTarget } = await import('../src/index.js');
  const g = await TfjsTarget.load('human:centernet');
  t.same(g.inputShape, [1, 512, 512, 3]);
  const one = 512 * 512 * 3;
  const x = new Float32Array(2 * one).map((_, i) => ((i * 7919) % 256));
  const both = await g.run(x, [2, 512, 512, 3]);
  const second = await g.run(x.subarray(one), [1, 512, 512, 3]);
  const k = both['tower_0/keypoints'];
  t.equal(k.shape[0], 2);
  const n = k.data.length / 2;
  let maxErr = 0;
  for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(k.data[n + i] - second['tower_0/keypoints'].data[i]));
  t.ok(maxErr < 1e-5, `image 2 of the batch equals a run on its own (${maxErr})`);
});
