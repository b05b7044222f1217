// psic train --config FILE.json [--resume CKPT] [--json]
import { Progress } from '../progress.js';
import { Trainer } from '../training/trainer.js';
import { UsageError, parse, requireString } from './usage.js';

const HELP = `Usage: psic train --config FILE.json [--resume CKPT] [--steps N] [--json]

Trains a PSIC model (stage 1 or 2 of the paper, key-bound full decode) as the config says;
see the README's "Training" section for every field. A progress bar shows on a TTY; --json
prints one JSON line per log step (step, stage, mode, losses, bpp, PSNR full/protected/wrong
key, attack accuracy on the batch, both weights, images/s) and a final summary line.
Ctrl-C saves a checkpoint and exits; --resume CKPT continues from it exactly.
--steps overrides the config's total step count.
`;

export async function trainCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { config: { type: 'string' }, resume: { type: 'string' }, steps: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (!args) return;
  const configPath = requireString(args.values.config, '--config FILE.json');
  const trainer = await Trainer.create(configPath, { resume: args.values.resume as string | undefined });
  if (args.values.steps !== undefined) {
    const steps = Number(args.values.steps);
    if (!Number.isInteger(steps) || steps < 0) throw new UsageError('--steps must be a non-negative integer');
    trainer.config.steps = steps;
  }
  const json = Boolean(args.values.json);
  const bar = new Progress(`train stage ${trainer.config.stage}`, trainer.config.steps, !json && Boolean(process.stderr.isTTY));
  for (let i = 0; i < trainer.stepsDone; i++) bar.tick();
  let logged = trainer.stepsDone;
  trainer.on('progress', (log) => {
    if (json) process.stdout.write(`${JSON.stringify(log)}\n`);
    const f = (v: number | null, d = 2) => (v === null ? '-' : v.toFixed(d));
    while (logged < log.step + 1) {
      bar.tick(`loss ${f(log.loss, 3)} bpp ${f(log.bpp, 3)} PSNR full ${f(log.psnrFull)} prot ${f(log.psnrProtected)} acc ${f(log.attackAccuracy)}`);
      logged++;
    }
    if (!json && !process.stderr.isTTY) process.stderr.write(`step ${log.step + 1}: ${JSON.stringify(log)}\n`);
  });
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\npsic train: stopping after this step and saving a checkpoint (Ctrl-C again to abort)\n');
    trainer.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await trainer.run();
    bar.finish();
    const summary = { ...result, keySalt: trainer.keySalt };
    if (json) process.stdout.write(`${JSON.stringify({ done: summary })}\n`);
    else process.stderr.write(result.stopped ? `stopped at step ${result.steps}; checkpoint ${result.checkpoint} (resume with --resume)\n`
      : `trained ${result.steps} steps; model ${result.output}, checkpoint ${result.checkpoint}\n`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
