// `psic train --nproc N`: N ranks of one data-parallel run as local processes on 127.0.0.1.
// Rank 0's output is the run's (progress bar, --json lines); the other ranks print only their
// errors, prefixed with their rank. The first rank to fail ends the run: the rest are stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import { PsicDistributedError, PsicInputError } from '../errors.js';

export interface LaunchOptions {
  /** The number of ranks (processes). */
  nproc: number;
  /** What every rank's `psic train` gets (--config F [--steps N] [--json]...), without the rank flags. */
  args: string[];
  /** The rendezvous port on 127.0.0.1 (default: a free one). */
  port?: number;
}

const CLI = fileURLToPath(new URL('../../bin/psic.js', import.meta.url));

/** A port the kernel hands out now (closed again: a later bind can race, which the rendezvous reports). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Prefixes each line of a rank's stderr, so interleaved ranks stay readable. */
function forwardLines(child: ChildProcess, prefix: string): void {
  let pending = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) process.stderr.write(`${prefix}${line}\n`);
  }).on('end', () => { if (pending) process.stderr.write(`${prefix}${pending}\n`); });
}

/**
 * Runs the ranks to completion. Resolves when all exited 0; rejects with PsicDistributedError
 * naming the first rank that failed (the others are then sent SIGTERM).
 */
export async function launchRanks(options: LaunchOptions): Promise<void> {
  const { nproc, args } = options;
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > 1024) throw new PsicInputError('nproc must be an integer in [1, 1024]');
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new PsicInputError('args must be an array of strings');
  const port = options.port ?? await freePort();
  const master = `127.0.0.1:${port}`;
  const alive = new Set<ChildProcess>();
  const killAll = (signal: NodeJS.Signals) => { for (const c of alive) c.kill(signal); };
  // The ranks run in their own process groups, so a terminal's Ctrl-C reaches only this process,
  // which passes on one SIGINT per Ctrl-C (the first stops every rank after the same step).
  const onSigint = () => killAll('SIGINT');
  const onExit = () => killAll('SIGKILL');
  process.on('SIGINT', onSigint);
  process.on('exit', onExit);
  try {
    let failure: string | undefined;
    const exits = [];
    for (let rank = 0; rank < nproc; rank++) {
      const child = spawn(process.execPath, [CLI, 'train', ...args, '--world-size', String(nproc), '--rank', String(rank), '--master', master], {
        stdio: rank === 0 ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      if (rank > 0) forwardLines(child, `[rank ${rank}] `);
      alive.add(child);
      exits.push(new Promise<void>((done) => {
        child.on('error', (err) => {
          failure ??= `rank ${rank} could not start: ${err.message}`;
          killAll('SIGTERM');
        });
        child.on('close', (code, signal) => {
          alive.delete(child);
          if (code !== 0 && failure === undefined) {
            failure = `rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; the other ranks were stopped`;
            killAll('SIGTERM');
          }
          done();
        });
      }));
    }
    await Promise.all(exits);
    if (failure !== undefined) throw new PsicDistributedError(failure);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('exit', onExit);
  }
}
