// Reading a .psic file without trusting it: a regular file only, its size checked against what
// its header declares before the rest is read, so a huge or endless file is never read whole.
import { open } from 'node:fs/promises';

import { PsicFormatError, PsicIoError, nativeCallSync } from '../errors.js';
import { native } from '../native.js';

export async function readContainerFile(path: string): Promise<Uint8Array> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    throw new PsicIoError(`cannot read '${path}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    const stats = await file.stat();
    if (!stats.isFile()) throw new PsicIoError(`'${path}' is not a regular file`);
    const head = new Uint8Array(Math.min(stats.size, native().containerMaxHeaderBytes));
    await file.read(head, 0, head.length, 0);
    const declared = nativeCallSync(() => native().declaredContainerSize(head));
    if (declared !== stats.size) {
      throw new PsicFormatError(`'${path}' is ${stats.size} bytes but its .psic header declares ${declared}: the file is truncated or has trailing bytes`);
    }
    const bytes = new Uint8Array(declared);
    const { bytesRead } = await file.read(bytes, 0, declared, 0);
    if (bytesRead !== declared) throw new PsicFormatError(`'${path}' changed while it was read`);
    return bytes;
  } finally {
    await file.close();
  }
}
