// Classical codecs from sharp as rate–distortion baselines: JPEG, WebP and AVIF encodes of an
// RGB image at an integer quality, decoded back by sharp, and the quality whose file size best
// matches a target bpp.
import sharp from 'sharp';

import { PsicInputError } from '../errors.js';
import { type RgbImage, readImage } from '../io/image-io.js';
import { bpp } from './metrics.js';

export type BaselineCodec = 'jpeg' | 'webp' | 'avif';
export const BASELINE_CODECS: readonly BaselineCodec[] = ['jpeg', 'webp', 'avif'];

/** Encoder settings besides quality, recorded in the report. */
export const BASELINE_SETTINGS = {
  // libjpeg-turbo behaviour (no trellis quantisation or progressive scans), 4:2:0 chroma.
  jpeg: { mozjpeg: false, chromaSubsampling: '4:2:0' },
  // sharp's defaults.
  webp: { effort: 4 },
  // libaom's effort 2 instead of sharp's 4: ~7× faster on 2 cores for files ~1 % larger
  // (kodim23 at q50: 15,440 vs 15,248 bytes, 1.0 s vs 6.6 s); sharp's default 4:4:4 chroma.
  avif: { effort: 2, chromaSubsampling: '4:4:4' },
} as const;

export interface BaselineEncode {
  quality: number;
  bytes: number;
  bpp: number;
  data: Buffer;
}

export function checkQuality(q: number): number {
  if (!Number.isInteger(q) || q < 1 || q > 100) throw new PsicInputError(`quality must be an integer in [1, 100], got ${String(q)}`);
  return q;
}

export async function encodeBaseline(codec: BaselineCodec, image: RgbImage, quality: number): Promise<Buffer> {
  const input = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const q = checkQuality(quality);
  if (codec === 'jpeg') return input.jpeg({ quality: q, ...BASELINE_SETTINGS.jpeg }).toBuffer();
  if (codec === 'webp') return input.webp({ quality: q, ...BASELINE_SETTINGS.webp }).toBuffer();
  if (codec === 'avif') return input.avif({ quality: q, ...BASELINE_SETTINGS.avif }).toBuffer();
  throw new PsicInputError(`unknown codec '${String(codec)}' (${BASELINE_CODECS.join(', ')})`);
}

/**
 * One image's encodes with one codec, memoised by quality: the bpp matching and the quality grid
 * share them.
 */
export class QualityLadder {
  private readonly cache = new Map<number, Promise<BaselineEncode>>();

  constructor(readonly codec: BaselineCodec, private readonly image: RgbImage) {}

  get(quality: number): Promise<BaselineEncode> {
    let hit = this.cache.get(quality);
    if (!hit) {
      hit = encodeBaseline(this.codec, this.image, quality).then((data) => ({
        quality, data, bytes: data.length, bpp: bpp(data.length, this.image.width, this.image.height),
      }));
      this.cache.set(quality, hit);
    }
    return hit;
  }

  /**
   * The quality in 1–100 whose file bpp is closest to `target`: bisection for the smallest
   * quality reaching the target (file size grows with quality), then the closer of it and the
   * quality below; among every quality tried the closest wins (ties: the lower quality).
   */
  async match(target: number): Promise<BaselineEncode> {
    if (!(target > 0)) throw new PsicInputError(`target bpp must be positive, got ${target}`);
    let lo = 1, hi = 100;
    if ((await this.get(hi)).bpp > target && (await this.get(lo)).bpp < target) {
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((await this.get(mid)).bpp >= target) hi = mid;
        else lo = mid;
      }
    }
    const tried = await Promise.all([...this.cache.values()]);
    return tried.reduce((best, e) => {
      const d = Math.abs(e.bpp - target) - Math.abs(best.bpp - target);
      return d < 0 || (d === 0 && e.quality < best.quality) ? e : best;
    });
  }
}

/** Decodes a baseline file back to RGB pixels (sharp). */
export async function decodeBaseline(data: Buffer): Promise<RgbImage> {
  return readImage(data);
}
