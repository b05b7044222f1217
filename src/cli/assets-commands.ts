// psic assets fetch NAME | list.
import { ASSETS, assetPath, cacheDir, fetchAsset } from '../io/assets.js';
import { onePositional, parse, runSubcommand } from './usage.js';

const HELP = `Usage:
  psic assets fetch NAME [--url URL] [--dir DIR] [--json]
      download a known file into the cache (PSIC_HOME, default ~/.cache/psic) and check its
      pinned SHA-256; a failed check or an interrupted download leaves nothing behind
  psic assets list [--json]
Known: ${Object.keys(ASSETS).join(', ')}. PSIC_ASSETS points at a folder of local copies.
`;

async function list(argv: string[]): Promise<void> {
  const args = parse(argv, { json: { type: 'boolean' } }, HELP);
  if (!args) return;
  const rows = Object.values(ASSETS).map((a) => ({ name: a.name, file: a.file, sha256: a.sha256, path: assetPath(a.name) ?? null }));
  process.stdout.write(args.values.json ? `${JSON.stringify({ cache: cacheDir(), assets: rows })}\n` : rows.map((r) => `${r.name.padEnd(16)} ${r.path ?? '(not present)'}`).join('\n') + '\n');
}

async function fetch(argv: string[]): Promise<void> {
  const args = parse(argv, { url: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (!args) return;
  const name = onePositional(args.positionals, 'asset name');
  const path = await fetchAsset(name, { url: args.values.url as string | undefined, dir: args.values.dir as string | undefined });
  process.stdout.write(args.values.json ? `${JSON.stringify({ name, path })}\n` : `${name}: ${path}\n`);
}

export async function assetsCommand(argv: string[]): Promise<void> {
  await runSubcommand('assets', argv, HELP, { fetch, list });
}
