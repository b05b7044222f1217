// Runs the real psic bin (dist/, built by scripts/setup.sh) as a child process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot } from './shared.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function psic(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'psic.js'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
