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
import { PsicInputError } from '../errors.js';

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

/** Valid separable Gaussian filtering of one map: rows, then columns. */
function filtered(v: Float64Array, W: number, H: number, g: Float64Array): Float64Array {
  const k = g.length, w = W - k + 1, h = H - k + 1;
  const rows = new Float64Array(w * H);
  for (let row = 0; row < H; row++) {
    const src = row * W, dst = row * w;
    for (let col = 0; col < w; col++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t] * v[src + col + t];
      rows[dst + col] = s;
    }
  }
  // Columns: accumulate whole rows (streams through memory instead of striding down columns).
  const out = new Float64Array(w * h);
  for (let row = 0; row < h; row++) {
    const dst = row * w;
    for (let t = 0; t < k; t++) {
      const gt = g[t], src = (row + t) * w;
      for (let col = 0; col < w; col++) out[dst + col] += gt * rows[src + col];
    }
  }
  return out;
}

function product(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * b[i];
  return out;
}

/** One channel at one scale, with its filtered mean and second moment. */
interface Level { plane: Plane; mean: Float64Array; square: Float64Array }

function level(plane: Plane, g: Float64Array): Level {
  return { plane, mean: filtered(plane.v, plane.w, plane.h, g), square: filtered(product(plane.v, plane.v), plane.w, plane.h, g) };
}

/** Mean SSIM and mean contrast-structure term of one channel at one scale. */
function ssimTerms(x: Level, y: Level, g: Float64Array): { ssim: number; cs: number } {
  const c1 = SSIM_K1 ** 2, c2 = SSIM_K2 ** 2;
  const mx = x.mean, my = y.mean, xx = x.square, yy = y.square;
  const xy = filtered(product(x.plane.v, y.plane.v), x.plane.w, x.plane.h, g);
  let ssim = 0, cs = 0;
  const n = mx.length;
  for (let i = 0; i < n; i++) {
    const mu1 = mx[i], mu2 = my[i];
    const s11 = xx[i] - mu1 * mu1, s22 = yy[i] - mu2 * mu2, s12 = xy[i] - mu1 * mu2;
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

/**
 * A reference image prepared once (its pyramid, filtered means and second moments) to score
 * many decodes of it: each score filters 3 maps per scale instead of 5.
 */
export class SsimReference {
  private readonly g = gaussianWindow();
  /** [channel][scale] */
  private readonly levels: Level[][];

  constructor(private readonly image: SsimImage, private readonly scales = MS_SSIM_WEIGHTS.length) {
    checkPair(image, image, scales > 1 ? MS_SSIM_MIN_SIDE : SSIM_WINDOW, scales > 1 ? 'MS-SSIM' : 'SSIM');
    this.levels = planes(image).map((p) => this.pyramid(p));
  }

  private pyramid(p: Plane): Level[] {
    const out = [level(p, this.g)];
    while (out.length < this.scales) out.push(level(averagePool2(out[out.length - 1].plane), this.g));
    return out;
  }

  /** Per channel: [ssim, cs] at each scale. */
  private terms(other: SsimImage): { ssim: number; cs: number }[][] {
    checkPair(this.image, other, 0, this.scales > 1 ? 'MS-SSIM' : 'SSIM');
    return planes(other).map((p, c) => this.pyramid(p).map((l, s) => ssimTerms(this.levels[c][s], l, this.g)));
  }

  /** Single-scale SSIM (mean over the valid map, averaged over channels). */
  ssim(other: SsimImage): number {
    const t = this.terms(other);
    return t.reduce((s, ch) => s + ch[0].ssim, 0) / t.length;
  }

  /** 5-scale MS-SSIM: ∏ relu(cs_j)^w_j over the first four scales · relu(ssim_5)^w_5, averaged over channels. */
  msSsim(other: SsimImage): number {
    if (this.scales !== MS_SSIM_WEIGHTS.length) throw new PsicInputError('this reference was prepared for single-scale SSIM');
    const t = this.terms(other);
    const last = MS_SSIM_WEIGHTS.length - 1;
    return t.reduce((s, ch) => s + ch.reduce((p, v, j) => p * Math.max(j === last ? v.ssim : v.cs, 0) ** MS_SSIM_WEIGHTS[j], 1), 0) / t.length;
  }
}

/** Single-scale SSIM (mean over the valid map, averaged over channels). */
export function ssim(a: SsimImage, b: SsimImage): number {
  return new SsimReference(a, 1).ssim(b);
}

/** 5-scale MS-SSIM, in [0, 1]; 1 for identical images. */
export function msSsim(a: SsimImage, b: SsimImage): number {
  return new SsimReference(a).msSsim(b);
}

/** MS-SSIM in dB, as CompressAI's plots show it: −10·log10(1 − MS-SSIM). */
export function msSsimDb(value: number): number {
  return -10 * Math.log10(1 - value);
}
