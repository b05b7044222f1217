// psic compress-dir / decompress-dir: every image (container) of a directory through the batch
// pool of src/codec/batch.ts, mirrored by name into another directory. One file failing is reported
// and the rest go on; outputs are written atomically, so a killed run leaves only complete files
// (and its temp files, removed by the next run), and --resume skips what is already done.
import { open, readdir, rm, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';

import { writeFileAtomic } from '../io/atomic-write.js';
import { type BatchItem, runBatch, threadpoolSize } from '../codec/batch.js';
import { Codec } from '../codec/codec.js';
import { PsicError, PsicInputError } from '../errors.js';
import { type Background, writePng } from '../io/image-io.js';
import { maxImageFileBytes, readRegularFile } from '../io/read-file.js';
import { bpp } from '../evaluate/metrics.js';
import { Progress } from '../io/progress.js';
import { backgroundOption, common, keyFileOption, keyOptions, loadOptionsOf, readContainer } from './codec-commands.js';
import {
  type Options, backgroundFlag, ensureWritableDir, intFlag, onePositional, parse, refuseOutputDirIsInputDir, refuseOutputOverInput, requireString,
} from './usage.js';

const batchOptions = {
  ...common,
  concurrency: { type: 'string' },
  resume: { type: 'boolean' },
} as const;

const compressDirOptions = { ...batchOptions, ...backgroundOption } as const;

const SHARED_HELP = `  --model, -m      the model file (for decompress-dir: the one that made the containers)
  --output, -o     output directory (created when missing, checked writable before any file;
                   not the input directory); names mirror the inputs'
  --concurrency N  files at once (default: min(cores, UV_THREADPOOL_SIZE, default 4)); the
                   LibTorch threads are split between them: threads-per-job = max(1, threads / N)
  --threads N      LibTorch threads in all (default PSIC_THREADS, else all cores)
  --resume         skip files whose output is already complete (a valid container of this model /
                   a whole PNG); missing or partial outputs are redone
  --compat         CompressAI's exact op sequence
  --device D       cpu (default), cuda, cuda:N: where the transforms run (files go one per forward
                   here; the API's compressMany groups them with batchSize)
  --json           print a JSON summary on stdout (files ok/failed/skipped, bytes, bpp, seconds, images/s)
Exit status 1 when any file failed (each is reported on stderr; the others are still done).
A progress bar goes to stderr on a TTY.
`;

const COMPRESS_DIR_HELP = `Usage: psic compress-dir IN_DIR -o OUT_DIR --model M [--background C] [--concurrency N] [--threads N] [--device D] [--resume] [--compat] [--json]

Compresses every image in IN_DIR (PNG, JPEG, WebP, AVIF, TIFF, GIF; not recursive) into
OUT_DIR/NAME.psic (a.png -> a.psic).
  --background C   the colour transparent pixels are flattened onto (default white)
${SHARED_HELP}`;

const DECOMPRESS_DIR_HELP = `Usage: psic decompress-dir IN_DIR -o OUT_DIR --model M [--key-file F | --key K] [--concurrency N] [--threads N] [--device D] [--resume] [--compat] [--json]

Decompresses every .psic container in IN_DIR into OUT_DIR/NAME.png (a.psic -> a.png): the
protected decode, or the full one with the owner's key (--key-file F, --key K). --resume cannot
tell a protected PNG from a full one: use separate output directories.
${SHARED_HELP}`;

interface FileResult {
  skipped: boolean;
  inBytes: number;
  outBytes: number;
  width: number;
  height: number;
}

interface DirKind {
  command: 'compress-dir' | 'decompress-dir';
  accepts: RegExp;
  outExt: string;
  /** Does the work for one file and writes its output atomically. */
  process(codec: Codec, input: string, output: string, threads: number, background?: Background): Promise<Omit<FileResult, 'skipped'>>;
  /** Whether an existing output is complete (--resume skips it). */
  isComplete(codec: Codec, output: string): Promise<boolean>;
  /** Refuses misuse (e.g. a key for a model that takes none) once, before any file. */
  validate?(codec: Codec): void;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// A PNG ends with an empty IEND chunk: length 0, type, CRC.
const PNG_IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

async function isCompletePng(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < PNG_SIGNATURE.length + PNG_IEND.length) return false;
    const head = Buffer.alloc(PNG_SIGNATURE.length);
    const tail = Buffer.alloc(PNG_IEND.length);
    await handle.read(head, 0, head.length, 0);
    await handle.read(tail, 0, tail.length, size - tail.length);
    return head.equals(PNG_SIGNATURE) && tail.equals(PNG_IEND);
  } finally {
    await handle.close();
  }
}

const compressKind: DirKind = {
  command: 'compress-dir',
  accepts: /\.(png|jpe?g|webp|avif|tiff?|gif)$/i,
  outExt: '.psic',
  async process(codec, input, output, threads, background) {
    const bytes = await readRegularFile(input, { maxBytes: maxImageFileBytes(codec.pixelLimit), what: 'input' });
    const stats = await codec.compressWithStats(bytes, { estimate: false, threads, background });
    await writeFileAtomic(output, stats.container);
    return { inBytes: bytes.length, outBytes: stats.container.length, width: stats.width, height: stats.height };
  },
  async isComplete(codec, output) {
    return Codec.inspect(await readContainer(output)).modelId === codec.modelId;
  },
};

function decompressKind(keyFile: Awaited<ReturnType<typeof keyFileOption>>): DirKind {
  // The owner's key, or (sealed files) a recipient's X25519 secret key.
  const key = keyFile?.kind === 'owner' ? keyFile.key : undefined;
  const identity = keyFile?.kind === 'x25519' ? keyFile.secretKey : undefined;
  return {
    command: 'decompress-dir',
    accepts: /\.psic$/i,
    outExt: '.png',
    async process(codec, input, output, threads) {
      const bytes = await readContainer(input);
      const { image } = await codec.decompressWithTimings(bytes, { key, identity, threads });
      await writePng(image as { data: Uint8Array; width: number; height: number }, output);
      const { size } = await stat(output);
      return { inBytes: bytes.length, outBytes: size, width: image.width, height: image.height };
    },
    isComplete: (_codec, output) => isCompletePng(output),
    validate(codec) {
      if (key !== undefined) codec.conditionFor(key);
    },
  };
}

/** The inputs of IN_DIR (sorted) and their outputs; two inputs with one output is refused up front. */
async function listInputs(inDir: string, outDir: string, kind: DirKind): Promise<{ name: string; input: string; output: string }[]> {
  let entries;
  try {
    entries = await readdir(inDir, { withFileTypes: true });
  } catch (err) {
    throw new PsicInputError(`cannot read directory '${inDir}': ${(err as Error).message}`);
  }
  const names = entries.filter((e) => e.isFile() && !e.name.startsWith('.') && kind.accepts.test(e.name)).map((e) => e.name).sort();
  const byOutput = new Map<string, string>();
  return names.map((name) => {
    const outName = basename(name, extname(name)) + kind.outExt;
    const other = byOutput.get(outName);
    if (other !== undefined) throw new PsicInputError(`'${other}' and '${name}' would both be written to '${outName}'; rename one`);
    byOutput.set(outName, name);
    return { name, input: join(inDir, name), output: join(outDir, outName) };
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temp files (src/io/atomic-write.ts names) of these outputs left by runs that were killed. */
async function removeStaleTempFiles(outDir: string, outputs: Set<string>): Promise<void> {
  for (const name of await readdir(outDir)) {
    const m = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name);
    if (m && outputs.has(m[1]) && Number(m[2]) !== process.pid && !isAlive(Number(m[2]))) {
      await rm(join(outDir, name), { force: true });
    }
  }
}

const errorLine = (err: Error) => (err instanceof PsicError ? `${err.code}: ${err.message}` : err.message);
const round = (x: number, digits: number) => Number(x.toFixed(digits));

async function dirCommand(argv: string[], help: string, options: Options,
                          kindFor: (values: Record<string, unknown>, warnings: string[]) => Promise<DirKind>): Promise<void> {
  const args = parse(argv, options, help);
  if (!args) return;
  const values = args.values as Record<string, unknown>;
  const inDir = onePositional(args.positionals, 'input directory');
  const outDir = requireString(values.output, '-o OUT_DIR');
  const modelPath = requireString(values.model, '--model M');
  // Every flag value is checked first (usage errors), then the paths, then the model loads.
  const concurrency = intFlag(values.concurrency, '--concurrency', 1, 1024);
  const loadOptions = loadOptionsOf(values);
  const background = backgroundFlag(values.background);
  await refuseOutputDirIsInputDir(outDir, inDir);
  const warnings: string[] = [];
  const kind = await kindFor(values, warnings);
  const files = await listInputs(inDir, outDir, kind);
  // An output that is an input by a symlink (out/a.psic -> in/a.psic) is refused too.
  for (const f of files) await refuseOutputOverInput(f.output, [f.input]);
  // Before any job: a folder that cannot be written would fail every file after its work.
  const outFolder = await ensureWritableDir(outDir);
  let codec: Codec;
  try {
    codec = await Codec.load(modelPath, loadOptions);
    kind.validate?.(codec);
  } catch (err) {
    await outFolder.undo();  // nothing left behind by a run that did no work
    throw err;
  }
  const plan = codec.planBatch({ concurrency });
  if (concurrency !== undefined && concurrency > plan.concurrency) {
    // Said, not silent: more jobs than libuv pool threads would only queue.
    process.stderr.write(`psic: running ${plan.concurrency} files at once, not ${concurrency}: the libuv threadpool has ${threadpoolSize()} threads (set UV_THREADPOOL_SIZE to raise it)\n`);
  }
  await removeStaleTempFiles(outDir, new Set(files.map((f) => basename(f.output))));

  const json = Boolean(values.json);
  const progress = new Progress(kind.command, files.length, !json && Boolean(process.stderr.isTTY));
  const t0 = performance.now();
  const job = async (i: number): Promise<FileResult> => {
    const { input, output } = files[i];
    if (values.resume && (await kind.isComplete(codec, output).catch(() => false))) {
      return { skipped: true, inBytes: 0, outBytes: 0, width: 0, height: 0 };
    }
    return { skipped: false, ...(await kind.process(codec, input, output, plan.threadsPerJob, background)) };
  };
  const items: BatchItem<FileResult>[] = [];
  for await (const item of runBatch(files.keys(), job, plan, { ordered: false })) {
    items[item.index] = item;
    progress.tick(files[item.index].name);
    if (!item.ok) progress.log(`psic: ${files[item.index].input}: ${errorLine(item.error)}`);
  }
  progress.finish();
  const seconds = (performance.now() - t0) / 1000;

  const done = items.flatMap((it) => (it.ok && !it.value.skipped ? [it.value] : []));
  const failures = items.flatMap((it, i) => (it.ok ? [] : [{ file: files[i].input, code: (it.error as PsicError).code ?? 'Error', message: it.error.message }]));
  const skipped = items.filter((it) => it.ok && it.value.skipped).length;
  const sum = (f: (r: FileResult) => number) => done.reduce((a, r) => a + f(r), 0);
  const pixels = sum((r) => r.width * r.height);
  // bpp of the containers: written by compress-dir, read by decompress-dir.
  const containerBytes = sum((r) => (kind.command === 'compress-dir' ? r.outBytes : r.inBytes));
  const summary = {
    command: kind.command,
    input: inDir,
    output: outDir,
    modelId: codec.modelId,
    concurrency: plan.concurrency,
    threadsPerJob: plan.threadsPerJob,
    files: { total: files.length, ok: done.length, failed: failures.length, skipped },
    bytes: { input: sum((r) => r.inBytes), output: sum((r) => r.outBytes) },
    pixels,
    bpp: pixels > 0 ? round(bpp(containerBytes, pixels, 1), 4) : null,
    seconds: round(seconds, 3),
    imagesPerS: round(done.length / seconds, 3),
    megapixelsPerS: round(pixels / 1e6 / seconds, 3),
    failures,
    warnings,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const verb = kind.command === 'compress-dir' ? 'compressed' : 'decompressed';
    process.stdout.write(
      `${outDir}: ${verb} ${done.length} of ${files.length} files (${failures.length} failed, ${skipped} skipped)` +
        (pixels > 0 ? `, ${summary.bpp} bpp, ${summary.seconds} s, ${summary.imagesPerS} images/s` : '') + '\n',
    );
  }
  if (failures.length > 0) throw new PsicError(`${failures.length} of ${files.length} files failed`);
}

export function compressDirCommand(argv: string[]): Promise<void> {
  return dirCommand(argv, COMPRESS_DIR_HELP, compressDirOptions, async () => compressKind);
}

export function decompressDirCommand(argv: string[]): Promise<void> {
  return dirCommand(argv, DECOMPRESS_DIR_HELP, { ...batchOptions, ...keyOptions }, async (values, warnings) => decompressKind(await keyFileOption(values, warnings)));
}
