// Reading a .psic file without trusting it: a regular file only (src/io/read-file.ts: a FIFO or a
// device is refused, and opening never blocks), its size checked against what its header
// declares before the rest is read, so a huge or endless file is never read whole.
import { PsicFormatError, nativeCallSync } from '../errors.js';
import { openRegularFile } from '../io/read-file.js';
import { native } from '../native.js';

export async function readContainerFile(path: string): Promise<Uint8Array> {
  const file = await openRegularFile(path, '');
  try {
    const head = await file.read(0, Math.min(file.size, native().containerMaxHeaderBytes));
    const declared = nativeCallSync(() => native().declaredContainerSize(head));
    if (declared !== file.size) {
      throw new PsicFormatError(`'${path}' is ${file.size} bytes but its .psic header declares ${declared}: the file is truncated or has trailing bytes`);
    }
    return new Uint8Array(await file.readExactly(0, declared));
  } finally {
    await file.close();
  }
}
