// The evaluation report as Markdown tables (report.md, the README's Results) and as one
// self-contained HTML page (report.html: tables and inline SVG plots, viewable offline).
import type { AttackEvalReport, TargetAttackReport } from './attack.js';
import { ATTACK_DECODES } from './decodes.js';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)} %`);
const db = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const DECODES = ATTACK_DECODES;

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
    out.push(table(['files', 'objective', 'search images', 'steps × restarts', 'start loss', 'final loss', 'PSNR (dB)', 'seconds'],
      r.keySearch.map((k) => [k.sealed ? 'sealed' : 'unsealed', k.objective, k.images, `${k.steps} × ${k.restarts}`, k.startLoss.toPrecision(4), k.loss.toPrecision(4), db(k.psnr), k.seconds.toFixed(0)])));
  }
  const clip = r.targets.filter((t) => t.clip);
  if (clip.length) {
    out.push('\n### CLIP retrieval and zero-shot\n');
    out.push(table(['target', 'decode', 'image→text R@1', 'text→image R@1', 'zero-shot acc'],
      clip.flatMap((t) => Object.keys(t.clip!.imageToText).map((d) => [t.target, d, pct(t.clip!.imageToText[d]), pct(t.clip!.textToImage[d]), pct(t.clip!.zeroShot[d])]))));
  }
  return `${out.join('\n')}\n`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const inline = (s: string) => escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

/**
 * The Markdown this module writes (headings, paragraphs, pipe tables, inline code) as HTML.
 * Not a general Markdown parser: only what the reports contain.
 */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading) {
      out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].slice(1, -1).split('|').map((c) => c.trim()));
      i--;
      const [head, , ...body] = rows;
      out.push('<table>', `<tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>`,
        ...body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`), '</table>');
    } else if (line.startsWith('<svg') || line.startsWith('<figure')) {
      out.push(line);  // plots, already markup
    } else if (line.trim()) {
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  return out.join('\n');
}

/** A whole page: inline CSS, no external resources, so it opens offline. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 0.2em; }
svg { max-width: 100%; height: auto; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** Grouped bars: each target's mean ASR for the protected decode and what stands against it. */
export function attackPlotSvg(r: AttackEvalReport): string {
  const kinds: { name: string; colour: string; value: (t: TargetAttackReport) => number | undefined }[] = [
    { name: 'PSIC protected', colour: '#1f77b4', value: (t) => t.asr.protected },
    { name: 'protected, then JPEG q85', colour: '#aec7e8', value: (t) => t.robustness.find((x) => x.reencoding === 'jpeg-q85')?.asr },
    { name: 'wrong key', colour: '#2ca02c', value: (t) => t.asr['wrong-key'] },
    { name: 'key search (pixels)', colour: '#d62728', value: (t) => t.asr['key-search-pixels'] },
    { name: 'key search (targets)', colour: '#ff9896', value: (t) => t.asr['key-search-target'] },
    { name: 'sealed, no key', colour: '#17becf', value: (t) => t.asr.sealed },
    { name: 'sealed, key search (pixels)', colour: '#bcbd22', value: (t) => t.asr['sealed-key-search-pixels'] },
    { name: 'PGD cloak + backbone', colour: '#9467bd', value: (t) => t.pgd?.asr },
    { name: 'PSIC full (key)', colour: '#7f7f7f', value: (t) => t.asr.full },
  ];
  const used = kinds.filter((k) => r.targets.some((t) => k.value(t) !== undefined));
  const bar = 12, gap = 10, left = 170, width = 420, top = 40;
  const groupHeight = used.length * bar + gap;
  const height = top + r.targets.length * groupHeight + 30;
  const legendX = left + width + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${legendX + 190}" height="${Math.max(height, top + used.length * 18 + 20)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">ASR against the backbone decode (mean over heads)</text>`,
  ];
  for (let tick = 0; tick <= 100; tick += 20) {
    const x = left + (width * tick) / 100;
    parts.push(`<line x1="${x}" y1="${top - 5}" x2="${x}" y2="${height - 25}" stroke="#ddd"/>`,
      `<text x="${x}" y="${height - 10}" text-anchor="middle">${tick}%</text>`);
  }
  r.targets.forEach((t, g) => {
    const y0 = top + g * groupHeight;
    parts.push(`<text x="${left - 8}" y="${y0 + (used.length * bar) / 2 + 4}" text-anchor="end">${escapeHtml(`${t.target} (${t.dataset})`)}</text>`);
    used.forEach((k, i) => {
      const v = k.value(t);
      if (v === undefined || Number.isNaN(v)) return;
      parts.push(`<rect x="${left}" y="${y0 + i * bar}" width="${(width * Math.max(0, v)).toFixed(1)}" height="${bar - 2}" fill="${k.colour}"><title>${escapeHtml(`${k.name}: ${(100 * v).toFixed(1)}%`)}</title></rect>`);
    });
  });
  used.forEach((k, i) => {
    parts.push(`<rect x="${legendX}" y="${top + i * 18}" width="12" height="12" fill="${k.colour}"/>`,
      `<text x="${legendX + 18}" y="${top + i * 18 + 10}">${escapeHtml(k.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
