// Where the tests find ../shared and the built addon, and how they skip visibly without them.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function sharedDir(): string {
  return resolve(process.env.PSIC_SHARED ?? join(repoRoot, '..', 'shared'));
}

export const hasShared = existsSync(join(sharedDir(), 'fixtures', 'compressai-hyperprior'));
export const hasAddon = existsSync(join(repoRoot, 'build', 'Release', 'psic.node'));

/** tap options: skip with a reason when the shared data is absent (a user's fresh clone). */
export const needsShared = hasShared ? {} : { skip: `shared data not found at ${sharedDir()} (set PSIC_SHARED)` };
export const needsAddon = hasAddon ? {} : { skip: 'native addon not built (run: bash scripts/setup.sh)' };
export const needsBoth = !hasAddon ? needsAddon : needsShared;

export const fixtures = () => join(sharedDir(), 'fixtures', 'compressai-hyperprior');
export const tinyModel = () => join(fixtures(), 'tiny-N16-M24.pth.tar');
export const bigModel = () => join(fixtures(), 'hyperprior-N128-M192.pth.tar');
