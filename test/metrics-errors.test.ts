import t from 'tap';

import {
  PsicError,
  PsicFormatError,
  PsicInputError,
  PsicKeyError,
  PsicLimitError,
  PsicModelMismatchError,
  PsicWeightsError,
  bpp,
  psnr,
} from '../src/index.js';
import { fromNative } from '../src/errors.js';

t.test('psnr and bpp', async (t) => {
  // MSE of (2² + 0 + 2² + 0) / 4 = 2 → 10·log10(255² / 2).
  t.equal(psnr(new Uint8Array([10, 20, 30, 40]), new Uint8Array([12, 20, 28, 40])), 10 * Math.log10((255 * 255) / 2));
  t.equal(psnr(new Uint8Array([1, 2]), new Uint8Array([1, 2])), Infinity);
  t.equal(psnr(new Float32Array([0.5, 0.5]), new Float32Array([0.5, 0.25])), 10 * Math.log10(1 / (0.0625 / 2)));
  t.throws(() => psnr(new Uint8Array(2), new Uint8Array(3)), RangeError);
  t.equal(bpp(100, 20, 40), 1);
});

t.test('native errors map to typed classes', async (t) => {
  const cases = [
    ['PsicFormatError', PsicFormatError],
    ['PsicModelMismatchError', PsicModelMismatchError],
    ['PsicLimitError', PsicLimitError],
    ['PsicInputError', PsicInputError],
    ['PsicWeightsError', PsicWeightsError],
    ['PsicKeyError', PsicKeyError],
  ] as const;
  for (const [code, Cls] of cases) {
    const native = Object.assign(new Error(`boom ${code}`), { code });
    const mapped = fromNative(native);
    t.ok(mapped instanceof Cls, code);
    t.ok(mapped instanceof PsicError, `${code} is a PsicError`);
    t.equal(mapped.message, `boom ${code}`);
    t.equal((mapped as PsicError).code, code);
  }
  const plain = new TypeError('not ours');
  t.equal(fromNative(plain), plain, 'other errors pass through');
});
