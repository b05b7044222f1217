// psic keygen: a random 256-bit key for unlocking full decodes.
import { generateKey, writeKeyFile } from '../keys.js';
import { parse, requireString } from './usage.js';

const HELP = `Usage: psic keygen -o F [--force]

Writes a random 256-bit key (hex) to F, created with file mode 0600. Keep it secret: it unlocks
the full decode of every image you compress with a PSIC model ('psic decompress --key-file F').
An existing F is never replaced (it may be the only key to your images) unless --force.
`;

export async function keygenCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { output: { type: 'string', short: 'o' }, force: { type: 'boolean' } }, HELP);
  if (!args) return;
  const output = requireString(args.values.output, '-o F');
  await writeKeyFile(output, generateKey(), { overwrite: Boolean(args.values.force) });
  process.stdout.write(`${output}: 256-bit key, mode 0600\n`);
}
