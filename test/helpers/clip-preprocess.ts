import { native } from '../../src/native.js';
import { readImage } from '../../src/io/image-io.js';

/** OpenAI's _transform(resolution) of an image file, through the addon. */
export async function tensorFromFile(path: string, resolution: number): Promise<Float32Array> {
  const rgb = await readImage(path);
  return native().clipPreprocess([{ rgb: rgb.data, width: rgb.width, height: rgb.height }], resolution);
}
