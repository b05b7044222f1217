// psic train --config FILE.json [--resume CKPT] [--steps N] [--json]
//            [--world-size N --rank R --master ADDR:PORT | --nproc N]
import { PsicDistributedError } from '../errors.js';
import { Progress } from '../io/progress.js';
import { launchRanks } from '../training/launch.js';
import { Trainer, type TrainerConfig, prepareKeyFile } from '../training/trainer.js';
import { UsageError, intFlag, parse, requireString } from './usage.js';

const HELP = `Usage: psic train --config FILE.json [--resume CKPT] [--steps N] [--json]
                  [--world-size N --rank R --master ADDR:PORT | --nproc N]

Trains a PSIC model (stage 1 or 2 of the paper, key-bound full decode) as the config says;
see the README's "Training" section for every field. A progress bar shows on a TTY; --json
prints one JSON line per log step (step, stage, mode, losses, bpp, PSNR full/protected/wrong
key, attack accuracy on the batch, both weights, images/s) and a final summary line.
Ctrl-C saves a checkpoint and exits; --resume CKPT continues from it exactly.
--steps overrides the config's total step count.

Data parallel (the config's data.batchSize is the combined batch; each rank trains its part):
  --world-size N --rank R --master ADDR:PORT   run as rank R of N; rank 0 listens on ADDR:PORT
                                               and writes checkpoints and the output
  --nproc N                                    start N ranks on this machine (127.0.0.1, a free
                                               port); rank 0's output is shown, and the run fails
                                               when any rank fails
`;

const integer = (value: unknown, flag: string, min: number) => intFlag(value, flag, min);

export async function trainCommand(argv: string[]): Promise<void> {
  const args = parse(argv, {
    config: { type: 'string' }, resume: { type: 'string' }, steps: { type: 'string' }, json: { type: 'boolean' },
    'world-size': { type: 'string' }, rank: { type: 'string' }, master: { type: 'string' }, nproc: { type: 'string' },
  }, HELP);
  if (!args) return;
  const v = args.values;
  const configPath = requireString(v.config, '--config FILE.json');
  const steps = integer(v.steps, '--steps', 0);
  const worldSize = integer(v['world-size'], '--world-size', 1);
  const rank = integer(v.rank, '--rank', 0);
  const nproc = integer(v.nproc, '--nproc', 1);
  const rankFlags = [worldSize, rank, v.master].filter((x) => x !== undefined).length;
  if (rankFlags !== 0 && rankFlags !== 3) throw new UsageError('--world-size, --rank and --master go together');
  if (nproc !== undefined) {
    if (rankFlags) throw new UsageError('--nproc starts the ranks itself: leave out --world-size, --rank and --master');
    await prepareKeyFile(configPath);
    const forwarded = ['--config', configPath, ...(v.resume ? ['--resume', v.resume as string] : []),
      ...(steps !== undefined ? ['--steps', String(steps)] : []), ...(v.json ? ['--json'] : [])];
    await launchRanks({ nproc, args: forwarded });
    return;
  }
  // --master is checked with the config it joins (distributed.master: ADDR:PORT; PsicConfigError, exit 2).
  if (rankFlags && rank! >= worldSize!) throw new UsageError('--rank must be below --world-size');
  const override = {
    ...(steps !== undefined ? { steps } : {}),
    ...(rankFlags ? { distributed: { worldSize: worldSize!, rank: rank!, master: v.master as string } } : {}),
  };
  try {
    await train(configPath, v.resume as string | undefined, override, Boolean(v.json));
  } catch (err) {
    // A failed rank must exit even if something (a half-dead process group, a prefetch) still
    // holds the event loop: the timer only fires while the loop is alive for another reason.
    if (err instanceof PsicDistributedError) setTimeout(() => process.exit(1), 2000).unref();
    throw err;
  }
}

async function train(configPath: string, resume: string | undefined, override: Partial<TrainerConfig>, json: boolean) {
  const trainer = await Trainer.create(configPath, { resume, override });
  // Distributed: rank 0 speaks for the run (every rank logs the same combined figures).
  const quiet = trainer.rank !== 0;
  const bar = new Progress(`train stage ${trainer.config.stage}`, trainer.config.steps, !json && !quiet && Boolean(process.stderr.isTTY));
  for (let i = 0; i < trainer.stepsDone; i++) bar.tick();
  let logged = trainer.stepsDone;
  trainer.on('progress', (log) => {
    if (quiet) return;
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
    if (!quiet) process.stderr.write('\npsic train: stopping after this step and saving a checkpoint (Ctrl-C again to abort)\n');
    trainer.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await trainer.run();
    bar.finish();
    if (quiet) return;
    const summary = { ...result, keySalt: trainer.keySalt, ...(trainer.worldSize > 1 ? { worldSize: trainer.worldSize } : {}) };
    if (json) process.stdout.write(`${JSON.stringify({ done: summary })}\n`);
    else process.stderr.write(result.stopped ? `stopped at step ${result.steps}; checkpoint ${result.checkpoint} (resume with --resume)\n`
      : `trained ${result.steps} steps; model ${result.output}, checkpoint ${result.checkpoint}\n`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
