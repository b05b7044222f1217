// The C++ core's own checks (cpp/tests, built as build/psic_check): bit-exactness against
// CompressAI's fixtures, rANS vectors, CDF tables, the sub-pixel rewrite, formats. Each of its
// TAP cases becomes an assertion here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

import { repoRoot, sharedDir } from './helpers/shared.js';

const binary = join(repoRoot, 'build', 'psic_check');

t.test('C++ core checks', existsSync(binary) ? {} : { skip: 'build/psic_check not built (run: bash scripts/setup.sh)' }, async (t) => {
  const r = spawnSync(binary, [], { env: { ...process.env, PSIC_SHARED: sharedDir() }, encoding: 'utf8', timeout: 600_000 });
  t.equal(r.status, 0, 'psic_check exits 0', { stderr: r.stderr });
  const lines = r.stdout.split('\n');
  const results = lines.filter((l) => /^(not )?ok \d+ - /.test(l));
  t.ok(results.length >= 10, `ran ${results.length} C++ cases`);
  for (const [i, line] of results.entries()) {
    const failed = line.startsWith('not ok');
    const skipped = / # SKIP /.test(line);
    const name = line.replace(/^(not )?ok \d+ - /, '');
    if (skipped) {
      t.pass(name, { skip: 'skipped by psic_check' });
      continue;
    }
    // The diagnostic lines that follow a failure.
    const start = lines.indexOf(line);
    const details = failed ? lines.slice(start + 1, start + 30).filter((l) => l.startsWith('  #')).join('\n') : '';
    t.ok(!failed, name, { details, case: i + 1 });
  }
});
