// psic eval target: the metric definitions on hand-made predictions, then whole runs on real
// faces and scenes where the answer is known (identical sets, blanked sets, shuffled sets).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';

import {
  boxesFound, classLabel, compareCorrectness, identify, iou, readLabels,
} from '../src/evaluate/target.js';
import { TargetModel, evaluateTarget } from '../src/index.js';
import type { Detection, TargetHead } from '../src/targets/target-model.js';
import { psic } from './helpers/cli.js';
import { needsHumanModels } from './helpers/human.js';
import { sharedDir } from './helpers/shared.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'psic-eval-'));

t.test('agreement, accuracy and ASR (paper: correct on A, wrong on B)', async (t) => {
  // 4 samples: same/same, A right B wrong, both wrong, A wrong B right.
  const r = compareCorrectness([true, false, true, false], [true, true, false, false], [true, false, false, true]);
  t.same(r, { samples: 4, agreement: 0.5, accuracyA: 0.5, accuracyB: 0.5, asr: 0.25 });
});

t.test('identification against a gallery', async (t) => {
  const v = (...x: number[]) => Float32Array.from(x);
  const gallery = [v(1, 0), v(0.9, 0.1), v(0, 1), v(0.1, 0.9)];
  // With identities: nearest other image; id 'c' has one image only and is left out.
  const ids = ['a', 'a', 'b', 'b'];
  const same = identify(gallery, gallery, ids);
  t.same(same.predicted, ['a', 'a', 'b', 'b']);
  const moved = identify(gallery, [v(0, 1), v(0.9, 0.1), v(0, 1), v(1, 0)], ids);
  t.same(moved.predicted, ['b', 'a', 'b', 'a'], 'probe 0 and 3 land on the other person');
  t.same(identify(gallery, gallery, ['a', 'a', 'b', 'c']).used, [0, 1], 'singletons are not probes');
  // Without identities: the right answer is the probe's own gallery entry.
  const own = identify(gallery, [v(1, 0.01), v(0, 1)]);
  t.same(own, { predicted: ['0', '2'], truth: ['0', '1'], used: [0, 1] });
});

t.test('detection matching: class, IoU >= 0.5, score >= 0.2, one detection per box', async (t) => {
  t.equal(iou([0, 0, 1, 1], [0.5, 0, 1.5, 1]), 1 / 3);
  const det = (box: [number, number, number, number], label: string, score = 0.9): Detection => ({ box, label, score, classIndex: 0 });
  const truth = [{ box: [0, 0, 0.5, 0.5] as [number, number, number, number], label: 'cat' }, { box: [0, 0, 0.5, 0.5] as [number, number, number, number], label: 'cat' },
    { box: [0.5, 0.5, 1, 1] as [number, number, number, number], label: 'dog' }];
  t.same(boxesFound(truth, [det([0, 0, 0.5, 0.45], 'cat')]), [true, false, false], 'one detection finds one box');
  t.same(boxesFound(truth, [det([0.5, 0.5, 1, 1], 'cat')]), [false, false, false], 'wrong class');
  t.same(boxesFound(truth, [det([0.5, 0.5, 1, 1], 'dog', 0.1)]), [false, false, false], 'under the score floor');
  t.same(boxesFound(truth, [det([0.5, 0.5, 0.9, 0.9], 'dog')]), [false, false, true], 'IoU 0.64');
});

t.test('labels: celeba CSV and coco JSON', async (t) => {
  const csv = readLabels(join(sharedDir(), 'data', 'celeba-mini', 'labels.csv'));
  t.equal(csv.size, 300);
  const row = csv.get('005373')!;
  t.equal(row.columns.identity, '82');
  const gender: TargetHead = { name: 'gender', kind: 'classifier', labels: ['male', 'female'] };
  t.equal(classLabel(gender, row), 1, 'Male = 0 -> female');
  t.equal(classLabel({ ...gender, labels: ['female', 'male'] }, row), 0, 'by name, whatever the order');
  t.equal(classLabel({ name: 'emotion', kind: 'classifier', labels: ['happy'] }, row), undefined);
  t.equal(classLabel({ name: 'emotion', kind: 'classifier', labels: ['sad', 'happy'] }, { columns: { emotion: 'happy' } }), 1);
  const coco = readLabels(join(sharedDir(), 'data', 'coco-mini', 'annotations.json'));
  t.equal(coco.size, 113);
  const boxes = coco.get('000000000139')!.boxes!;
  t.ok(boxes.length > 0 && boxes.every((b) => b.box.every((x) => x >= 0 && x <= 1)), 'normalized boxes');
  t.ok(boxes.some((b) => b.label === 'tv'));
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.json'), '{"images": 3}');
  t.throws(() => readLabels(join(dir, 'bad.json')), { name: 'PsicInputError' });
  writeFileSync(join(dir, 'bad.csv'), 'name,x\na,1\n');
  t.throws(() => readLabels(join(dir, 'bad.csv')), { name: 'PsicInputError', message: /file/ });
  t.throws(() => readLabels(join(dir, 'missing.csv')), { name: 'PsicIoError', message: /cannot read labels '.*missing\.csv': no such file/ });
  t.throws(() => readLabels('/dev/zero'), { name: 'PsicIoError', message: /not a regular file/ }, 'a device is refused, not read forever');
});

t.test('whole runs with known answers', needsHumanModels, async (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const faces = join(sharedDir(), 'data', 'celeba-mini', 'images');
  const names = readdirSync(faces).sort().slice(0, 8);
  for (const sub of ['a', 'same', 'blank', 'shifted']) mkdirSync(join(dir, sub));
  for (const [i, f] of names.entries()) {
    copyFileSync(join(faces, f), join(dir, 'a', f));
    // PNG copies: other extension, same stem, same pixels.
    await sharp(join(faces, f)).png().toFile(join(dir, 'same', f.replace('.jpg', '.png')));
    await sharp({ create: { width: 178, height: 218, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(join(dir, 'blank', f.replace('.jpg', '.png')));
    copyFileSync(join(faces, names[(i + 1) % names.length]), join(dir, 'shifted', f));
  }
  const same = await evaluateTarget({ target: 'human:emotion', a: join(dir, 'a'), b: join(dir, 'same') });
  t.equal(same.n, 8);
  t.equal(same.agreement, 1, 'identical pixels agree');
  t.equal(same.asr, 0);

  // Shifted: B_i is A_{i+1}. With A as the reference, ASR = 1 - agreement, and agreement is
  // the share of neighbours the model labels alike.
  const emotion = await TargetModel.load('human:emotion');
  const tops: number[] = [];
  for (const f of names) tops.push((await emotion.predict(join(dir, 'a', f))).heads[0].top!.index);
  const alike = tops.filter((v, i) => v === tops[(i + 1) % tops.length]).length / tops.length;
  const shifted = await evaluateTarget({ target: 'human:emotion', a: join(dir, 'a'), b: join(dir, 'shifted') });
  t.equal(shifted.agreement, alike);
  t.equal(shifted.asr, 1 - alike);
  t.equal(shifted.heads[0].reference, 'a');

  // Labels: gear's gender head is scored against CelebA's Male attribute.
  const gear = await evaluateTarget({ target: 'human:gear', a: join(dir, 'a'), b: join(dir, 'same'), labels: join(sharedDir(), 'data', 'celeba-mini', 'labels.csv') });
  t.same(gear.heads.map((h) => [h.head, h.reference]), [['race', 'a'], ['gender', 'labels'], ['age', 'a']]);
  t.equal(gear.agreement, 1);

  // Embeddings: shifted images are other people; without labels every probe misses its own face.
  const mf = await evaluateTarget({ target: 'human:mobileface', a: join(dir, 'a'), b: join(dir, 'shifted') });
  t.equal(mf.heads[0].accuracyA, 1, 'A against itself');
  // (mobileface's raw embeddings share a large constant part: cosines of different faces are ~0.9998)
  t.ok((mf.heads[0].meanCosineAB as number) < 0.9999, `other faces are less similar (${mf.heads[0].meanCosineAB})`);
  t.ok(mf.heads[0].accuracyB < 0.5, `B finds few of its own (${mf.heads[0].accuracyB})`);

  // The detector against COCO's boxes: a blank image finds nothing, so ASR = recall on A.
  const scenes = join(sharedDir(), 'data', 'coco-mini', 'images');
  for (const sub of ['sa', 'sb']) mkdirSync(join(dir, sub));
  for (const f of readdirSync(scenes).sort().slice(0, 3)) {
    copyFileSync(join(scenes, f), join(dir, 'sa', f));
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toFile(join(dir, 'sb', f.replace('.jpg', '.png')));
  }
  const det = await evaluateTarget({ target: 'human:centernet', a: join(dir, 'sa'), b: join(dir, 'sb'), labels: join(sharedDir(), 'data', 'coco-mini', 'annotations.json') });
  const h = det.heads[0];
  t.equal(h.reference, 'labels');
  t.ok(h.recallA as number > 0.2, `recall on real scenes (${h.recallA})`);
  t.equal(h.recallB, 0);
  t.equal(h.asr, h.recallA);

  // The CLI: JSON with n, agreement, asr; clear errors.
  const r = psic(['eval', 'target', '--target', 'human:emotion', '--a', join(dir, 'a'), '--b', join(dir, 'shifted'), '--json']);
  t.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.same([j.n, j.agreement, j.asr], [8, alike, 1 - alike]);
  t.equal(psic(['eval', 'target', '--target', 'human:emotion', '--a', join(dir, 'a')]).status, 2, 'missing --b is a usage error');
  const missing = psic(['eval', 'target', '--target', 'human:emotion', '--a', join(dir, 'a'), '--b', join(dir, 'nope')]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /PsicInputError: cannot read folder/);
  const none = psic(['eval', 'target', '--target', 'human:emotion', '--a', join(dir, 'a'), '--b', join(dir, 'sb')]);
  t.match(none.stderr, /no image file names in common/);
  t.match(psic(['eval', 'target', '--target', 'bogus', '--a', join(dir, 'a'), '--b', join(dir, 'same')]).stderr, /unknown target 'bogus'/);
});
