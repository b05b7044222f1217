// npm install of the psic package: nothing to do when a prebuilt addon matches this platform
// (prebuilds/, found as src/native.ts finds it, by node-gyp-build); otherwise build it from
// source with cmake-js (needs Debian's libtorch-dev, nlohmann-json3-dev, libicu-dev, cmake,
// g++: see scripts/setup.sh). A source checkout builds with scripts/setup.sh instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

if (existsSync(join(root, '.git')) || existsSync(join(root, 'test'))) process.exit(0);  // a checkout: scripts/setup.sh
try {
  require('node-gyp-build').resolve(root);
  process.exit(0);
} catch {
  // no prebuild for this platform: build below
}
console.error('psic: no prebuilt addon matches this platform; building it with cmake-js (needs libtorch-dev, see scripts/setup.sh)');
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
// Node's own headers when installed (Debian's nodejs: /usr/include/node), so that cmake-js does
// not download them.
const env = { ...process.env };
const prefix = join(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--config', 'Release', '--CDPSIC_BUILD_CHECKS=OFF'], { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
