// User keys: parsing, generation and key files. What psic derives from a key (the full decode's
// condition, the container's key check, the training salt) is derived in C++, in one place:
// cpp/models/keys.h documents every derivation. Without a key the decoder uses the model's
// public protected condition.
import { hkdfSync, randomBytes } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';

import { writeFileAtomic } from './io/atomic-write.js';
import { PsicKeyError, nativeCallSync } from './errors.js';
import { native } from './native.js';

export const KEY_BYTES = 32;
const MIN_KEY_BYTES = 16;

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
 * The full-decode condition for a key: d values in [-1, 1] from HKDF-SHA256 with the salt
 * (a model's key salt, else its id), so one key gives unrelated conditions on different models.
 * Derived in C++ (cpp/models/keys.h), the one home of key derivation.
 */
export function deriveCondition(key: Key, salt: string, dims: number): Float32Array {
  if (!/^[0-9a-f]{32}$/.test(salt)) throw new PsicKeyError(`invalid model id or key salt '${salt}'`);
  if (!Number.isInteger(dims) || dims < 1) throw new PsicKeyError(`condition size must be a positive integer`);
  const bytes = keyBytes(key);
  return nativeCallSync(() => native().deriveCondition(bytes, salt, dims));
}

/** A fresh random 256-bit key. */
export function generateKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

/** Writes a key file: hex and a newline, mode 0600, atomically. */
export async function writeKeyFile(path: string, key: Uint8Array): Promise<void> {
  await writeFileAtomic(path, Buffer.from(`${Buffer.from(keyBytes(key)).toString('hex')}\n`, 'utf8'), 0o600);
  await chmod(path, 0o600);
}

/** Reads a key file written by writeKeyFile (hex); PsicKeyError when unreadable or malformed. */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PsicKeyError(`cannot read key file '${path}': ${(err as Error).message}`);
  }
  try {
    return keyBytes(text.trim());
  } catch (err) {
    throw new PsicKeyError(`key file '${path}' is malformed: ${(err as Error).message}`);
  }
}
