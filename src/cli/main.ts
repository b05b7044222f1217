// psic command-line entry: dispatches to one module per command group.
import { benchCommand } from './bench-command.js';
import { assetsCommand } from './assets-commands.js';
import { clipCommand } from './clip-commands.js';
import { compressDirCommand, decompressDirCommand } from './batch-commands.js';
import { compressCommand, decompressCommand, infoCommand } from './codec-commands.js';
import { evalCommand } from './eval-commands.js';
import { keygenCommand } from './key-commands.js';
import { modelCommand } from './model-commands.js';
import { targetCommand } from './target-commands.js';
import { trainCommand } from './train-command.js';
import { runCommand } from './usage.js';

const HELP = `psic: privacy-shielded learned image compression

Usage: psic <command> [options]

Commands:
  compress IN -o OUT.psic --model M      compress an image
  decompress IN.psic -o OUT.png --model M [--key-file F | --key K]
                                         decompress a container (protected unless keyed)
  compress-dir IN_DIR -o OUT_DIR --model M [--concurrency N] [--resume] [--json]
                                         compress every image of a directory, several at once
  decompress-dir IN_DIR -o OUT_DIR --model M [--key-file F] [--concurrency N] [--resume] [--json]
                                         decompress every .psic of a directory
  keygen -o F [--force]                  a random 256-bit key (mode 0600; never replaces F unless --force)
  model init|info|export-encoder         create, inspect, export models
  clip tokenize|embed                    CLIP tokens and features
  assets fetch|list                      pinned downloads (CLIP vocabulary, ViT-B/32)
  target run|info|predict                run a TF.js graph raw; a target model's heads, preprocessing, predictions
  train --config F.json [--resume C]     train a PSIC model (UAEO attack, key-bound full decode)
  eval target                            compare a target's predictions on two image sets (agreement, ASR)
  eval attack                            accuracy and ASR per target, robustness, PGD baseline, key search
  eval all --models M --out DIR          rd + attack for every model: report.json, report.md, report.html
  eval rd --models M --key-file K        rate–distortion (bpp, PSNR, MS-SSIM) vs the backbone, JPEG, WebP, AVIF; plots
  info IN.psic [--json]                  show a container's header and strings
  bench [--json]                         benchmark speed and rate-distortion on Kodak

Run 'psic <command> --help' for a command's options.
Environment: PSIC_THREADS (LibTorch threads), UV_THREADPOOL_SIZE (most files at once in *-dir),
PSIC_SHARED (shared data for bench),
PSIC_OPENBLAS_CORETYPE (override the OpenBLAS kernel choice).
`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  compress: compressCommand,
  decompress: decompressCommand,
  'compress-dir': compressDirCommand,
  'decompress-dir': decompressDirCommand,
  info: infoCommand,
  bench: benchCommand,
  keygen: keygenCommand,
  model: modelCommand,
  clip: clipCommand,
  assets: assetsCommand,
  target: targetCommand,
  eval: evalCommand,
  train: trainCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`psic: unknown command '${name}' (see psic --help)\n`);
    return 2;
  }
  return runCommand(() => command(rest));
}

// Run when executed directly (node --import tsx src/cli/main.ts); bin/psic.js calls main() itself.
const invoked = process.argv[1] ?? '';
if (/cli[\\/]main\.(ts|js)$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
