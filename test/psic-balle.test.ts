// psic-balle: PSIC on the backbone's own decoder. Seeded from a trained CompressAI checkpoint,
// an untrained model decodes every condition exactly as the checkpoint does, through the SDK.
import t from 'tap';

import { Codec } from '../src/index.js';
import { needsBoth, tinyModel } from './helpers/shared.js';

t.test('seeded psic-balle = the backbone until trained', needsBoth, async (t) => {
  const backbone = await Codec.load(tinyModel());
  const balle = await Codec.init({ architecture: 'psic-balle', N: 16, M: 24, seed: 1, from: tinyModel() });
  t.equal(balle.architecture, 'psic-balle');
  t.equal(balle.parameterCounts.g_s, backbone.parameterCounts.g_s, "CompressAI's g_s is the backbone decoder");
  t.equal(balle.parameterCounts.g_s_shift, 3 * 16 * 512);
  const image = { data: new Uint8Array(64 * 80 * 3).map((_, i) => (i * 37) % 251), width: 80, height: 64, channels: 3 as const };
  const a = await backbone.compress(image);
  const b = await balle.compress(image);
  t.same(Buffer.from(b.subarray(76)), Buffer.from(a.subarray(76)), 'the same payload (header ids differ)');
  const plain = await backbone.decompress(a);
  t.same(Buffer.from((await balle.decompress(b)).data), Buffer.from(plain.data), 'protected = the backbone decode');
  t.same(Buffer.from((await balle.decompress(b, { key: 'ab'.repeat(32) })).data), Buffer.from(plain.data), 'full = the backbone decode');
});
