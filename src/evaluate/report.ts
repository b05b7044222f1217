// The evaluation report as Markdown tables (report.md, the README's Results) and as one
// self-contained HTML page (report.html: tables and inline SVG plots, viewable offline).
import type { AttackEvalReport, TargetAttackReport } from './attack.js';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)} %`);
const db = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const DECODES = ['backbone', 'full', 'protected', 'wrong-key', 'key-search-pixels', 'key-search-target'];

/** Markdown for `psic eval attack`. */
export function attackMarkdown(r: AttackEvalReport): string {
  const out: string[] = [];
  out.push(`Model \`${r.model}\`, backbone \`${r.backbone}\`; ` +
    Object.entries(r.datasets).map(([k, d]) => `${k}: ${d.n} images of \`${d.dir}\``).join(', ') + '.');
  out.push('### Quality of each decode\n');
  const sets = Object.keys(r.quality);
  out.push(table(['decode', ...sets.flatMap((s) => [`${s} PSNR (dB)`, `${s} bpp`])],
    DECODES.filter((d) => sets.some((s) => r.quality[s][d])).map((d) => [d, ...sets.flatMap((s) => [db(r.quality[s][d]?.psnr), r.quality[s][d]?.bpp?.toFixed(4) ?? '–'])])));
  out.push('\n### Accuracy and ASR per target\n');
  out.push('Accuracy against the labels where they cover the head, else against the target on the original image. ' +
    'ASR: right on the backbone decode, wrong on the decode named.\n');
  const present = DECODES.filter((d) => r.targets.some((t) => t.accuracy[d] !== undefined));
  out.push(table(['target', 'head', 'reference', 'n', 'acc original', ...present.map((d) => `acc ${d}`), ...present.filter((d) => d !== 'backbone').map((d) => `ASR ${d}`)],
    r.targets.flatMap((t) => t.heads.map((h) => [t.target, h.head, h.reference, h.samples, pct(h.accuracy.original),
      ...present.map((d) => pct(h.accuracy[d])), ...present.filter((d) => d !== 'backbone').map((d) => pct(h.asr[d]))]))));
  const robust = r.targets.filter((t) => t.robustness.length);
  if (robust.length) {
    out.push('\n### Robustness to re-encoding\n');
    out.push('ASR of the re-encoded protected decode against the equally re-encoded backbone decode (mean over heads); the drop is from the ASR without re-encoding.\n');
    const kinds = robust[0].robustness.map((x) => x.reencoding);
    out.push(table(['target', 'ASR', ...kinds.map((k) => `${k} ASR (drop)`)],
      robust.map((t) => [t.target, pct(t.asr.protected), ...t.robustness.map((x) => `${pct(x.asr)} (${(100 * x.drop).toFixed(1)})`)])));
  }
  const pgd = r.targets.filter((t): t is TargetAttackReport & { pgd: NonNullable<TargetAttackReport['pgd']> } => t.pgd !== undefined);
  if (pgd.length) {
    out.push('\n### Per-image PGD cloaking vs PSIC\n');
    out.push(`L∞ PGD on the original (ε = ${(pgd[0].pgd.epsilon * 255).toFixed(0)}/255, ${pgd[0].pgd.steps} steps), then the backbone; PSIC's protected decode on the same images. Seconds per image in this run: PGD + backbone compress and decode, PSIC compress and protected decode.\n`);
    out.push(table(['target', 'n', 'PGD ASR', 'PSIC ASR', 'PGD PSNR', 'PSIC PSNR', 'PGD s/img', 'PSIC s/img', 'time ratio'],
      pgd.map((t) => [t.target, t.pgd.n, pct(t.pgd.asr), pct(t.pgd.psicAsr), db(t.pgd.psnr), db(t.pgd.psicPsnr),
        t.pgd.secondsPerImage.toFixed(2), t.pgd.psicSecondsPerImage.toFixed(3), `${t.pgd.timeRatio.toFixed(1)}×`])));
  }
  if (r.keySearch.length) {
    out.push('\n### Key-search adversary\n');
    out.push('Adam on the condition vector c = tanh(u), no key, from random starts; the oracle objective reads the originals of the search images. The condition found then decodes every image.\n');
    out.push(table(['objective', 'search images', 'steps × restarts', 'start loss', 'final loss', 'PSNR (dB)', 'seconds'],
      r.keySearch.map((k) => [k.objective, k.images, `${k.steps} × ${k.restarts}`, k.startLoss.toPrecision(4), k.loss.toPrecision(4), db(k.psnr), k.seconds.toFixed(0)])));
  }
  const clip = r.targets.filter((t) => t.clip);
  if (clip.length) {
    out.push('\n### CLIP retrieval and zero-shot\n');
    out.push(table(['target', 'decode', 'image→text R@1', 'text→image R@1', 'zero-shot acc'],
      clip.flatMap((t) => Object.keys(t.clip!.imageToText).map((d) => [t.target, d, pct(t.clip!.imageToText[d]), pct(t.clip!.textToImage[d]), pct(t.clip!.zeroShot[d])]))));
  }
  return `${out.join('\n')}\n`;
}
