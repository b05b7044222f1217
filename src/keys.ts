// User keys: parsing, generation and key files. What psic derives from a key (the full decode's
// condition, the container's key check, the training salt) is derived in C++, in one place:
// cpp/models/keys.h documents every derivation. Without a key the decoder uses the model's
// public protected condition.
import { hkdfSync, randomBytes } from 'node:crypto';

import { writeFileAtomic } from './io/atomic-write.js';
import { MAX_KEY_FILE_BYTES, readRegularFileWithStats } from './io/read-file.js';
import { PsicInputError, PsicIoError, PsicKeyError, PsicLimitError, nativeCallSync } from './errors.js';
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
  const content = parseKeyFileText(await readKeyText(path, options), `key file '${path}'`);
  if (content.kind !== 'owner') throw new PsicKeyError(`key file '${path}' holds an X25519 secret key, not an owner key`);
  return content.key;
}

/** A key file's text: a regular file of at most 4 KB; warns (options.onWarning) when group or others can read it. */
export async function readKeyText(path: string, options: ReadKeyFileOptions = {}): Promise<string> {
  try {
    const { bytes, stats } = await readRegularFileWithStats(path, { maxBytes: MAX_KEY_FILE_BYTES, what: 'key file' });
    for (const w of modeWarnings(path, stats.mode)) options.onWarning?.(w);
    return bytes.toString('utf8');
  } catch (err) {
    if (err instanceof PsicLimitError) throw new PsicKeyError(`${err.message}: not a key file`);
    throw err;
  }
}

/** A key file of either kind (psic keygen, psic keygen --x25519). */
export async function readAnyKeyFile(path: string, options: ReadKeyFileOptions = {}): Promise<KeyFileContent> {
  return parseKeyFileText(await readKeyText(path, options), `key file '${path}'`);
}

// ---- X25519 recipients of sealed files (psic keygen --x25519) ----------------------------

/** A recipient's key pair: the secret key opens sealed files made for the public key. */
export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

const RECIPIENT_PREFIX = 'psic-x25519:';
const SECRET_PREFIX = 'psic-x25519-secret:';

/** A fresh X25519 key pair (OpenSSL, cpp/crypto/x25519.h). */
export function generateX25519KeyPair(): X25519KeyPair {
  return nativeCallSync(() => native().x25519KeyPair());
}

/** The public key of an X25519 secret key. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new PsicKeyError('an X25519 secret key has 32 bytes');
  return nativeCallSync(() => native().x25519KeyPair(secretKey)).publicKey;
}

/** A public key as text: 'psic-x25519:' and 64 hex digits (what --recipient takes). */
export function formatRecipient(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new PsicKeyError('an X25519 public key has 32 bytes');
  return `${RECIPIENT_PREFIX}${Buffer.from(publicKey).toString('hex')}`;
}

/** A recipient: its 32 bytes, or the text form of formatRecipient. */
export type Recipient = Uint8Array | string;

export function recipientBytes(recipient: Recipient): Uint8Array {
  if (recipient instanceof Uint8Array) {
    if (recipient.length !== 32) throw new PsicKeyError(`an X25519 public key has 32 bytes, got ${recipient.length}`);
    return recipient;
  }
  const text = typeof recipient === 'string' ? recipient.trim() : '';
  if (!text.startsWith(RECIPIENT_PREFIX) || !/^[0-9a-f]{64}$/.test(text.slice(RECIPIENT_PREFIX.length))) {
    throw new PsicKeyError(`a recipient is '${RECIPIENT_PREFIX}' and 64 hex digits (psic keygen --x25519 writes it to F.pub), got '${text.slice(0, 80)}'`);
  }
  return new Uint8Array(Buffer.from(text.slice(RECIPIENT_PREFIX.length), 'hex'));
}

/** The text of a secret key file: a comment with the public key, then the secret key. */
export function formatX25519SecretKey(pair: X25519KeyPair): string {
  return `# psic X25519 secret key (keep it private); public key: ${formatRecipient(pair.publicKey)}\n` +
    `${SECRET_PREFIX}${Buffer.from(pair.secretKey).toString('hex')}\n`;
}

/** What a key file holds: the owner's key, or a recipient's X25519 secret key. */
export type KeyFileContent = { kind: 'owner'; key: Uint8Array } | { kind: 'x25519'; secretKey: Uint8Array };

/** Parses a key file's text: lines starting with # are comments. */
export function parseKeyFileText(text: string, what: string): KeyFileContent {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
  if (lines.length !== 1) throw new PsicKeyError(`${what} must hold one key line, found ${lines.length}`);
  const line = lines[0];
  if (line.startsWith(SECRET_PREFIX)) {
    const hex = line.slice(SECRET_PREFIX.length);
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new PsicKeyError(`${what}: an X25519 secret key is '${SECRET_PREFIX}' and 64 hex digits`);
    return { kind: 'x25519', secretKey: new Uint8Array(Buffer.from(hex, 'hex')) };
  }
  if (line.startsWith(RECIPIENT_PREFIX)) throw new PsicKeyError(`${what} holds a public key: give the secret key file (without .pub)`);
  try {
    return { kind: 'owner', key: keyBytes(line) };
  } catch (err) {
    throw new PsicKeyError(`${what} is malformed: ${(err as Error).message}`);
  }
}
