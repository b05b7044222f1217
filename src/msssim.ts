// SSIM and MS-SSIM (Wang, Simoncelli & Bovik 2003) with the exact semantics of pytorch_msssim,
// which CompressAI's evaluation uses (`ms_ssim(x, x_hat, data_range=1.0)`):
// - values in [0, 1] (uint8 pixels are divided by 255), data range 1, K1 = 0.01, K2 = 0.03;
// - an 11-tap Gaussian window, sigma 1.5, applied separably (rows, then columns) with *valid*
//   convolution: no padding, so the maps are (H − 10) × (W − 10);
// - each channel separately; the per-channel results are averaged at the end (RGB);
// - 5 scales with weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]; between scales a 2×2
//   average pool, stride 2 — for an odd side, torch's avg_pool2d with padding 1 on that axis and
//   the zeros counted (count_include_pad), which is what pytorch_msssim does;
// - MS-SSIM = ∏_{j<5} relu(cs_j)^{w_j} · relu(ssim_5)^{w_5}: a negative mean contrast-structure
//   term (anti-correlated images) is clamped to 0, as pytorch_msssim and tf.image.ssim_multiscale
//   do, so the score stays real and in [0, 1];
// - the smaller side must exceed (11 − 1) · 2^4 = 160 pixels (pytorch_msssim asserts the same):
//   below that the coarsest scale has no valid window and we throw instead of guessing.
// Sums run in float64; pytorch_msssim runs in float32, so results agree to ~1e-6.
import { PsicInputError } from './errors.js';

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;
export const MS_SSIM_WEIGHTS: readonly number[] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
/** The smallest side MS-SSIM accepts at 5 scales: (window − 1) · 2^4 + 1. */
export const MS_SSIM_MIN_SIDE = (SSIM_WINDOW - 1) * 2 ** (MS_SSIM_WEIGHTS.length - 1) + 1;

/** Interleaved (HWC) pixels: uint8 (0–255) or float in [0, 1]. */
export interface SsimImage {
  data: Uint8Array | Float32Array | Float64Array;
  width: number;
  height: number;
  /** Default 3. */
  channels?: number;
}

interface Plane { v: Float64Array; w: number; h: number }

/** The normalised 1-D Gaussian window (pytorch_msssim's _fspecial_gauss_1d). */
export function gaussianWindow(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const g = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const c = i - Math.floor(size / 2);
    g[i] = Math.exp(-(c * c) / (2 * sigma * sigma));
    sum += g[i];
  }
  return g.map((x) => x / sum);
}

function planes(image: SsimImage): Plane[] {
  const channels = image.channels ?? 3;
  const { width: w, height: h, data } = image;
  if (data.length !== w * h * channels) throw new PsicInputError(`image data has ${data.length} values, expected ${w}x${h}x${channels}`);
  const scale = data instanceof Uint8Array ? 1 / 255 : 1;
  return Array.from({ length: channels }, (_, c) => {
    const v = new Float64Array(w * h);
    for (let i = 0; i < w * h; i++) v[i] = data[i * channels + c] * scale;
    return { v, w, h };
  });
}

/** Valid separable filtering: rows then columns. */
function blur(p: Plane, g: Float64Array): Plane {
  const k = g.length, w = p.w - k + 1, h = p.h - k + 1;
  const rows = new Float64Array(w * p.h);
  for (let y = 0; y < p.h; y++) {
    const src = y * p.w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t] * p.v[src + x + t];
      rows[y * w + x] = s;
    }
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t] * rows[(y + t) * w + x];
      out[y * w + x] = s;
    }
  }
  return { v: out, w, h };
}

const product = (a: Plane, b: Plane): Plane => ({ v: a.v.map((x, i) => x * b.v[i]), w: a.w, h: a.h });

/** Mean SSIM and mean contrast-structure term of one channel at one scale. */
function ssimTerms(x: Plane, y: Plane, g: Float64Array): { ssim: number; cs: number } {
  const c1 = SSIM_K1 ** 2, c2 = SSIM_K2 ** 2;
  const mx = blur(x, g), my = blur(y, g);
  const xx = blur(product(x, x), g), yy = blur(product(y, y), g), xy = blur(product(x, y), g);
  let ssim = 0, cs = 0;
  const n = mx.v.length;
  for (let i = 0; i < n; i++) {
    const mu1 = mx.v[i], mu2 = my.v[i];
    const s11 = xx.v[i] - mu1 * mu1, s22 = yy.v[i] - mu2 * mu2, s12 = xy.v[i] - mu1 * mu2;
    const csi = (2 * s12 + c2) / (s11 + s22 + c2);
    cs += csi;
    ssim += ((2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)) * csi;
  }
  return { ssim: ssim / n, cs: cs / n };
}

/** torch's avg_pool2d(kernel 2, stride 2, padding = side % 2, count_include_pad). */
export function averagePool2(p: Plane): Plane {
  const px = p.w % 2, py = p.h % 2;
  const w = Math.floor((p.w + 2 * px - 2) / 2) + 1, h = Math.floor((p.h + 2 * py - 2) / 2) + 1;
  const out = new Float64Array(w * h);
  const at = (x: number, y: number) => (x >= 0 && x < p.w && y >= 0 && y < p.h ? p.v[y * p.w + x] : 0);
  for (let y = 0; y < h; y++) {
    const y0 = 2 * y - py;
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x - px;
      out[y * w + x] = (at(x0, y0) + at(x0 + 1, y0) + at(x0, y0 + 1) + at(x0 + 1, y0 + 1)) / 4;
    }
  }
  return { v: out, w, h };
}

function checkPair(a: SsimImage, b: SsimImage, minSide: number, what: string): void {
  if (a.width !== b.width || a.height !== b.height || (a.channels ?? 3) !== (b.channels ?? 3)) {
    throw new PsicInputError(`${what}: images differ in size (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  }
  if (Math.min(a.width, a.height) < minSide) {
    throw new PsicInputError(`${what} needs images of at least ${minSide}x${minSide} pixels, got ${a.width}x${a.height}`);
  }
}

/** Single-scale SSIM (mean over the valid map, averaged over channels). */
export function ssim(a: SsimImage, b: SsimImage): number {
  checkPair(a, b, SSIM_WINDOW, 'SSIM');
  const g = gaussianWindow();
  const pa = planes(a), pb = planes(b);
  return pa.reduce((s, p, c) => s + ssimTerms(p, pb[c], g).ssim, 0) / pa.length;
}

/** 5-scale MS-SSIM, in [0, 1]; 1 for identical images. */
export function msSsim(a: SsimImage, b: SsimImage): number {
  checkPair(a, b, MS_SSIM_MIN_SIDE, 'MS-SSIM');
  const g = gaussianWindow();
  const pa = planes(a), pb = planes(b);
  let total = 0;
  for (let c = 0; c < pa.length; c++) {
    let x = pa[c], y = pb[c], score = 1;
    MS_SSIM_WEIGHTS.forEach((weight, level) => {
      const t = ssimTerms(x, y, g);
      const last = level === MS_SSIM_WEIGHTS.length - 1;
      score *= Math.max(last ? t.ssim : t.cs, 0) ** weight;
      if (!last) {
        x = averagePool2(x);
        y = averagePool2(y);
      }
    });
    total += score;
  }
  return total / pa.length;
}

/** MS-SSIM in dB, as CompressAI's plots show it: −10·log10(1 − MS-SSIM). */
export function msSsimDb(value: number): number {
  return -10 * Math.log10(1 - value);
}
