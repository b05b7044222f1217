// The SVG line plot, structurally: well-formed, one path per series with its points, axes that
// contain the data; and the PNG rendered from it.
import sharp from 'sharp';
import t from 'tap';

import { linePlotSvg, niceTicks, svgToPng, type PlotPanel } from '../src/evaluate/plot.js';

/** Tags balance and every attribute is quoted: enough to catch broken markup. */
function checkWellFormed(svg: string): string[] {
  const stack: string[] = [], errors: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (!close) stack.push(name);
    else if (stack.pop() !== name) errors.push(`unbalanced </${name}>`);
  }
  if (stack.length) errors.push(`unclosed ${stack.join(',')}`);
  const tags = svg.match(/<[^>]*>/g) ?? [];
  const parsed = [...svg.matchAll(/<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)].length;
  if (tags.length !== parsed) errors.push(`${tags.length - parsed} malformed tags`);
  return errors;
}

const panels: PlotPanel[] = [
  { title: 'PSNR', xLabel: 'bpp', yLabel: 'PSNR (dB)', series: [
    { name: 'JPEG', points: [{ x: 0.2, y: 24 }, { x: 0.5, y: 28.5 }, { x: 1.1, y: 33 }] },
    { name: 'PSIC full', points: [{ x: 0.58, y: 26.8 }] },
    { name: 'wrong key & <worst>', points: [{ x: 0.58, y: 22.3 }, { x: 0.9, y: Infinity }], dashed: true },
    { name: 'JPEG (matched)', group: 'JPEG', points: [{ x: 0.57, y: 27.9 }], dashed: true },
  ] },
  { title: 'MS-SSIM', xLabel: 'bpp', yLabel: 'MS-SSIM (dB)', series: [
    { name: 'JPEG', points: [{ x: 0.2, y: 8 }, { x: 0.5, y: 11 }, { x: 1.1, y: 15 }] },
    { name: 'PSIC full', points: [{ x: 0.58, y: 12 }] },
  ] },
];

t.test('nice ticks contain the range', async (t) => {
  t.same(niceTicks(0.21, 1.09), { min: 0.2, max: 1.2, ticks: [0.2, 0.4, 0.6, 0.8, 1, 1.2] });
  const flat = niceTicks(5, 5);
  t.ok(flat.min < 5 && flat.max > 5, 'a single value gets a range');
  for (const [a, b] of [[22.26, 33.1], [-3, 0.001], [0.0012, 0.0049], [7, 7000]]) {
    const r = niceTicks(a, b);
    t.ok(r.min <= a && r.max >= b && r.ticks.length >= 2 && r.ticks.length <= 12, `[${a}, ${b}] -> ${r.ticks}`);
  }
});

t.test('SVG: well-formed, one path per series, points and ranges', async (t) => {
  const svg = linePlotSvg(panels, { title: 'Kodak' });
  t.same(checkWellFormed(svg), []);
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="(\d+)" height="(\d+)"/);
  t.match(svg, /wrong key &amp; &lt;worst&gt;/, 'names are escaped');
  const groups = svg.split('<g class="panel"').slice(1);
  t.equal(groups.length, 2);
  groups.forEach((g, i) => {
    const [, xMin, xMax, yMin, yMax] = g.match(/data-x-min="([^"]+)" data-x-max="([^"]+)" data-y-min="([^"]+)" data-y-max="([^"]+)"/)!.map(Number);
    const paths = [...g.matchAll(/<path class="series" data-series="([^"]+)" d="([^"]+)"/g)];
    const want = panels[i].series.map((s) => [s.name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
      s.points.filter((p) => Number.isFinite(p.y)).length]);
    t.same(paths.map((p) => [p[1], p[2].split(/[ML]/).filter(Boolean).length]), want, `panel ${i}: one path per series, one vertex per finite point`);
    for (const s of panels[i].series) {
      for (const p of s.points.filter((q) => Number.isFinite(q.y))) {
        t.ok(p.x >= xMin && p.x <= xMax && p.y >= yMin && p.y <= yMax, `panel ${i}: (${p.x}, ${p.y}) inside the axes`);
      }
    }
    // Drawn coordinates stay inside the plot rectangle.
    const [, rx, ry, rw, rh] = g.match(/<rect x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"/)!.map(Number);
    for (const p of paths) {
      for (const [x, y] of p[2].split(/[ML]/).filter(Boolean).map((c) => c.split(',').map(Number))) {
        t.ok(x >= rx - 0.01 && x <= rx + rw + 0.01 && y >= ry - 0.01 && y <= ry + rh + 0.01, `vertex ${x},${y} in the frame`);
      }
    }
  });
  const legend = svg.split('<g class="legend">')[1];
  t.equal((legend.match(/<text /g) ?? []).length, 4, 'one legend entry per distinct series');
  t.match(svg, /stroke-dasharray/);
  const stroke = (name: string) => svg.match(new RegExp(`data-series="${name.replace(/[()]/g, '\\$&')}" d="[^"]+" fill="none" stroke="([^"]+)"`))![1];
  t.equal(stroke('JPEG (matched)'), stroke('JPEG'), 'a group shares its colour');
  t.not(stroke('PSIC full'), stroke('JPEG'), 'other series do not');
});

t.test('PNG: decodes at the SVG size', async (t) => {
  const svg = linePlotSvg(panels);
  const [, w, h] = svg.match(/width="(\d+)" height="(\d+)"/)!.map(Number);
  const png = await svgToPng(svg);
  const meta = await sharp(png).metadata();
  t.same([meta.format, meta.width, meta.height], ['png', w, h]);
  const stats = await sharp(png).stats();
  t.ok(stats.channels.slice(0, 3).some((c) => c.min < 100), 'something was drawn on the white background');
});
