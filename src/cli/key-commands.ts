// psic keygen: a random 256-bit owner key, or an X25519 key pair for a sealed file's recipient.
import { writeFileAtomic } from '../io/atomic-write.js';
import { formatRecipient, formatX25519SecretKey, generateKey, generateX25519KeyPair, writeKeyFile } from '../keys.js';
import { parse, requireString } from './usage.js';

const HELP = `Usage: psic keygen -o F [--x25519] [--force]

Writes a random 256-bit key (hex) to F, created with file mode 0600. Keep it secret: it unlocks
the full decode of every image you compress with a PSIC model ('psic decompress --key-file F').
An existing F is never replaced (it may be the only key to your images) unless --force.

  --x25519   an X25519 key pair instead: the secret key to F (mode 0600), the public key to
             F.pub ('psic-x25519:' and 64 hex digits). Give the public key to an owner, who
             seals files for you with 'psic compress --seal --recipient F.pub'; open them with
             'psic decompress --key-file F'.
  --force    replace existing files (a replaced key can no longer open what it locked)
`;

export async function keygenCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { output: { type: 'string', short: 'o' }, x25519: { type: 'boolean' }, force: { type: 'boolean' } }, HELP);
  if (!args) return;
  const output = requireString(args.values.output, '-o F');
  const overwrite = Boolean(args.values.force);
  if (!args.values.x25519) {
    await writeKeyFile(output, generateKey(), { overwrite });
    process.stdout.write(`${output}: 256-bit key, mode 0600\n`);
    return;
  }
  const pair = generateX25519KeyPair();
  const pub = `${output}.pub`;
  await writeFileAtomic(output, Buffer.from(formatX25519SecretKey(pair)), { mode: 0o600, overwrite, what: 'key file' });
  await writeFileAtomic(pub, Buffer.from(`${formatRecipient(pair.publicKey)}\n`), { mode: 0o644, overwrite, what: 'public key file' });
  process.stdout.write(`${output}: X25519 secret key, mode 0600\n${pub}: ${formatRecipient(pair.publicKey)}\n`);
}
