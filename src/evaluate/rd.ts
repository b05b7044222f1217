// `psic eval rd`: rate–distortion on an image set (Kodak by default) for PSIC models — the full
// decode (owner's key), the protected decode, seeded wrong keys — the plain backbone, and
// JPEG / WebP / AVIF from sharp, at qualities matched to each PSIC model's bpp per image and on
// a fixed quality grid. bpp counts whole files (container bytes · 8 / pixels); PSNR and
// MS-SSIM are RGB in [0, 1] against the original (CompressAI's definitions). Per-image rows, means
// per point; the curves as SVG and PNG.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';

import { writeFileAtomic } from '../io/atomic-write.js';
import { sharedDir } from '../bench/bench.js';
import { Codec } from '../codec/codec.js';
import { PsicInputError, PsicKeyError } from '../errors.js';
import { listImages } from './target.js';
import { type RgbImage, readImage } from '../io/image-io.js';
import { type Key, keyBytes, readKeyFile } from '../keys.js';
import { bpp, psnr } from './metrics.js';
import { MS_SSIM_MIN_SIDE, MS_SSIM_WEIGHTS, SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW, SsimReference, msSsimDb } from './msssim.js';
import { type PlotPanel, linePlotSvg, svgToPng } from './plot.js';
import { Progress } from '../io/progress.js';
import { BASELINE_CODECS, BASELINE_SETTINGS, type BaselineCodec, type BaselineEncode, QualityLadder, checkQuality, decodeBaseline } from './baselines.js';

export const DEFAULT_WRONG_KEYS = 3;
// Dense where learned codecs sit (0.1–1.5 bpp on Kodak: JPEG q50 ≈ 1.2 bpp, AVIF q60 ≈ 1.7).
export const DEFAULT_QUALITIES: readonly number[] = [5, 10, 20, 30, 40, 50, 60, 70];

export interface RdOptions {
  /** PSIC model files, one λ point each. */
  models: string[];
  /** Plain CompressAI checkpoints (or psic plain models): the backbone's own points. */
  backbones?: string[];
  /** The owner's key (full decode); or keyFile. */
  key?: Key;
  keyFile?: string;
  /** Image folder (default: $PSIC_SHARED/data/kodak, PSIC_SHARED defaulting to ../shared). */
  data?: string;
  /** At most this many images, in file-name order. */
  limit?: number;
  /** Wrong-key decodes per image (seeded keys, the same every run). Default 3. */
  wrongKeys?: number;
  /** Baseline codecs (default all: jpeg, webp, avif); [] for none. */
  codecs?: BaselineCodec[];
  /** Whether baselines are also encoded at each model's per-image bpp (default true). */
  match?: boolean;
  /** Fixed quality grid for the baselines' full curves (default 10, 20, …, 90); [] for none. */
  qualities?: number[];
  /** LibTorch threads (Codec.load). */
  threads?: number;
  /** Progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Write rd.json, rd.md, rd.svg and rd.png here (created when missing). */
  out?: string;
}

/**
 * Series ids: `backbone`, `psic-full`, `psic-protected`, `psic-wrong-key` (every wrong key),
 * `psic-wrong-key-worst` (per image the wrong key with the highest PSNR), `CODEC-matched`
 * (quality matched to a model's bpp), `CODEC` (the quality grid).
 */
export type RdSeriesId = 'backbone' | 'psic-full' | 'psic-protected' | 'psic-wrong-key' | 'psic-wrong-key-worst'
  | `${BaselineCodec}-matched` | BaselineCodec;

export interface RdMeasure {
  bpp: number;
  /** dB, RGB. */
  psnr: number;
  /** 5-scale MS-SSIM, RGB, in [0, 1]. */
  msssim: number;
}

/** One decode of one image. */
export interface RdRow extends RdMeasure {
  image: string;
  series: RdSeriesId;
  /** File bytes (container or JPEG/WebP/AVIF file). */
  bytes: number;
  /** The PSIC model (PSIC series; matched baselines: the model whose bpp is the target) or the backbone. */
  model?: string;
  /** Baselines: the encoder quality. */
  quality?: number;
  /** Matched baselines: the model's bpp for this image. */
  targetBpp?: number;
  /** Wrong-key series: which of the seeded keys. */
  wrongKey?: number;
}

/** Means over the images of one point. */
export interface RdPoint extends RdMeasure {
  /** −10·log10(1 − mean MS-SSIM). */
  msssimDb: number;
  /** Rows averaged (images; images × keys for psic-wrong-key). */
  n: number;
  model?: string;
  /** The grid quality (grid series). */
  quality?: number;
  /** Matched series: mean target bpp and mean chosen quality. */
  targetBpp?: number;
  meanQuality?: number;
}

export interface RdSeries {
  id: RdSeriesId;
  label: string;
  /** Sorted by bpp. */
  points: RdPoint[];
}

export interface RdModelInfo {
  path: string;
  modelId: string;
  architecture: string;
}

export interface RdReport {
  data: string;
  images: { name: string; width: number; height: number }[];
  models: RdModelInfo[];
  backbones: RdModelInfo[];
  settings: {
    wrongKeys: number;
    /** Wrong key j is SHA-256 of `${wrongKeySeed}${j}`. */
    wrongKeySeed: string;
    codecs: BaselineCodec[];
    match: boolean;
    qualities: number[];
    baselines: typeof BASELINE_SETTINGS;
    msssim: { window: number; sigma: number; k1: number; k2: number; weights: readonly number[]; dataRange: 1; negativeCs: 'relu' };
  };
  series: RdSeries[];
  rows: RdRow[];
}

const WRONG_KEY_SEED = 'psic/eval/wrong-key/';
const CODEC_NAMES: Record<BaselineCodec, string> = { jpeg: 'JPEG', webp: 'WebP', avif: 'AVIF' };

/** The j-th seeded wrong key: fixed, so every run and every model sees the same keys. */
export function wrongKey(j: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`${WRONG_KEY_SEED}${j}`).digest());
}

export function seriesLabel(id: RdSeriesId, wrongKeys: number): string {
  const labels: Record<string, string> = {
    backbone: 'plain backbone',
    'psic-full': 'PSIC full (key)',
    'psic-protected': 'PSIC protected',
    'psic-wrong-key': `PSIC wrong key (mean of ${wrongKeys})`,
    'psic-wrong-key-worst': `PSIC wrong key (worst of ${wrongKeys})`,
  };
  if (labels[id]) return labels[id];
  const [codec, matched] = id.split('-') as [BaselineCodec, string | undefined];
  return matched ? `${CODEC_NAMES[codec]} (bpp-matched)` : CODEC_NAMES[codec];
}

function positiveInteger(v: number | undefined, what: string, min = 1): number | undefined {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new PsicInputError(`${what} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

async function resolveKey(options: RdOptions): Promise<Uint8Array> {
  if (options.key !== undefined) return keyBytes(options.key);
  if (options.keyFile !== undefined) return readKeyFile(options.keyFile);
  throw new PsicKeyError('the full decode needs the owner\'s key: pass key or keyFile (CLI: --key-file)');
}

async function loadModels(paths: string[], options: RdOptions, psic: boolean): Promise<{ codec: Codec; info: RdModelInfo }[]> {
  const out: { codec: Codec; info: RdModelInfo }[] = [];
  for (const path of paths) {
    const codec = await Codec.load(path, { threads: options.threads });
    if (psic && codec.conditionDim === 0) {
      throw new PsicInputError(`'${path}' is a plain model with a single decode, not a PSIC model (pass it as a backbone)`);
    }
    out.push({ codec, info: { path, modelId: codec.modelId, architecture: codec.architecture } });
  }
  return out;
}

/** The data folder's images, checked for MS-SSIM's minimum size before any work starts. */
async function listData(dir: string, limit: number | undefined): Promise<{ name: string; path: string; width: number; height: number }[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new PsicInputError(`data folder '${dir}' not found (pass --data DIR, or set PSIC_SHARED to the folder holding data/kodak)`);
  }
  const files = [...listImages(dir).values()].slice(0, limit);
  if (files.length === 0) throw new PsicInputError(`no images in '${dir}'`);
  const out = [];
  for (const path of files) {
    const meta = await sharp(path).metadata().catch((err: Error) => { throw new PsicInputError(`'${path}' is not a supported image (${err.message})`); });
    const width = meta.width ?? 0, height = meta.height ?? 0;
    if (Math.min(width, height) < MS_SSIM_MIN_SIDE) {
      throw new PsicInputError(`'${path}' is ${width}x${height}: MS-SSIM at 5 scales needs at least ${MS_SSIM_MIN_SIDE} pixels on each side`);
    }
    out.push({ name: basename(path), path, width, height });
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Means per point: rows grouped by series, then by quality (grid series) or model. */
export function summarize(rows: RdRow[], wrongKeys: number): RdSeries[] {
  const series = new Map<RdSeriesId, Map<string, RdRow[]>>();
  for (const r of rows) {
    const grid = (BASELINE_CODECS as readonly string[]).includes(r.series);
    const key = grid ? `q${r.quality}` : r.model ?? '';
    const points = series.get(r.series) ?? new Map<string, RdRow[]>();
    points.set(key, [...(points.get(key) ?? []), r]);
    series.set(r.series, points);
  }
  return [...series].map(([id, points]) => ({
    id,
    label: seriesLabel(id, wrongKeys),
    points: [...points.values()].map((rs): RdPoint => {
      const m = mean(rs.map((r) => r.msssim));
      const p: RdPoint = { bpp: mean(rs.map((r) => r.bpp)), psnr: mean(rs.map((r) => r.psnr)), msssim: m, msssimDb: msSsimDb(m), n: rs.length };
      if (rs[0].model !== undefined) p.model = rs[0].model;
      if (id.endsWith('-matched')) {
        p.targetBpp = mean(rs.map((r) => r.targetBpp!));
        p.meanQuality = mean(rs.map((r) => r.quality!));
      } else if (rs[0].quality !== undefined) p.quality = rs[0].quality;
      return p;
    }).sort((a, b) => a.bpp - b.bpp),
  }));
}

export async function evaluateRd(options: RdOptions): Promise<RdReport> {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  if (!Array.isArray(options.models) || options.models.length === 0) throw new PsicInputError('models: at least one PSIC model file');
  const wrongKeys = positiveInteger(options.wrongKeys, 'wrongKeys', 0) ?? DEFAULT_WRONG_KEYS;
  const limit = positiveInteger(options.limit, 'limit');
  const codecs = options.codecs ?? [...BASELINE_CODECS];
  for (const c of codecs) if (!BASELINE_CODECS.includes(c)) throw new PsicInputError(`unknown codec '${String(c)}' (${BASELINE_CODECS.join(', ')})`);
  const qualities = [...new Set((options.qualities ?? DEFAULT_QUALITIES).map(checkQuality))].sort((a, b) => a - b);
  const match = options.match ?? true;
  const data = options.data ?? join(sharedDir(), 'data', 'kodak');

  const key = await resolveKey(options);
  const images = await listData(data, limit);
  const models = await loadModels(options.models, options, true);
  const backbones = await loadModels(options.backbones ?? [], options, false);
  const keys = Array.from({ length: wrongKeys }, (_, j) => wrongKey(j));

  const rows: RdRow[] = [];
  const progress = new Progress('eval rd', images.length, options.progress);
  for (const image of images) {
    const original = await readImage(image.path);
    const reference = new SsimReference(original);
    const measure = (decoded: RgbImage, bytes: number): RdMeasure => ({
      bpp: bpp(bytes, original.width, original.height), psnr: psnr(original.data, decoded.data), msssim: reference.msSsim(decoded),
    });
    const add = (row: Omit<RdRow, keyof RdMeasure | 'image'>, m: RdMeasure) => { rows.push({ image: image.name, ...row, ...m }); };
    const raw = { ...original, channels: 3 as const };

    const targets: { model: string; bpp: number }[] = [];
    for (const { codec, info } of models) {
      const bytes = await codec.compress(raw);
      targets.push({ model: info.path, bpp: bpp(bytes.length, original.width, original.height) });
      const common = { model: info.path, bytes: bytes.length };
      const decode = async (k?: Uint8Array) => measure(await codec.decompress(bytes, { key: k }), bytes.length);
      add({ series: 'psic-full', ...common }, await decode(key));
      add({ series: 'psic-protected', ...common }, await decode());
      const wrong: RdRow[] = [];
      for (const [j, k] of keys.entries()) {
        add({ series: 'psic-wrong-key', ...common, wrongKey: j }, await decode(k));
        wrong.push(rows[rows.length - 1]);
      }
      if (wrong.length) rows.push({ ...wrong.reduce((a, b) => (b.psnr > a.psnr ? b : a)), series: 'psic-wrong-key-worst' });
    }
    for (const { codec, info } of backbones) {
      const bytes = await codec.compress(raw);
      add({ series: 'backbone', model: info.path, bytes: bytes.length }, measure(await codec.decompress(bytes), bytes.length));
    }
    for (const name of codecs) {
      const ladder = new QualityLadder(name, original);
      // A matched quality is often also a grid quality: decode and measure each file once.
      const measured = new Map<number, RdMeasure>();
      const decode = async (e: BaselineEncode) => {
        if (!measured.has(e.quality)) measured.set(e.quality, measure(await decodeBaseline(e.data), e.bytes));
        return measured.get(e.quality)!;
      };
      if (match) {
        for (const target of targets) {
          const e = await ladder.match(target.bpp);
          add({ series: `${name}-matched`, model: target.model, targetBpp: target.bpp, quality: e.quality, bytes: e.bytes }, await decode(e));
        }
      }
      for (const q of qualities) {
        const e = await ladder.get(q);
        add({ series: name, quality: q, bytes: e.bytes }, await decode(e));
      }
    }
    progress.tick(image.name);
  }
  progress.finish();

  const report: RdReport = {
    data,
    images: images.map(({ name, width, height }) => ({ name, width, height })),
    models: models.map((m) => m.info),
    backbones: backbones.map((m) => m.info),
    settings: {
      wrongKeys, wrongKeySeed: WRONG_KEY_SEED, codecs, match, qualities, baselines: BASELINE_SETTINGS,
      msssim: { window: SSIM_WINDOW, sigma: SSIM_SIGMA, k1: SSIM_K1, k2: SSIM_K2, weights: MS_SSIM_WEIGHTS, dataRange: 1, negativeCs: 'relu' },
    },
    series: summarize(rows, wrongKeys),
    rows,
  };
  if (options.out !== undefined) await writeRdReport(report, options.out);
  return report;
}

/** The two panels CompressAI plots: PSNR and MS-SSIM (dB) against bpp. */
export function rdPlotSvg(report: RdReport): string {
  const panel = (title: string, yLabel: string, y: (p: RdPoint) => number): PlotPanel => ({
    title, xLabel: 'bpp (file bytes · 8 / pixels)', yLabel,
    series: report.series.map((s) => ({
      name: s.label, group: s.id.replace(/-matched$/, ''), dashed: s.id.endsWith('-matched'), points: s.points.map((p) => ({ x: p.bpp, y: y(p) })),
    })),
  });
  const n = report.images.length;
  return linePlotSvg([panel('PSNR (RGB)', 'PSNR (dB)', (p) => p.psnr), panel('MS-SSIM (RGB)', '−10·log10(1 − MS-SSIM) (dB)', (p) => p.msssimDb)],
    { title: `Rate–distortion on ${basename(report.data)} (${n} image${n === 1 ? '' : 's'})` });
}

/** The summary as a Markdown table (also the CLI's text output). */
export function rdMarkdown(report: RdReport): string {
  const pointName = (s: RdSeries, p: RdPoint) => {
    if (p.quality !== undefined) return `q = ${p.quality}`;
    const model = p.model !== undefined ? basename(p.model) : '';
    return p.meanQuality !== undefined ? `${model}, mean q = ${p.meanQuality.toFixed(1)}` : model;
  };
  const lines = [
    `Rate–distortion on \`${report.data}\` (${report.images.length} images): bpp from file bytes, PSNR and MS-SSIM on RGB in [0, 1], means over images.`,
    `Wrong keys: ${report.settings.wrongKeys} seeded keys per image; "worst" takes, per image, the wrong key with the highest PSNR. ` +
      'Matched baselines: per image, the quality whose file bpp is closest to the model\'s.',
    '',
    '| series | point | bpp | PSNR (dB) | MS-SSIM | MS-SSIM (dB) |',
    '|---|---|---|---|---|---|',
  ];
  for (const s of report.series) {
    for (const p of s.points) {
      lines.push(`| ${s.label} | ${pointName(s, p)} | ${p.bpp.toFixed(4)} | ${p.psnr.toFixed(2)} | ${p.msssim.toFixed(4)} | ${p.msssimDb.toFixed(2)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The report as JSON, one per-image row a line (readable, and diffs stay small). */
export function rdJson(report: RdReport): string {
  const { rows, ...rest } = report;
  const head = JSON.stringify(rest, null, 1);
  return `${head.slice(0, -2)},\n "rows": [\n${rows.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n ]\n}\n`;
}

/** rd.json, rd.md, rd.svg and rd.png in `dir`, each written atomically. */
export async function writeRdReport(report: RdReport, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const svg = rdPlotSvg(report);
  await writeFileAtomic(join(dir, 'rd.json'), Buffer.from(rdJson(report)));
  await writeFileAtomic(join(dir, 'rd.md'), Buffer.from(rdMarkdown(report)));
  await writeFileAtomic(join(dir, 'rd.svg'), Buffer.from(svg));
  await writeFileAtomic(join(dir, 'rd.png'), await svgToPng(svg));
}
