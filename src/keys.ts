// User keys and the conditions derived from them. The full decode of a PSIC model is unlocked
// by a secret key: HKDF-SHA256(key, salt = the model id, info = "psic/condition/v1") gives d
// values in [-1, 1]. Without a key the decoder uses the model's public protected condition.
import { hkdfSync, randomBytes } from 'node:crypto';

import { writeFileAtomic } from './io/atomic-write.js';
import { MAX_KEY_FILE_BYTES, readRegularFileWithStats } from './io/read-file.js';
import { PsicInputError, PsicIoError, PsicKeyError, PsicLimitError } from './errors.js';

export const KEY_BYTES = 32;
const MIN_KEY_BYTES = 16;
const CONDITION_INFO = 'psic/condition/v1';

/** A user key: raw bytes, or a hex string of at least 32 hex digits (16 bytes). */
export type Key = Uint8Array | string;

/** RFC 5869 HKDF with SHA-256 (node:crypto's implementation). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, typeof info === 'string' ? Buffer.from(info, 'utf8') : info, length));
}

/** Validates a key and returns its bytes. */
export function keyBytes(key: Key): Uint8Array {
  if (typeof key === 'string') {
    const hex = key.trim();
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new PsicKeyError('a key string must be hexadecimal (e.g. from psic keygen)');
    key = Buffer.from(hex, 'hex');
  }
  if (!(key instanceof Uint8Array)) throw new PsicKeyError('a key must be a Uint8Array or a hex string');
  if (key.length < MIN_KEY_BYTES) throw new PsicKeyError(`a key must have at least ${MIN_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

/**
 * The full-decode condition for a key: d values in [-1, 1], from HKDF-SHA256 with the model id
 * as salt, so one key gives unrelated conditions on different models.
 */
export function deriveCondition(key: Key, modelId: string, dims: number): Float32Array {
  if (!/^[0-9a-f]{32}$/.test(modelId)) throw new PsicKeyError(`invalid model id or key salt '${modelId}'`);
  if (!Number.isInteger(dims) || dims < 1) throw new PsicKeyError(`condition size must be a positive integer`);
  const okm = hkdfSha256(keyBytes(key), Buffer.from(modelId, 'hex'), CONDITION_INFO, 4 * dims);
  const view = new DataView(okm.buffer, okm.byteOffset, okm.byteLength);
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) out[i] = (view.getUint32(4 * i, false) / 0xffffffff) * 2 - 1;
  return out;
}

/** A fresh random 256-bit key. */
export function generateKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

export interface WriteKeyFileOptions {
  /**
   * Replace an existing file (default false: PsicIoError when the path exists, because a key
   * file may be the only way to unlock every image made with it).
   */
  overwrite?: boolean;
}

/**
 * Writes a key file: hex and a newline, atomically, mode 0600 from the moment the file is
 * created. Refuses (PsicIoError) to replace an existing file unless `overwrite: true`.
 */
export async function writeKeyFile(path: string, key: Uint8Array, options: WriteKeyFileOptions = {}): Promise<void> {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  if (options.overwrite !== undefined && typeof options.overwrite !== 'boolean') throw new PsicInputError('overwrite must be a boolean');
  const data = Buffer.from(`${Buffer.from(keyBytes(key)).toString('hex')}\n`, 'utf8');
  try {
    await writeFileAtomic(path, data, { mode: 0o600, overwrite: options.overwrite ?? false, what: 'key file' });
  } catch (err) {
    if (err instanceof PsicIoError && /already exists$/.test(err.message)) {
      throw new PsicIoError(`${err.message}: replacing it would lose the only key to every image made with it (overwrite: true, or psic keygen --force, replaces it)`);
    }
    throw err;
  }
}

export interface ReadKeyFileOptions {
  /** Called with a warning, e.g. a key file that group or others can read (as ssh warns). */
  onWarning?: (message: string) => void;
}

function modeWarnings(path: string, mode: number): string[] {
  if ((mode & 0o077) === 0) return [];
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return [`key file '${path}' is readable by group or others (mode ${octal}): anyone who can read it can unlock your images; run chmod 600 '${path}'`];
}

/** The warnings readKeyFile would give for this file (its permissions), without reading the key. */
export async function keyFileWarnings(path: string): Promise<string[]> {
  const { stats } = await readRegularFileWithStats(path, { maxBytes: MAX_KEY_FILE_BYTES, what: 'key file' });
  return modeWarnings(path, stats.mode);
}

/**
 * Reads a key file written by writeKeyFile (hex): a regular file of at most 4 KB. PsicIoError
 * when it cannot be read (missing, not a regular file), PsicKeyError when it is malformed or too
 * large. A file that group or others can read gives a warning (options.onWarning).
 */
export async function readKeyFile(path: string, options: ReadKeyFileOptions = {}): Promise<Uint8Array> {
  let text: string;
  try {
    const { bytes, stats } = await readRegularFileWithStats(path, { maxBytes: MAX_KEY_FILE_BYTES, what: 'key file' });
    for (const w of modeWarnings(path, stats.mode)) options.onWarning?.(w);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof PsicLimitError) throw new PsicKeyError(`${err.message}: not a key file`);
    throw err;
  }
  try {
    return keyBytes(text.trim());
  } catch (err) {
    throw new PsicKeyError(`key file '${path}' is malformed: ${(err as Error).message}`);
  }
}
