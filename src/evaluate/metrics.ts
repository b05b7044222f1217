// Quality and rate figures, with the definitions CompressAI's evaluation uses.

/** PSNR in dB between two equal-length uint8 (MAX 255) or [0,1] float (MAX 1) pixel arrays. */
export function psnr(a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError('psnr: arrays must be non-empty and of equal length');
  const max = a instanceof Float32Array ? 1 : 255;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((max * max) / mse);
}

/** Bits per pixel of `bytes` bytes over an image of width x height. */
export function bpp(bytes: number, width: number, height: number): number {
  return (bytes * 8) / (width * height);
}
