// Reading the user's files: regular files only (a FIFO, a device such as /dev/zero, a folder is
// refused, and opening never blocks on a FIFO), with a size cap checked on the opened file
// before anything is read, and errors that name the user's path.
import { type Stats, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';

import { PsicFormatError, PsicIoError, PsicLimitError } from '../errors.js';

/** Caps on what the SDK reads from a user's file. */
export const MAX_KEY_FILE_BYTES = 4096;
export const MAX_CONFIG_FILE_BYTES = 1 << 20;
/** Annotation and label files (CSV or JSON): data, not config, so larger. */
export const MAX_ANNOTATION_FILE_BYTES = 256 << 20;

/** The largest encoded image file read for a pixel limit: 8 bytes a pixel (16-bit RGBA) plus 16 MiB for headers and metadata, at most 2 GiB. */
export function maxImageFileBytes(pixelLimit: number): number {
  return Math.min(8 * pixelLimit + (16 << 20), 2 ** 31 - 1);
}

export interface ReadOptions {
  /** Refuse (PsicLimitError) a file larger than this. */
  maxBytes: number;
  /** What the file is, for messages: 'key file', 'config', 'input'... */
  what: string;
}

const reasons: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a folder',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  EFBIG: 'file too large',
};

/**
 * A PsicIoError for a failed file operation on `path` (the user's path, never a temp file's):
 * "cannot read 'x': no such file". Errors that are already PsicErrors pass through.
 */
export function ioError(err: unknown, verb: 'read' | 'write', path: string, what?: string): Error {
  if (err instanceof PsicIoError || err instanceof PsicLimitError || err instanceof PsicFormatError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const subject = subjectOf(path, what);
  if (verb === 'write' && code === 'ENOENT') return new PsicIoError(`cannot write ${subject}: folder '${dirname(path)}' does not exist`);
  if (verb === 'write' && code === 'ENOTDIR') return new PsicIoError(`cannot write ${subject}: '${dirname(path)}' is not a folder`);
  const reason = reasons[code] ?? (code ? code.toLowerCase() : String(e?.message ?? err));
  return new PsicIoError(`cannot ${verb} ${subject}: ${reason}`);
}

// O_NONBLOCK: opening a FIFO with no writer returns at once (fstat then refuses it); on a
// regular file the flag changes nothing.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** How messages name a file: "key file 'k'", or just "'k'" when `what` is empty. */
const subjectOf = (path: string, what?: string) => (what ? `${what} '${path}'` : `'${path}'`);

function checkStats(stats: Stats, path: string, what: string, maxBytes: number | undefined): void {
  const subject = subjectOf(path, what);
  if (stats.isDirectory()) throw new PsicIoError(`${subject} is a directory, not a regular file`);
  if (!stats.isFile()) throw new PsicIoError(`${subject} is not a regular file`);
  if (maxBytes !== undefined && stats.size > maxBytes) {
    throw new PsicLimitError(`${subject} is ${stats.size} bytes, over the limit of ${maxBytes} bytes`);
  }
}

async function openChecked(path: string, what: string, maxBytes?: number): Promise<{ handle: FileHandle; stats: Stats }> {
  if (typeof path !== 'string' || path.length === 0) throw new PsicIoError(`${what || 'a file'} path must be a non-empty string`);
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (err) {
    throw ioError(err, 'read', path, what);
  }
  try {
    const stats = await handle.stat();
    checkStats(stats, path, what, maxBytes);
    return { handle, stats };
  } catch (err) {
    await handle.close();
    throw ioError(err, 'read', path, what);
  }
}

/** Reads up to `length` bytes at `offset`; fewer only at the end of the file. */
async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** A whole regular file, at most options.maxBytes (PsicIoError, PsicLimitError otherwise). */
export async function readRegularFile(path: string, options: ReadOptions): Promise<Buffer> {
  return (await readRegularFileWithStats(path, options)).bytes;
}

/** readRegularFile, with the opened file's stats (mode, size). */
export async function readRegularFileWithStats(path: string, options: ReadOptions): Promise<{ bytes: Buffer; stats: Stats }> {
  const { handle, stats } = await openChecked(path, options.what, options.maxBytes);
  try {
    // Read what fstat said (a file that grows meanwhile is read up to its size then).
    return { bytes: await readAt(handle, 0, stats.size), stats };
  } catch (err) {
    throw ioError(err, 'read', path, options.what);
  } finally {
    await handle.close();
  }
}

/** readRegularFile for synchronous callers. */
export function readRegularFileSync(path: string, options: ReadOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (err) {
    throw ioError(err, 'read', path, options.what);
  }
  try {
    const stats = fstatSync(fd);
    checkStats(stats, path, options.what, options.maxBytes);
    const buf = Buffer.alloc(stats.size);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  } catch (err) {
    throw ioError(err, 'read', path, options.what);
  } finally {
    closeSync(fd);
  }
}

/** The first `length` bytes of a regular file (fewer when it is shorter) and its size: a header, before the rest. */
export async function readFileHead(path: string, length: number, what: string): Promise<{ bytes: Buffer; size: number }> {
  const f = await openRegularFile(path, what);
  try {
    return { bytes: await f.read(0, Math.min(length, f.size)), size: f.size };
  } finally {
    await f.close();
  }
}

/** An opened regular file, for readers that take a header first and then the sizes it declares. */
export interface RegularFile {
  readonly path: string;
  /** Its size when opened. */
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at the end of the file). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Exactly `length` bytes at `offset`; PsicFormatError ("truncated") when the file is shorter. */
  readExactly(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Opens a regular file for reading (PsicIoError for a FIFO, a device, a folder, a missing file). */
export async function openRegularFile(path: string, what: string): Promise<RegularFile> {
  const { handle, stats } = await openChecked(path, what);
  const read = async (offset: number, length: number) => {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new PsicFormatError(`${what} '${path}': bad read range ${offset}+${length}`);
    }
    try {
      return await readAt(handle, offset, length);
    } catch (err) {
      throw ioError(err, 'read', path, what);
    }
  };
  return {
    path,
    size: stats.size,
    read,
    async readExactly(offset, length) {
      const bytes = await read(offset, length);
      if (bytes.length !== length) throw new PsicFormatError(`${what} '${path}' is truncated: ${length} bytes at ${offset} wanted, the file has ${stats.size}`);
      return bytes;
    },
    close: () => handle.close(),
  };
}
