// psic compress / decompress / info.
import { readFile } from 'node:fs/promises';

import { writeFileAtomic } from '../io/atomic-write.js';
import { Codec, type CodecLoadOptions } from '../codec/codec.js';
import { PsicInputError } from '../errors.js';
import { writePng } from '../io/image-io.js';
import { type Key, readKeyFile } from '../keys.js';
import { UsageError, backgroundFlag, deviceFlag, onePositional, parse, refuseOutputOverInput, requireString, threadsFlag } from './usage.js';

export const common = {
  model: { type: 'string', short: 'm' },
  output: { type: 'string', short: 'o' },
  compat: { type: 'boolean' },
  threads: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Codec.load's options from the shared flags (--compat, --threads, --device); bad values are usage errors. */
export function loadOptionsOf(values: { compat?: boolean; threads?: unknown; device?: unknown }): CodecLoadOptions {
  return { path: values.compat ? 'compat' : 'fast', threads: threadsFlag(values.threads), device: deviceFlag(values.device) };
}

/** --background: compress and compress-dir. */
export const backgroundOption = { background: { type: 'string' } } as const;

const COMPRESS_HELP = `Usage: psic compress IN -o OUT.psic --model M [--background C] [--compat] [--threads N] [--device D] [--json]

Compresses an image (PNG, JPEG, WebP, AVIF, TIFF...) into a .psic container.
  --model, -m   model file: a psic .safetensors model or a CompressAI .pth/.pth.tar checkpoint
  --output, -o  output .psic path (written atomically; never the input itself)
  --background C  the colour transparent pixels are flattened onto (default white; e.g. black,
                '#ff8800', 'rgb(0,0,0)'): what is under a transparent pixel never shows
  --compat      CompressAI's exact op sequence (with PSIC_THREADS=1: byte-identical to CompressAI)
  --threads     LibTorch threads (default PSIC_THREADS, else all cores)
  --device D    where the transforms run: cpu (default), cuda, cuda:N (a CUDA build of psic);
                entropy coding stays on the CPU, so containers decode alike on any device
  --json        print a JSON summary
`;

const DECOMPRESS_HELP = `Usage: psic decompress IN.psic -o OUT.png --model M [--key-file F | --key K] [--compat] [--threads N] [--device D] [--json]

Decompresses a .psic container to a PNG. The model must be the one that made the container.
With a PSIC model, the decode is the protected one unless the owner's key is given:
  --key-file F  a key file from 'psic keygen' (a warning, on stderr and in --json's warnings,
                when group or others can read it: chmod 600 F)
  --key K       the key as hex
The output is never the input (nor the model or the key file): that is a usage error.
`;

const INFO_HELP = `Usage: psic info IN.psic [--json]

Prints a container's header (checked, checksum included) and the size and SHA-256 of its
entropy-coded strings. Needs no model.
`;

export const keyOptions = { 'key-file': { type: 'string' }, key: { type: 'string' } } as const;

/**
 * The key of --key-file F or --key K (hex), if any. Warnings (a key file group or others can
 * read) go to stderr now and into `warnings` for the --json output.
 */
export async function keyOption(values: Record<string, unknown>, warnings: string[] = []): Promise<Key | undefined> {
  if (values['key-file'] !== undefined && values.key !== undefined) throw new UsageError('give --key-file or --key, not both');
  if (values['key-file'] !== undefined) {
    return readKeyFile(values['key-file'] as string, {
      onWarning: (w) => {
        warnings.push(w);
        process.stderr.write(`psic: warning: ${w}\n`);
      },
    });
  }
  return values.key as string | undefined;
}

export async function readContainer(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new PsicInputError(`cannot read '${path}': ${(err as Error).message}`);
  }
}

export async function compressCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { ...common, ...backgroundOption }, COMPRESS_HELP);
  if (!args) return;
  const input = onePositional(args.positionals, 'input image');
  const output = requireString(args.values.output, '-o OUT.psic');
  const model = requireString(args.values.model, '--model M');
  const loadOptions = loadOptionsOf(args.values);
  const background = backgroundFlag(args.values.background);
  await refuseOutputOverInput(output, [input, model]);
  const codec = await Codec.load(model, loadOptions);
  const stats = await codec.compressWithStats(input, { estimate: false, background });
  await writeFileAtomic(output, stats.container);
  if (args.values.json) {
    const { container, ...rest } = stats;
    process.stdout.write(`${JSON.stringify({ input, output, bytes: container.length, modelId: codec.modelId, ...rest })}\n`);
  } else {
    process.stdout.write(`${output}: ${stats.width}x${stats.height}, ${stats.container.length} bytes, ${stats.bpp.toFixed(4)} bpp\n`);
  }
}

export async function decompressCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { ...common, ...keyOptions }, DECOMPRESS_HELP);
  if (!args) return;
  const input = onePositional(args.positionals, 'input .psic file');
  const output = requireString(args.values.output, '-o OUT.png');
  const model = requireString(args.values.model, '--model M');
  const loadOptions = loadOptionsOf(args.values);
  await refuseOutputOverInput(output, [input, model, ...(typeof args.values['key-file'] === 'string' ? [args.values['key-file']] : [])]);
  const warnings: string[] = [];
  const key = await keyOption(args.values, warnings);
  const bytes = await readContainer(input);
  const codec = await Codec.load(model, loadOptions);
  const { image, timings } = await codec.decompressWithTimings(bytes, { key });
  await writePng(image as { data: Uint8Array; width: number; height: number }, output);
  if (args.values.json) {
    const decode = codec.conditionDim === 0 ? 'single' : key === undefined ? 'protected' : 'full';
    process.stdout.write(`${JSON.stringify({ input, output, width: image.width, height: image.height, decode, timings, warnings })}\n`);
  } else {
    process.stdout.write(`${output}: ${image.width}x${image.height}\n`);
  }
}

export async function infoCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { json: { type: 'boolean' } }, INFO_HELP);
  if (!args) return;
  const input = onePositional(args.positionals, 'input .psic file');
  const info = Codec.inspect(await readContainer(input));
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const p = info.padding;
  process.stdout.write(
    [
      `file         ${input} (${info.totalBytes} bytes, format version ${info.version})`,
      `model id     ${info.modelId}`,
      `image        ${info.width}x${info.height}, padding l${p.left} r${p.right} t${p.top} b${p.bottom}`,
      `latents      y ${info.yShape.join('x')}, z ${info.zShape.join('x')}`,
      ...info.strings.map((s) => `string ${s.name}     ${s.bytes} bytes, sha256 ${s.sha256}`),
      `checksum     ${info.checksum.toString(16).padStart(8, '0')} (CRC-32, verified)`,
    ].join('\n') + '\n',
  );
}
