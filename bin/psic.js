#!/usr/bin/env node
// The psic CLI: the compiled TypeScript in dist/ (built by scripts/setup.sh).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
