// TargetModel: each human model's documented preprocessing + graph, against the same pipeline
// written with the TF.js runtime's own ops (tf.image.cropAndResize / resizeBilinear, Human's
// grayscale), on real faces and a real scene; CLIP behind the same interface.
import { join } from 'node:path';
import t from 'tap';

import { Clip, TargetModel, imageBatch, readImage } from '../src/index.js';
import { loadTfjs, loadTfjsReference } from '../src/targets/tfjs-reference.js';
import { faceImage, humanModelsDir, needsHumanModels, sceneImage } from './helpers/human.js';
import { needsBoth, sharedDir } from './helpers/shared.js';

type Tensor = import('@tensorflow/tfjs').Tensor;

t.test('human targets = Human\'s preprocessing + graph in tfjs, within 1e-3', needsHumanModels, async (t) => {
  const tf = await loadTfjs();
  const gray = (x: Tensor) => {
    const [r, g, b] = tf.split(x, 3, 3);
    return tf.mul(tf.sub(tf.addN([tf.mul(r, 0.2989), tf.mul(g, 0.587), tf.mul(b, 0.114)]), 0.5), 2);
  };
  const cases: { name: string; pre: (x: Tensor) => Tensor; outputs: string[]; image: string }[] = [
    { name: 'gear', pre: (x) => tf.image.cropAndResize(x as import('@tensorflow/tfjs').Tensor4D, [[0, 0.1, 0.9, 0.9]], [0], [198, 198]), outputs: ['Identity_2', 'Identity_1', 'Identity'], image: faceImage() },
    { name: 'gender', pre: (x) => gray(tf.image.resizeBilinear(x as import('@tensorflow/tfjs').Tensor4D, [64, 64])), outputs: ['Identity'], image: faceImage() },
    { name: 'emotion', pre: (x) => gray(tf.image.resizeBilinear(x as import('@tensorflow/tfjs').Tensor4D, [64, 64])), outputs: ['Identity'], image: faceImage() },
    { name: 'age', pre: (x) => tf.mul(tf.image.resizeBilinear(x as import('@tensorflow/tfjs').Tensor4D, [64, 64]), 255), outputs: ['Identity'], image: faceImage() },
    { name: 'mobileface', pre: (x) => tf.image.resizeBilinear(x as import('@tensorflow/tfjs').Tensor4D, [112, 112]), outputs: ['batchnorm0/add_1'], image: faceImage() },
    { name: 'centernet', pre: (x) => tf.mul(tf.image.resizeBilinear(x as import('@tensorflow/tfjs').Tensor4D, [512, 512]), 255), outputs: ['tower_0/keypoints', 'tower_0/detections'], image: sceneImage() },
  ];
  for (const c of cases) {
    const target = await TargetModel.load(`human:${c.name}`);
    t.ok(target.preprocessing.length > 20, `${c.name}: preprocessing is documented: ${target.preprocessing}`);
    const rgb = await readImage(c.image);
    const ours = await target.forward(imageBatch(rgb));
    const hwc = new Float32Array(rgb.data.length);
    for (let i = 0; i < hwc.length; i++) hwc[i] = rgb.data[i] / 255;
    const x = tf.tensor4d(hwc, [1, rgb.height, rgb.width, 3]);
    const input = c.pre(x);
    const reference = await loadTfjsReference(join(humanModelsDir(), `${c.name}.json`));
    const outs = await reference.run(Float32Array.from(await input.data()), input.shape, c.outputs);
    const maxErr = (a: Float32Array, b: Float32Array) => {
      t.equal(a.length, b.length, 'sizes');
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
      return m;
    };
    if (c.name === 'centernet') {
      // The detector head: each class's best heatmap score; detections with boxes in [0, 1].
      const best = tf.max(tf.tensor(outs[0].data, outs[0].shape), [1, 2]);
      const e1 = maxErr(ours.heads[0].data, Float32Array.from(await best.data()));
      t.ok(e1 <= 1e-3, `centernet class scores: ${e1}`);
      const d = Float32Array.from(outs[1].data, (v, i) => (i % 6 < 4 ? v / 512 : v));
      const e2 = maxErr(ours.detections!.data, d);
      t.ok(e2 <= 1e-3, `centernet detections: ${e2}`);
    } else {
      c.outputs.forEach((_, i) => {
        const e = maxErr(ours.heads[i].data, outs[i].data);
        t.ok(e <= 1e-3, `${c.name}/${target.heads[i].name}: max abs error ${e} <= 1e-3`);
      });
    }
    tf.dispose([x, input]);
  }
});

t.test('heads, labels and predictions', needsHumanModels, async (t) => {
  const gear = await TargetModel.load('human:gear');
  t.same(gear.heads.map((h) => [h.name, h.kind, h.labels.length]), [['race', 'classifier', 5], ['gender', 'classifier', 2], ['age', 'classifier', 7]]);
  const p = await gear.predict(faceImage());
  for (const h of p.heads) {
    const sum = h.values.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(sum - 1) < 1e-4, `${h.name}: probabilities sum to 1 (${sum})`);
    t.equal(h.top!.label, gear.heads.find((x) => x.name === h.name)!.labels[h.top!.index]);
  }
  const mf = await TargetModel.load('human:mobileface');
  t.same(mf.heads.map((h) => h.kind), ['embedding']);
  t.equal((await mf.predict(faceImage())).heads[0].values.length, 256);
  const age = await TargetModel.load('human:age');
  const years = (await age.predict(faceImage())).heads[0].values[0];
  t.ok(years > 1 && years < 100, `age regression in years (${years})`);
  const det = await TargetModel.load('human:centernet');
  const d = await det.predict(sceneImage());
  t.equal(det.heads[0].labels.length, 80);
  t.ok(d.detections!.length > 0 && d.detections!.every((x) => x.label === det.heads[0].labels[x.classIndex]), 'detections carry COCO labels');
  t.ok(d.detections![0].score >= d.detections![d.detections!.length - 1].score, 'best first');
  // A batch of two = two singles (classifier) and the detector's per-image split.
  const a = imageBatch(await readImage(faceImage()));
  const two = { data: new Float32Array(2 * a.data.length), shape: [2, 3, a.shape[2], a.shape[3]] as [number, number, number, number] };
  two.data.set(a.data);
  two.data.set(a.data.map((v) => 1 - v), a.data.length);
  const single = await gear.forward({ data: a.data.map((v) => 1 - v), shape: a.shape });
  const batched = await gear.forward(two);
  t.same(Array.from(batched.heads[0].data.subarray(5)).map((v) => v.toFixed(5)), Array.from(single.heads[0].data).map((v) => v.toFixed(5)), 'batch row 2 = the single image');
  await t.rejects(gear.forward({ data: new Float32Array(12), shape: [1, 4, 1, 3] }), { name: 'PsicInputError' });
  await t.rejects(TargetModel.load('human:nope'), { name: 'PsicInputError' });
  await t.rejects(TargetModel.load('resnet'), { name: 'PsicInputError', message: /human:NAME/ });
});

t.test('CLIP behind the same interface', needsBoth, async (t) => {
  const file = join(sharedDir(), 'fixtures', 'clip-tiny', 'clip-tiny.safetensors');
  const clip = await Clip.load(file);
  const R = clip.info.imageResolution;
  const target = await TargetModel.load(`clip:${file}`, { classes: ['cat', 'dog', 'car'] });
  t.same(target.heads.map((h) => [h.name, h.kind]), [['embedding', 'embedding'], ['zero-shot', 'classifier']]);
  t.same(target.heads[1].labels, ['cat', 'dog', 'car']);
  // At the model's resolution the training-path preprocessing is the identity resize, so the
  // embedding must equal encode_image of OpenAI's preprocessing.
  const sharp = (await import('sharp')).default;
  const png = await sharp(faceImage()).resize(R, R, { fit: 'fill' }).png().toBuffer();
  const p = await target.predict(png);
  const ref = await clip.encodeImage([png]);
  let e = 0;
  for (let i = 0; i < ref.data.length; i++) e = Math.max(e, Math.abs(ref.data[i] - p.heads[0].values[i]));
  t.ok(e < 1e-4, `embedding = encodeImage (${e})`);
  const [zs] = await clip.zeroShot([png], ['cat', 'dog', 'car']);
  const probs = Array.from(p.heads[1].values);
  t.ok(probs.every((v, i) => Math.abs(v - zs.probs[i]) < 1e-4), `zero-shot probabilities = Clip.zeroShot (${probs} vs ${zs.probs})`);
});

t.test('predictMany batches runs of equal-size images and equals predict one by one', needsHumanModels, async (t) => {
  const face = await readImage(faceImage());
  const scene = await readImage(sceneImage());
  const flipped = { ...face, data: Uint8Array.from(face.data).reverse() };
  const images = [face, flipped, face, scene, flipped].map((im) => ({ ...im, channels: 3 as const }));
  for (const name of ['gender', 'centernet']) {
    const target = await TargetModel.load(`human:${name}`);
    let ticks = 0;
    const many = await target.predictMany(images, { batchSize: 2, onImage: () => ticks++ });
    t.equal(ticks, images.length, `${name}: one progress tick per image`);
    t.equal(many.length, images.length);
    for (const [i, im] of images.entries()) {
      const one = await target.predict(im);
      for (const [h, head] of one.heads.entries()) {
        const err = Math.max(...head.values.map((v, j) => Math.abs(v - many[i].heads[h].values[j])));
        t.ok(err < 1e-4, `${name} image ${i} head ${head.name}: max error ${err}`);
        t.equal(many[i].heads[h].top?.index, head.top?.index);
      }
      if (one.detections) t.same(many[i].detections!.slice(0, 3).map((d) => d.classIndex), one.detections.slice(0, 3).map((d) => d.classIndex));
    }
  }
});
