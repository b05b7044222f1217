// `psic eval all`: the whole report in one command. Rate–distortion for every model (Kodak),
// then the attack evaluation of every model (held-out faces and scenes), written as
// report.json, report.md and report.html (tables and plots, no external resources), with the
// plots also as rd.svg/rd.png and attack-N.svg.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';

import { writeFileAtomic } from '../io/atomic-write.js';
import { PsicInputError } from '../errors.js';
import { type Key, readKeyFile } from '../keys.js';
import { svgToPng } from './plot.js';
import { type AttackEvalOptions, type AttackEvalReport, evaluateAttack } from './attack.js';
import { type RdOptions, type RdReport, evaluateRd, rdMarkdown, rdPlotSvg } from './rd.js';
import { attackMarkdown, attackPlotSvg, htmlPage, markdownToHtml } from './report.js';

export interface AllEvalOptions extends Omit<AttackEvalOptions, 'model' | 'key'> {
  /** PSIC model files (one λ point each). */
  models: string[];
  key?: Key;
  keyFile?: string;
  /** The rate–distortion image set (default $PSIC_SHARED/data/kodak). */
  data?: string;
  /** Images for the rate–distortion part (default all). */
  rdLimit?: number;
  /** Passed to the rate–distortion part (e.g. fewer baseline codecs or qualities). */
  rdOptions?: Pick<RdOptions, 'codecs' | 'qualities' | 'match' | 'wrongKeys'>;
  /** Write the report files here. */
  out: string;
}

export interface AllEvalReport {
  rd: RdReport;
  attack: AttackEvalReport[];
}

export function allMarkdown(r: AllEvalReport): string {
  const parts = ['# psic evaluation report', '', '## Rate–distortion', '', rdMarkdown(r.rd)];
  for (const a of r.attack) parts.push(`## Attack evaluation: ${basename(a.model)}`, '', attackMarkdown(a));
  return parts.join('\n');
}

export async function evaluateAll(options: AllEvalOptions): Promise<AllEvalReport> {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  if (!Array.isArray(options.models) || options.models.length === 0) throw new PsicInputError('models: at least one PSIC model file');
  if (typeof options.out !== 'string' || !options.out) throw new PsicInputError('out: the folder to write the report to');
  const key = options.key ?? (options.keyFile !== undefined ? await readKeyFile(options.keyFile) : undefined);
  if (key === undefined) throw new PsicInputError("the owner's key (key or keyFile) is needed for the full decode");
  const rd = await evaluateRd({ ...options.rdOptions, models: options.models, backbones: [options.backbone], key, data: options.data, limit: options.rdLimit,
    progress: options.progress });
  const attack: AttackEvalReport[] = [];
  for (const model of options.models) attack.push(await evaluateAttack({ ...options, model, key }));
  const report = { rd, attack };

  mkdirSync(options.out, { recursive: true });
  const write = (name: string, data: string | Buffer) => writeFileAtomic(join(options.out, name), typeof data === 'string' ? Buffer.from(data) : data);
  const rdSvg = rdPlotSvg(rd);
  const attackSvgs = attack.map(attackPlotSvg);
  await write('report.json', `${JSON.stringify(report, null, 1)}\n`);
  await write('report.md', allMarkdown(report));
  await write('rd.svg', rdSvg);
  await write('rd.png', await svgToPng(rdSvg));
  for (const [i, svg] of attackSvgs.entries()) await write(`attack-${i + 1}.svg`, svg);
  // The HTML: the Markdown's tables with each plot inline after its section's heading.
  let body = markdownToHtml(['## Rate–distortion', '', rdMarkdown(rd)].join('\n')).replace('</h2>', `</h2>\n<figure>${rdSvg}</figure>`);
  for (const [i, a] of attack.entries()) {
    body += `\n${markdownToHtml(`## Attack evaluation: ${basename(a.model)}\n\n${attackMarkdown(a)}`).replace('</h2>', `</h2>\n<figure>${attackSvgs[i]}</figure>`)}`;
  }
  await write('report.html', htmlPage('psic evaluation report', body));
  return report;
}
