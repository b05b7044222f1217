// Output files appear complete or not at all: write a temp file in the same directory, then
// rename it over the target. A failure removes the temp file and is a PsicIoError that names the
// user's path (never the temp file's): a missing folder, no permission, a full disk.
import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { PsicIoError } from '../errors.js';
import { ioError } from './read-file.js';

export interface AtomicWriteOptions {
  /** The file mode, given when the temp file is created (never chmod'ed after). Default 0o644. */
  mode?: number;
  /** false: refuse (PsicIoError) when the target exists, checked atomically. Default true. */
  overwrite?: boolean;
  /** What the file is, for messages ('key file'). */
  what?: string;
}

export async function writeFileAtomic(path: string, data: Uint8Array, options: number | AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o644, overwrite = true, what } = typeof options === 'number' ? { mode: options } : options;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const handle = await open(tmp, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (overwrite) {
      await rename(tmp, path);
    } else {
      // link() fails with EEXIST when the target exists (a dangling symlink included): no
      // window in which another writer's file could be replaced.
      try {
        await link(tmp, path);
      } catch (err) {
        // File systems without hard links: check, then rename (a small race, no worse than that).
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        if (await lstat(path).then(() => true, () => false)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        await rename(tmp, path);
      }
      await rm(tmp, { force: true });
    }
  } catch (err) {
    if (created) await rm(tmp, { force: true });
    const subject = what ? `${what} '${path}'` : `'${path}'`;
    if (!overwrite && (err as NodeJS.ErrnoException).code === 'EEXIST') throw new PsicIoError(`${subject} already exists`);
    throw ioError(err, 'write', path, what);
  }
}
