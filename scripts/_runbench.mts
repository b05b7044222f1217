import { runBench } from '/work/main/src/bench.js';
const r = await runBench({ suite: 'targets', runs: 3, progress: true });
process.stdout.write(JSON.stringify(r, null, 2) + '\n');
