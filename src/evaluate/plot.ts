// Small line plots as self-contained SVG (axes, ticks, labels, one colour per series, a shared
// legend), side-by-side panels; PNG through sharp, which renders SVG with librsvg. No plotting
// library: the rate–distortion report needs only this.
import sharp from 'sharp';

export interface PlotPoint { x: number; y: number }

export interface PlotSeries {
  name: string;
  /** Drawn in this order, joined by a line; non-finite points are left out. */
  points: PlotPoint[];
  /** Dashed line and hollow markers (e.g. a secondary variant of a series). */
  dashed?: boolean;
  /** Series with the same group share a colour (default: the name). */
  group?: string;
}

export interface PlotPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
}

export interface PlotOptions {
  /** Size of one panel in px (default 480 × 360). */
  panelWidth?: number;
  panelHeight?: number;
  /** A line above the panels. */
  title?: string;
}

/** Colour-blind-friendly first (Okabe–Ito), then more distinct hues. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8C564B',
  '#7F7F7F', '#BCBD22', '#17BECF', '#9467BD', '#FF9896', '#F0E442'];
const MARGIN = { left: 62, right: 18, top: 34, bottom: 50 };
const LEGEND_WIDTH = 250;
const LEGEND_ROW = 18;
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => Number(v.toFixed(2)).toString();

/** A "nice" axis: bounds and ticks at 1, 2 or 5 × 10^k that contain [min, max]. */
export function niceTicks(min: number, max: number, target = 6): { min: number; max: number; ticks: number[] } {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return { min: 0, max: 1, ticks: [0, 0.5, 1] };
  if (max - min < 1e-12) {
    const pad = Math.abs(min) > 1e-12 ? Math.abs(min) * 0.05 : 0.5;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(target - 1, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(min / step + 1e-9), last = Math.ceil(max / step - 1e-9);
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
  return { min: ticks[0], max: ticks[ticks.length - 1], ticks };
}

function tickLabel(v: number, ticks: number[]): string {
  // As many decimals as the tick step has (0.25 → 2, 5 → 0).
  const step = String(Number((ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1).toPrecision(6)));
  const decimals = /e/.test(step) ? 6 : (step.split('.')[1] ?? '').length;
  return v.toFixed(Math.min(decimals, 6));
}

function marker(x: string, y: string, r: number, c: string, hollow?: boolean): string {
  return `<circle cx="${x}" cy="${y}" r="${r}" ${hollow ? `fill="#ffffff" stroke="${c}" stroke-width="1.5"` : `fill="${c}"`}/>`;
}

function panelSvg(panel: PlotPanel, x0: number, y0: number, w: number, h: number, colour: (s: PlotSeries) => string): string {
  const finite = (s: PlotSeries) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const all = panel.series.flatMap(finite);
  const xs = niceTicks(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)));
  const ys = niceTicks(Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y)));
  const left = x0 + MARGIN.left, top = y0 + MARGIN.top;
  const pw = w - MARGIN.left - MARGIN.right, ph = h - MARGIN.top - MARGIN.bottom;
  const sx = (v: number) => left + ((v - xs.min) / (xs.max - xs.min)) * pw;
  const sy = (v: number) => top + ph - ((v - ys.min) / (ys.max - ys.min)) * ph;
  const out: string[] = [];
  out.push(`<g class="panel" data-x-min="${xs.min}" data-x-max="${xs.max}" data-y-min="${ys.min}" data-y-max="${ys.max}">`);
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#444444" stroke-width="1"/>`);
  for (const v of xs.ticks) {
    const x = fmt(sx(v));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + ph}" stroke="#e4e4e4" stroke-width="1"/>`);
    out.push(`<line x1="${x}" y1="${top + ph}" x2="${x}" y2="${top + ph + 5}" stroke="#444444" stroke-width="1"/>`);
    out.push(`<text x="${x}" y="${top + ph + 18}" font-size="11" text-anchor="middle" ${FONT}>${tickLabel(v, xs.ticks)}</text>`);
  }
  for (const v of ys.ticks) {
    const y = fmt(sy(v));
    out.push(`<line x1="${left}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#e4e4e4" stroke-width="1"/>`);
    out.push(`<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}" stroke="#444444" stroke-width="1"/>`);
    out.push(`<text x="${left - 8}" y="${fmt(sy(v) + 4)}" font-size="11" text-anchor="end" ${FONT}>${tickLabel(v, ys.ticks)}</text>`);
  }
  out.push(`<text x="${fmt(left + pw / 2)}" y="${y0 + 20}" font-size="13" font-weight="bold" text-anchor="middle" ${FONT}>${escapeXml(panel.title)}</text>`);
  out.push(`<text x="${fmt(left + pw / 2)}" y="${top + ph + 38}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(panel.xLabel)}</text>`);
  const ly = fmt(top + ph / 2);
  out.push(`<text x="${x0 + 16}" y="${ly}" font-size="12" text-anchor="middle" transform="rotate(-90 ${x0 + 16} ${ly})" ${FONT}>${escapeXml(panel.yLabel)}</text>`);
  for (const s of panel.series) {
    const pts = finite(s);
    if (pts.length === 0) continue;
    const c = colour(s);
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${fmt(sx(p.x))},${fmt(sy(p.y))}`).join(' ');
    out.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    // A lone point (one model, one λ) gets a larger marker so it reads as a result, not a stray dot.
    const r = pts.length === 1 ? 5 : 3.5;
    for (const p of pts) out.push(marker(fmt(sx(p.x)), fmt(sy(p.y)), r, c, s.dashed));
  }
  out.push('</g>');
  return out.join('\n');
}

/** Panels side by side with one legend on the right; a series (group) keeps its colour in every panel. */
export function linePlotSvg(panels: PlotPanel[], options: PlotOptions = {}): string {
  const w = options.panelWidth ?? 480, h = options.panelHeight ?? 360;
  const names: PlotSeries[] = [];
  for (const p of panels) for (const s of p.series) if (!names.some((n) => n.name === s.name)) names.push(s);
  const groups = [...new Set(names.map((s) => s.group ?? s.name))];
  const colour = (s: PlotSeries) => PALETTE[groups.indexOf(s.group ?? s.name) % PALETTE.length];
  const titleH = options.title ? 26 : 0;
  const width = panels.length * w + LEGEND_WIDTH;
  const height = titleH + Math.max(h, MARGIN.top + names.length * LEGEND_ROW + 20);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title) out.push(`<text x="${width / 2}" y="18" font-size="14" text-anchor="middle" ${FONT}>${escapeXml(options.title)}</text>`);
  panels.forEach((p, i) => out.push(panelSvg(p, i * w, titleH, w, h, colour)));
  const lx = panels.length * w + 8;
  out.push('<g class="legend">');
  names.forEach((s, i) => {
    const y = titleH + MARGIN.top + i * LEGEND_ROW;
    const c = colour(s);
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 24}" y2="${y}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(marker(String(lx + 12), String(y), 3.5, c, s.dashed));
    out.push(`<text x="${lx + 32}" y="${y + 4}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}

/** Renders an SVG to PNG at its own size (sharp/librsvg, 72 dpi = 1 px per SVG unit). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg, 'utf8')).png().toBuffer();
}
