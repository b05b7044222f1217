// psic clip tokenize | embed.
import { Clip, type Features } from '../targets/clip.js';
import { tokenizeTexts } from '../targets/clip-tokenize.js';
import { PsicInputError } from '../errors.js';
import { readRegularFile } from '../io/read-file.js';
import { UsageError, parse, requireString, runSubcommand, shapeFlag } from './usage.js';

const HELP = `Usage:
  psic clip tokenize TEXT [TEXT...] [--json] [--vocab V]
      CLIP token ids, 77 per text (SOT/EOT, padded, truncated like clip.tokenize(truncate=True))
  psic clip embed --model M (--image-tensor F.bin --shape B,3,H,W | --image P...) [--text T]... [--json] [--vocab V]
      unnormalised image/text features (as encode_image/encode_text return them), plus
      logits_per_image and logits_per_text when both are given. --image-tensor takes raw
      little-endian float32, already preprocessed.
The vocabulary comes from --vocab, $PSIC_ASSETS, ~/.cache/psic or the shared assets.
`;

const rows = (f: Features) => Array.from({ length: f.shape[0] }, (_, i) => Array.from(f.data.subarray(i * f.shape[1], (i + 1) * f.shape[1])));

async function tokenize(argv: string[]): Promise<void> {
  const args = parse(argv, { json: { type: 'boolean' }, vocab: { type: 'string' } }, HELP);
  if (!args) return;
  if (args.positionals.length === 0) throw new UsageError('give at least one TEXT');
  // The tokenizer needs no weights: a 77-token context, as every released CLIP.
  const ids = tokenizeTexts(args.positionals, args.values.vocab as string | undefined);
  process.stdout.write(args.values.json ? `${JSON.stringify({ ids })}\n` : ids.map((r) => r.join(' ')).join('\n') + '\n');
}

async function embed(argv: string[]): Promise<void> {
  const args = parse(
    argv,
    {
      model: { type: 'string' },
      'image-tensor': { type: 'string' },
      shape: { type: 'string' },
      image: { type: 'string', multiple: true },
      text: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      vocab: { type: 'string' },
    },
    HELP,
  );
  if (!args) return;
  const model = requireString(args.values.model, '--model M');
  const tensorFile = args.values['image-tensor'] as string | undefined;
  const shape = tensorFile === undefined ? undefined : shapeFlag(requireString(args.values.shape, '--shape B,3,H,W'), '--shape', 'B,3,H,W', 4);
  if (shape && shape[1] !== 3) throw new UsageError(`--shape must be B,3,H,W, got '${args.values.shape}'`);
  const clip = await Clip.load(model, { vocab: args.values.vocab as string | undefined });
  const out: Record<string, number[][]> = {};
  let imageFeatures: Features | undefined;
  let textFeatures: Features | undefined;
  if (tensorFile !== undefined && shape) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bytes = await readRegularFile(tensorFile, { maxBytes: n * 4, what: '--image-tensor' });
    if (bytes.length !== n * 4) throw new PsicInputError(`--image-tensor has ${bytes.length} bytes, --shape needs ${n * 4}`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = bytes.readFloatLE(4 * i);
    imageFeatures = await clip.encodeImage({ data, shape: shape as [number, number, number, number] });
  } else if (args.values.image) {
    imageFeatures = await clip.encodeImage(args.values.image as string[]);
  }
  if (args.values.text) textFeatures = await clip.encodeText(args.values.text as string[]);
  if (!imageFeatures && !textFeatures) throw new UsageError('give --image-tensor/--image and/or --text');
  if (imageFeatures) out.image_features = rows(imageFeatures);
  if (textFeatures) out.text_features = rows(textFeatures);
  if (imageFeatures && textFeatures) {
    const lpi = clip.similarity(imageFeatures, textFeatures).map((r) => Array.from(r));
    out.logits_per_image = lpi;
    out.logits_per_text = lpi[0].map((_, j) => lpi.map((r) => r[j]));
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

export async function clipCommand(argv: string[]): Promise<void> {
  await runSubcommand('clip', argv, HELP, { tokenize, embed });
}
