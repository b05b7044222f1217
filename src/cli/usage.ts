// What every command shares: argument parsing, usage errors, and turning failures into one
// clear line on stderr with a non-zero exit.
import { mkdir, realpath, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { PsicConfigError, PsicError, PsicIoError } from '../errors.js';
import { validateBackground, type Background } from '../io/image-io.js';
import { ioError } from '../io/read-file.js';

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

// ---- Flag values: every bad one is a UsageError (exit 2), found before any file is touched ----

const shown = (value: unknown) => (typeof value === 'string' ? `'${value}'` : String(value));

/** An integer flag in [min, max]; undefined when not given. */
export function intFlag(value: unknown, flag: string, min: number, max?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new UsageError(`${flag} must be an integer ${max !== undefined ? `in [${min}, ${max}]` : `>= ${min}`}, got ${shown(value)}`);
  }
  return n;
}

/** A shape flag: `rank` positive integers separated by commas (e.g. --shape 1,224,224,3). */
export function shapeFlag(value: string, flag: string, form: string, rank: number): number[] {
  const dims = value.split(',').map((d) => (/^\s*\d+\s*$/.test(d) ? Number(d) : NaN));
  if (dims.length !== rank || dims.some((d) => !Number.isSafeInteger(d) || d < 1) || !Number.isSafeInteger(dims.reduce((a, b) => a * b, 4))) {
    throw new UsageError(`${flag} must be ${form} (${rank} positive integers), got '${value}'`);
  }
  return dims;
}

/** --threads N: LibTorch threads, 1 to 1024. */
export const threadsFlag = (value: unknown) => intFlag(value, '--threads', 1, 1024);

/** One of a fixed set of names. */
export function choiceFlag<T extends string>(value: unknown, flag: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got ${shown(value)}`);
  return value as T;
}

/** --device cpu | cuda | cuda:N (whether this build has CUDA is checked later, a PsicDeviceError). */
export function deviceFlag(value: unknown): 'cpu' | 'cuda' | `cuda:${number}` | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^(cpu|cuda(:\d{1,3})?)$/.test(value)) throw new UsageError(`--device must be cpu, cuda or cuda:N, got ${shown(value)}`);
  return value as 'cpu' | 'cuda' | `cuda:${number}`;
}

/** --background COLOUR: what transparent pixels are flattened onto. */
export function backgroundFlag(value: unknown): Background | undefined {
  if (value === undefined) return undefined;
  try {
    return validateBackground(value);
  } catch {
    throw new UsageError(`--background must be a colour (white, black, '#rrggbb', 'rgb(r,g,b)'), got ${shown(value)}`);
  }
}

// ---- Outputs that would replace inputs ----------------------------------------------------------

/** Where a path leads, symlinks followed; for a path that does not exist yet, its folder's real path and its name. */
async function resolvedPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    try {
      return join(await realpath(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** Refuses (UsageError) an output file that is one of the inputs: `psic compress a.png -o a.png`. */
export async function refuseOutputOverInput(output: string, inputs: string[]): Promise<void> {
  const out = await resolvedPath(output);
  const outStat = await stat(output).catch(() => undefined);
  for (const input of inputs) {
    const inStat = outStat && (await stat(input).catch(() => undefined));
    // The same path once symlinks are followed, or the same file by another name (a hard link).
    const same = (await resolvedPath(input)) === out || (inStat !== undefined && inStat.dev === outStat!.dev && inStat.ino === outStat!.ino);
    if (same) throw new UsageError(`output '${output}' is the input '${input}': it would be overwritten; write elsewhere`);
  }
}

/** Refuses (UsageError) an output folder that is the input folder, symlinks followed. */
export async function refuseOutputDirIsInputDir(outDir: string, inDir: string): Promise<void> {
  if ((await resolvedPath(outDir)) === (await resolvedPath(inDir))) {
    throw new UsageError(`output folder '${outDir}' is the input folder '${inDir}': its files would be replaced; give another -o folder`);
  }
}

/**
 * Makes the output folder when missing and proves it writable with a real probe file, before
 * any work: otherwise every job would run and then fail to write. PsicIoError naming the folder.
 */
export async function ensureWritableDir(dir: string): Promise<{ undo(): Promise<void> }> {
  const fail = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EEXIST' ? 'it is a file, not a folder'
      : code === 'ENOTDIR' ? 'a part of the path is a file, not a folder'
      : ioError(err, 'write', dir).message.replace(/^cannot write '.*?': /, '');
    return new PsicIoError(`cannot write to output folder '${dir}': ${reason}`);
  };
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fail(err);
  }
  // Removes the folders made here (empty ones only) when the run fails before its first job.
  const undo = async () => {
    if (created === undefined) return;
    const top = resolve(created);
    for (let d = resolve(dir); d.length >= top.length; d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
      if (d === top) return;
    }
  };
  const probe = join(dir, `.psic-write-probe.${process.pid}.tmp`);
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (err) {
    throw fail(err);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  return { undo };
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
