// Images in and out through sharp: any input becomes 8-bit sRGB RGB pixels (HWC), with the
// pixel limit enforced before decoding and transparency flattened onto a background (white by
// default: the colours under transparent pixels must not show); output is PNG.
import sharp from 'sharp';

import { writeFileAtomic } from './atomic-write.js';
import { maxImageFileBytes, readRegularFile } from './read-file.js';
import { PsicInputError, PsicLimitError } from '../errors.js';
import { native } from '../native.js';

/**
 * The default pixel limit: as many pixels as half of this machine's RAM can decode, at the peak
 * memory per pixel measured for decoding (cpp/codec.h, docs/benchmarks.md), and at most sharp's
 * default (0x3FFF²). Raise it with `pixelLimit` (API) or `--pixel-limit` (CLI).
 */
export function defaultPixelLimit(): number {
  return native().defaultPixelLimit();
}

/** Raw pixels: uint8, HWC, 1 (grey), 3 (RGB) or 4 (RGBA) channels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** A path, an encoded image (PNG, JPEG, WebP, AVIF, TIFF, GIF...), or raw pixels. */
export type ImageInput = string | Uint8Array | RawImage;

export interface RgbImage {
  /** HWC RGB, uint8. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 3 (readImage always sets it, so its result is a RawImage too and goes back into compress). */
  channels?: 3;
}

/**
 * The colour transparent pixels are flattened onto: a CSS colour string ('white', '#ff8800',
 * 'rgb(0, 0, 0)') or {r, g, b} (0-255). Default white.
 */
export type Background = string | { r: number; g: number; b: number };

export interface ReadImageOptions {
  /** Refuse images with more pixels than this (default 268402689, like sharp). */
  pixelLimit?: number;
  /** Transparent and translucent pixels are composited onto this colour (default white). */
  background?: Background;
}

const WHITE = { r: 255, g: 255, b: 255 };

/** Checks a background colour (PsicInputError) and returns it as sharp takes it. */
export function validateBackground(background: unknown): Background {
  if (background === undefined) return WHITE;
  const bad = () => new PsicInputError(`background must be a colour ('white', '#rrggbb', 'rgb(r, g, b)' or {r, g, b}), got ${typeof background === 'string' ? `'${background}'` : JSON.stringify(background) ?? String(background)}`);
  if (typeof background === 'object' && background !== null) {
    const { r, g, b } = background as Record<string, unknown>;
    if (![r, g, b].every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255)) throw bad();
  } else if (typeof background !== 'string') {
    throw bad();
  }
  try {
    sharp().flatten({ background: background as Background });  // sharp's own colour parser
  } catch {
    throw bad();
  }
  return background as Background;
}

function isRawImage(input: unknown): input is RawImage {
  return typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && 'data' in input;
}

function checkDimension(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PsicInputError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function checkPixelLimit(width: number, height: number, pixelLimit: number): void {
  if (width * height > pixelLimit) {
    throw new PsicLimitError(`image is ${width}x${height}, over the pixel limit of ${pixelLimit} (raise it with the pixelLimit option or --pixel-limit)`);
  }
}

export function validatePixelLimit(pixelLimit: unknown): number {
  if (typeof pixelLimit !== 'number' || !Number.isInteger(pixelLimit) || pixelLimit < 1) {
    throw new PsicInputError(`pixelLimit must be a positive integer, got ${String(pixelLimit)}`);
  }
  return pixelLimit;
}

async function decode(pipeline: sharp.Sharp, what: string, background: Background): Promise<RgbImage & { channels: 3 }> {
  try {
    const { data, info } = await pipeline
      .rotate() // honour EXIF orientation
      .flatten({ background }) // composite any alpha onto the background (no-op without alpha)
      .toColorspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new PsicInputError(`${what}: expected 3 channels after conversion, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    if (err instanceof PsicInputError || err instanceof PsicLimitError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(message)) throw new PsicLimitError(`${what}: ${message}`);
    throw new PsicInputError(`${what} is not a supported image (${message})`);
  }
}

/** Reads any supported input into RGB pixels (alpha flattened onto options.background, default white). */
export async function readImage(input: ImageInput, options: ReadImageOptions = {}): Promise<RgbImage & { channels: 3 }> {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  const pixelLimit = validatePixelLimit(options.pixelLimit ?? defaultPixelLimit());
  const background = validateBackground(options.background);
  if (typeof input === 'string') {
    // A regular file (not a FIFO or a device), no larger than any image of the pixel limit.
    const bytes = await readRegularFile(input, { maxBytes: maxImageFileBytes(pixelLimit), what: 'input' });
    return decodeEncoded(bytes, `input '${input}'`, pixelLimit, background);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input, 'input buffer', pixelLimit, background);
  if (isRawImage(input)) {
    const width = checkDimension('width', input.width);
    const height = checkDimension('height', input.height);
    const channels = input.channels;
    if (channels !== 1 && channels !== 3 && channels !== 4) {
      throw new PsicInputError(`channels must be 1, 3 or 4, got ${String(channels)}`);
    }
    if (input.data instanceof Float32Array) {
      throw new PsicInputError("raw image data must be a Uint8Array (uint8 HWC); a float32 decode goes back in as decompress(..., { output: 'uint8' })");
    }
    if (!(input.data instanceof Uint8Array)) throw new PsicInputError('raw image data must be a Uint8Array (uint8 HWC)');
    if (input.data.length !== width * height * channels) {
      throw new PsicInputError(
        `raw image data has ${input.data.length} bytes, expected width*height*channels = ${width * height * channels}`,
      );
    }
    checkPixelLimit(width, height, pixelLimit);
    if (channels === 3) return { data: input.data, width, height, channels: 3 };
    return decode(sharp(input.data, { raw: { width, height, channels }, limitInputPixels: pixelLimit }), 'raw image', background);
  }
  throw new PsicInputError('input must be a file path, an encoded image Buffer/Uint8Array, or {data, width, height, channels}');
}

async function decodeEncoded(bytes: Uint8Array, what: string, pixelLimit: number, background: Background): Promise<RgbImage & { channels: 3 }> {
  if (bytes.length === 0) throw new PsicInputError(`${what} is empty`);
  // Read the header first: refuse oversized images before decoding any pixels.
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new PsicInputError(`${what} is not a supported image (${(err as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new PsicInputError(`${what} has no dimensions`);
  checkPixelLimit(meta.width, meta.height, pixelLimit);
  return decode(sharp(bytes, { limitInputPixels: pixelLimit }), what, background);
}

/** Encodes RGB pixels as PNG. */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** Writes RGB pixels as a PNG file, atomically. */
export async function writePng(image: RgbImage, path: string): Promise<void> {
  await writeFileAtomic(path, await encodePng(image));
}
