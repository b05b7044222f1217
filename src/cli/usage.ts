// What every command shares: argument parsing, usage errors, and turning failures into one
// clear line on stderr with a non-zero exit.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { PsicConfigError, PsicError } from '../errors.js';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: Options, help: string) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help);
    return undefined;
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Lets a list flag take several values in a row (`--models A B C`): rewrites them as repeated
 * flags (`--models A --models B --models C`) for parseArgs' `multiple: true`.
 */
export function expandListFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  let list: string | undefined;
  for (const arg of argv) {
    if (arg.startsWith('-')) {
      list = flags.includes(arg.replace(/^--/, '')) ? arg : undefined;
      if (list) continue;
    } else if (list) {
      out.push(list, arg);
      continue;
    }
    out.push(arg);
  }
  return out;
}

export function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`missing ${flag}`);
  return value;
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${positionals.length}`);
  return positionals[0];
}

/** Runs a command; maps errors to exit codes: 2 usage (bad flags, a bad config file), 1 everything else. */
export async function runCommand(fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`psic: ${err.message} (see --help)\n`);
      return 2;
    }
    if (err instanceof PsicError) {
      process.stderr.write(`psic: ${err.code}: ${err.message}\n`);
      return err instanceof PsicConfigError ? 2 : 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      process.stderr.write(`psic: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`psic: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

/** Dispatches `psic GROUP SUB ...` to one of `subs`; no SUB prints the help and is a usage error. */
export async function runSubcommand(group: string, argv: string[], help: string,
                                    subs: Record<string, (argv: string[]) => Promise<void>>): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(help);
    if (sub === undefined) throw new UsageError(`missing subcommand (${Object.keys(subs).join(', ')})`);
    return;
  }
  const fn = subs[sub];
  if (!fn) throw new UsageError(`unknown ${group} subcommand '${sub}'`);
  await fn(rest);
}
