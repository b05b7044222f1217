// psic compress / decompress / info.
import { writeFileAtomic } from '../io/atomic-write.js';
import { Codec, type CodecLoadOptions } from '../codec/codec.js';
import { readContainerFile } from '../codec/container-file.js';
import { writePng } from '../io/image-io.js';
import { type Key, type KeyFileContent, keyBytes, readAnyKeyFile, readKeyText, recipientBytes } from '../keys.js';
import { UsageError, backgroundFlag, deviceFlag, intFlag, onePositional, parse, refuseOutputOverInput, requireString, threadsFlag } from './usage.js';

export const common = {
  model: { type: 'string', short: 'm' },
  output: { type: 'string', short: 'o' },
  compat: { type: 'boolean' },
  threads: { type: 'string' },
  device: { type: 'string' },
  'pixel-limit': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Codec.load's options from the shared flags (--compat, --threads, --device, --pixel-limit); bad values are usage errors. */
export function loadOptionsOf(values: { compat?: boolean; threads?: unknown; device?: unknown; 'pixel-limit'?: unknown }): CodecLoadOptions {
  return {
    path: values.compat ? 'compat' : 'fast',
    threads: threadsFlag(values.threads),
    device: deviceFlag(values.device),
    pixelLimit: intFlag(values['pixel-limit'], '--pixel-limit', 1, Number.MAX_SAFE_INTEGER),
  };
}

/** --background: compress and compress-dir. */
export const backgroundOption = { background: { type: 'string' } } as const;

const COMPRESS_HELP = `Usage: psic compress IN -o OUT.psic --model M [--key-file F | --key K] [--seal [--recipient PUB]...] [--background C] [--compat] [--threads N] [--device D] [--pixel-limit N] [--json]

Compresses an image (PNG, JPEG, WebP, AVIF, TIFF...) into a .psic container.
  --model, -m   model file: a psic .safetensors model or a CompressAI .pth/.pth.tar checkpoint
  --output, -o  output .psic path (written atomically; never the input itself)
  --key-file F, --key K
                the owner's key (PSIC models): the container gets a key check, so that a
                decompress with a wrong key fails instead of giving a plausible image
  --seal        seal the file (needs the owner's key): the public bytes hold only the protected
                image; the full image is encrypted and opens only with the owner's key or a
                recipient's secret key
  --recipient PUB
                also let this X25519 public key open it ('psic-x25519:…' or a .pub file from
                'psic keygen --x25519'); repeatable
  --background C  the colour transparent pixels are flattened onto (default white; e.g. black,
                '#ff8800', 'rgb(0,0,0)'): what is under a transparent pixel never shows
  --compat      CompressAI's exact op sequence (with PSIC_THREADS=1: byte-identical to CompressAI)
  --threads     LibTorch threads (default PSIC_THREADS, else all cores)
  --device D    where the transforms run: cpu (default), cuda, cuda:N (a CUDA build of psic);
                entropy coding stays on the CPU, so containers decode alike on any device
  --pixel-limit N
                the most pixels an image may have (default: what half of this machine's RAM decodes)
  --json        print a JSON summary
`;

const DECOMPRESS_HELP = `Usage: psic decompress IN.psic -o OUT.png --model M [--key-file F | --key K] [--compat] [--threads N] [--device D] [--pixel-limit N] [--json]

Decompresses a .psic container to a PNG. The model must be the one that made the container.
With a PSIC model, the decode is the protected one unless the owner's key is given:
  --key-file F  a key file from 'psic keygen', or (sealed files) a recipient's X25519 secret
                key from 'psic keygen --x25519' (a warning, on stderr and in --json's warnings,
                when group or others can read it: chmod 600 F)
  --key K       the key as hex
A container compressed with the key carries a key check, and a sealed one its lock: a wrong key
then fails (exit 1, no output file). --pixel-limit N raises or lowers the most pixels a container
may have. The output is never the input (nor the model or the key file): that is a usage error.
`;

const INFO_HELP = `Usage: psic info IN.psic [--json]

Prints a container's header (checked, checksum included) and the size and SHA-256 of its
entropy-coded strings; for a sealed file, its sections and recipients. Needs no model.
`;

export const keyOptions = { 'key-file': { type: 'string' }, key: { type: 'string' } } as const;

/**
 * --key-file F (an owner key, or an X25519 secret key) or --key K (an owner key, hex), if any.
 * Warnings (a key file group or others can read) go to stderr now and into `warnings` for --json.
 */
export async function keyFileOption(values: Record<string, unknown>, warnings: string[] = []): Promise<KeyFileContent | undefined> {
  if (values['key-file'] !== undefined && values.key !== undefined) throw new UsageError('give --key-file or --key, not both');
  if (values['key-file'] !== undefined) {
    return readAnyKeyFile(values['key-file'] as string, {
      onWarning: (w) => {
        warnings.push(w);
        process.stderr.write(`psic: warning: ${w}\n`);
      },
    });
  }
  return values.key === undefined ? undefined : { kind: 'owner', key: keyBytes(values.key as string) };
}

/** The owner's key of --key-file F or --key K, if any (an X25519 secret key is a usage error here). */
export async function keyOption(values: Record<string, unknown>, warnings: string[] = []): Promise<Key | undefined> {
  const content = await keyFileOption(values, warnings);
  if (content?.kind === 'x25519') throw new UsageError(`--key-file '${values['key-file']}' is an X25519 secret key: it opens sealed files (decompress), it cannot make them`);
  return content?.key;
}

/** --recipient PUB (repeatable): 'psic-x25519:…' or a .pub file holding it. */
export async function recipientsOption(values: unknown): Promise<Uint8Array[]> {
  const list = (values as string[] | undefined) ?? [];
  return Promise.all(list.map(async (r) => recipientBytes(r.startsWith('psic-x25519:') ? r : (await readKeyText(r)).trim())));
}

/** A .psic file, read only as far as its header declares (a regular file, checked size). */
export const readContainer = readContainerFile;

export async function compressCommand(argv: string[]): Promise<void> {
  const args = parse(argv, { ...common, ...keyOptions, ...backgroundOption, seal: { type: 'boolean' }, recipient: { type: 'string', multiple: true } }, COMPRESS_HELP);
  if (!args) return;
  const input = onePositional(args.positionals, 'input image');
  const output = requireString(args.values.output, '-o OUT.psic');
  const model = requireString(args.values.model, '--model M');
  const loadOptions = loadOptionsOf(args.values);
  const background = backgroundFlag(args.values.background);
  await refuseOutputOverInput(output, [input, model, ...(typeof args.values['key-file'] === 'string' ? [args.values['key-file']] : [])]);
  const key = await keyOption(args.values);
  const recipients = await recipientsOption(args.values.recipient);
  if (args.values.seal && key === undefined) throw new UsageError("--seal needs the owner's key (--key-file F or --key K)");
  if (recipients.length > 0 && !args.values.seal) throw new UsageError('--recipient needs --seal');
  const codec = await Codec.load(model, loadOptions);
  const stats = await codec.compressWithStats(input, args.values.seal ? { estimate: false, background, seal: { key: key!, recipients } } : { estimate: false, background, key });
  await writeFileAtomic(output, stats.container);
  if (args.values.json) {
    const { container, ...rest } = stats;
    const sealed = Boolean(args.values.seal);
    process.stdout.write(`${JSON.stringify({ input, output, bytes: container.length, modelId: codec.modelId, keyCheck: key !== undefined && !sealed, sealed, recipients: recipients.length, ...rest })}\n`);
  } else {
    process.stdout.write(`${output}: ${stats.width}x${stats.height}, ${stats.container.length} bytes, ${stats.bpp.toFixed(4)} bpp${args.values.seal ? `, sealed (${recipients.length} recipient(s))` : ''}\n`);
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
  const keyFile = await keyFileOption(args.values, warnings);
  const key = keyFile?.kind === 'owner' ? keyFile.key : undefined;
  const identity = keyFile?.kind === 'x25519' ? keyFile.secretKey : undefined;
  const bytes = await readContainer(input);
  const codec = await Codec.load(model, loadOptions);
  const { image, timings } = await codec.decompressWithTimings(bytes, { key, identity });
  await writePng(image as { data: Uint8Array; width: number; height: number }, output);
  if (args.values.json) {
    const decode = codec.conditionDim === 0 ? 'single' : keyFile === undefined ? 'protected' : 'full';
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
      `key check    ${info.keyCheck ? 'yes (a wrong key is refused)' : 'no'}`,
      ...(info.seal ? [`sealed       yes: public ${info.seal.publicBytes} bytes, sealed ${info.seal.sealedBytes} bytes (${info.seal.coding}), ${info.seal.recipients} recipient(s)`] : []),
      `checksum     ${info.checksum.toString(16).padStart(8, '0')} (CRC-32, verified)`,
    ].join('\n') + '\n',
  );
}
