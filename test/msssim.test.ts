// SSIM / MS-SSIM against a second, deliberately naive computation written here from the
// definition (2-D Gaussian window summed pixel by pixel, explicit zero-padded 2×2 pooling), plus
// closed forms and identities.
import t from 'tap';

import { MS_SSIM_MIN_SIDE, MS_SSIM_WEIGHTS, msSsim, msSsimDb, ssim, type SsimImage } from '../src/evaluate/msssim.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A smooth random image (so SSIM is far from 0) and a noisy copy of it. */
function pair(width: number, height: number, noise: number, seed = 1): [SsimImage, SsimImage] {
  const r = rng(seed);
  const a = new Uint8Array(width * height * 3), b = new Uint8Array(width * height * 3);
  const phase = [r() * 6, r() * 6, r() * 6];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c;
        const v = 128 + 60 * Math.sin(x / 7 + phase[c]) * Math.cos(y / 5 - phase[c]) + 40 * (r() - 0.5);
        a[i] = Math.max(0, Math.min(255, Math.round(v)));
        b[i] = Math.max(0, Math.min(255, Math.round(v + noise * (r() - 0.5))));
      }
    }
  }
  return [{ data: a, width, height }, { data: b, width, height }];
}

// ---- the naive reference --------------------------------------------------------------------
type Grid = number[][];
const channel = (im: SsimImage, c: number): Grid =>
  Array.from({ length: im.height }, (_, y) => Array.from({ length: im.width }, (_, x) => im.data[(y * im.width + x) * 3 + c] / 255));

function window2d(): Grid {
  const w = Array.from({ length: 11 }, (_, i) => Array.from({ length: 11 }, (_, j) => Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / (2 * 1.5 ** 2))));
  const sum = w.flat().reduce((s, v) => s + v, 0);
  return w.map((row) => row.map((v) => v / sum));
}

function naiveTerms(x: Grid, y: Grid): { ssim: number; cs: number } {
  const w = window2d(), C1 = 0.01 ** 2, C2 = 0.03 ** 2;
  let ssimSum = 0, csSum = 0, n = 0;
  for (let i = 0; i + 11 <= x.length; i++) {
    for (let j = 0; j + 11 <= x[0].length; j++) {
      let mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
      for (let u = 0; u < 11; u++) {
        for (let v = 0; v < 11; v++) {
          const a = x[i + u][j + v], b = y[i + u][j + v], k = w[u][v];
          mx += k * a; my += k * b; sxx += k * a * a; syy += k * b * b; sxy += k * a * b;
        }
      }
      const cs = (2 * (sxy - mx * my) + C2) / (sxx - mx * mx + syy - my * my + C2);
      ssimSum += ((2 * mx * my + C1) / (mx * mx + my * my + C1)) * cs;
      csSum += cs;
      n++;
    }
  }
  return { ssim: ssimSum / n, cs: csSum / n };
}

/** Pad odd sides with one zero on each side, then average 2×2 blocks (torch's avg_pool2d). */
function naivePool(x: Grid): Grid {
  const ph = x.length % 2, pw = x[0].length % 2;
  const padded = [
    ...Array(ph).fill(Array(x[0].length + 2 * pw).fill(0)),
    ...x.map((row) => [...Array(pw).fill(0), ...row, ...Array(pw).fill(0)]),
    ...Array(ph).fill(Array(x[0].length + 2 * pw).fill(0)),
  ];
  const out: Grid = [];
  for (let i = 0; i + 1 < padded.length; i += 2) {
    const row: number[] = [];
    for (let j = 0; j + 1 < padded[0].length; j += 2) row.push((padded[i][j] + padded[i][j + 1] + padded[i + 1][j] + padded[i + 1][j + 1]) / 4);
    out.push(row);
  }
  return out;
}

function naiveMsSsim(a: SsimImage, b: SsimImage): number {
  let total = 0;
  for (let c = 0; c < 3; c++) {
    let x = channel(a, c), y = channel(b, c);
    const values: number[] = [];
    for (let level = 0; level < 5; level++) {
      const r = naiveTerms(x, y);
      values.push(Math.max(level === 4 ? r.ssim : r.cs, 0));
      x = naivePool(x);
      y = naivePool(y);
    }
    total += values.reduce((p, v, i) => p * v ** MS_SSIM_WEIGHTS[i], 1);
  }
  return total / 3;
}

// ---- tests -----------------------------------------------------------------------------------
t.test('MS-SSIM equals the naive 2-D computation (odd and even sides)', async (t) => {
  for (const [w, h, noise, seed] of [[161, 165, 40, 1], [176, 162, 120, 2], [163, 192, 15, 3]] as const) {
    const [a, b] = pair(w, h, noise, seed);
    const fast = msSsim(a, b), slow = naiveMsSsim(a, b);
    t.ok(Math.abs(fast - slow) < 1e-6, `${w}x${h}, noise ${noise}: ${fast} vs ${slow}`);
    t.ok(fast > 0.2 && fast < 1, `a meaningful value (${fast})`);
  }
});

t.test('SSIM equals the naive computation', async (t) => {
  for (const [w, h] of [[11, 11], [23, 31], [40, 17]] as const) {
    const [a, b] = pair(w, h, 50, w);
    const slow = [0, 1, 2].reduce((s, c) => s + naiveTerms(channel(a, c), channel(b, c)).ssim, 0) / 3;
    t.ok(Math.abs(ssim(a, b) - slow) < 1e-9, `${w}x${h}: ${ssim(a, b)} vs ${slow}`);
  }
});

t.test('identities: equal images, symmetry, monotone in noise, uint8 = float', async (t) => {
  const [a] = pair(170, 170, 0, 4);
  t.equal(msSsim(a, a), 1);
  t.equal(ssim(a, a), 1);
  const scores = [4, 16, 64, 160].map((noise) => {
    const [x, y] = pair(170, 170, noise, 4);
    t.equal(msSsim(x, y), msSsim(y, x), `symmetric at noise ${noise}`);
    return msSsim(x, y);
  });
  t.ok(scores.every((s, i) => i === 0 || s < scores[i - 1]), `decreasing: ${scores.map((s) => s.toFixed(4))}`);
  const [x, y] = pair(170, 170, 30, 5);
  const asFloat = (im: SsimImage): SsimImage => ({ ...im, data: Float32Array.from(im.data, (v) => v / 255) });
  t.ok(Math.abs(msSsim(asFloat(x), asFloat(y)) - msSsim(x, y)) < 1e-6, 'float [0,1] input gives the same value');
  t.ok(Math.abs(msSsimDb(0.99) - 20) < 1e-9, 'dB: −10·log10(1 − 0.99) = 20');
});

t.test('closed form: flat images', async (t) => {
  // Flat images have no variance: cs = 1 at every scale (sides divisible by 16, so pooling never
  // pads), and MS-SSIM is the luminance term to the last weight.
  const flat = (v: number): SsimImage => ({ data: new Uint8Array(176 * 176 * 3).fill(v), width: 176, height: 176 });
  const [a, b] = [100 / 255, 150 / 255];
  const l = (2 * a * b + 1e-4) / (a * a + b * b + 1e-4);
  t.ok(Math.abs(msSsim(flat(100), flat(150)) - l ** 0.1333) < 1e-12, `${msSsim(flat(100), flat(150))} = ${l ** 0.1333}`);
  t.ok(Math.abs(msSsim(flat(255), flat(0)) - (1e-4 / 1.0001) ** 0.1333) < 1e-12, 'white vs black');
});

t.test('negative contrast-structure is clamped to 0; too small images are refused', async (t) => {
  const [a] = pair(170, 170, 0, 6);
  const inverted = { ...a, data: a.data.map((v) => 255 - v) };
  t.equal(msSsim(a, inverted), 0, 'anti-correlated: relu(cs) = 0');
  t.equal(MS_SSIM_MIN_SIDE, 161);
  const [s1, s2] = pair(200, 160, 10);
  t.throws(() => msSsim(s1, s2), { name: 'PsicInputError', message: /at least 161x161 pixels, got 200x160/ });
  t.throws(() => msSsim(pair(200, 170, 10)[0], s1), { name: 'PsicInputError', message: /differ in size/ });
  t.throws(() => ssim({ data: new Uint8Array(30), width: 10, height: 1 }, { data: new Uint8Array(30), width: 10, height: 1 }), { name: 'PsicInputError' });
});
