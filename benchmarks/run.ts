// npm run bench [-- --json] [-- --images N --runs N]: see src/bench/bench.ts.
import { main } from '../src/cli/main.js';

process.exitCode = await main(['bench', ...process.argv.slice(2)]);
