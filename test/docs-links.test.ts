// The documentation's links: in README.md and every docs/*.md, each relative Markdown link and
// image must point at a file that exists, and a #anchor at a heading of the target page (GitHub's
// heading ids). README.md must stay short (≤ 12 KB) and docs/README.md must index every page.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README_LIMIT = 12 * 1024;

/** The Markdown pages checked: README.md and docs/*.md. */
function pages(): string[] {
  const docs = join(root, 'docs');
  const inDocs = existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => join(docs, f)) : [];
  return [join(root, 'README.md'), ...inDocs];
}

/** Lines outside fenced code blocks (``` or ~~~), with their 1-based numbers. */
function proseLines(markdown: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, i) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1][0].repeat(m[1].length);
      else if (m[1][0] === fence[0] && m[1].length >= fence.length) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, n: i + 1 });
  });
  return out;
}

/** Inline code spans removed (their text cannot hold links). */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length));
}

/** GitHub's id for a heading text: lowercase, punctuation other than - and _ dropped, spaces to -. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/`/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a page's headings get, duplicates numbered -1, -2, ... as GitHub does. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(markdown)) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

interface Link { target: string; line: number; image: boolean }

/** Inline links and images, [text](target "title") and ![alt](target), outside code. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  const re = /(!?)\[((?:[^[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
  for (const { line, n } of proseLines(markdown)) {
    for (const m of withoutCodeSpans(line).matchAll(re)) {
      out.push({ target: m[3].replace(/^<|>$/g, ''), line: n, image: m[1] === '!' });
    }
  }
  return out;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** Every broken relative link of one page, as "file:line: target (why)". */
export function brokenLinks(page: string): string[] {
  const text = readFileSync(page, 'utf8');
  const broken: string[] = [];
  const where = relative(root, page);
  for (const link of links(text)) {
    if (isExternal(link.target)) continue;
    const hash = link.target.indexOf('#');
    const pathPart = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
    const file = pathPart === '' ? page : resolve(dirname(page), pathPart);
    const label = `${where}:${link.line}: ${link.target}`;
    if (pathPart === '' && anchor === undefined) { broken.push(`${label} (empty link)`); continue; }
    if (!existsSync(file)) { broken.push(`${label} (no such file: ${relative(root, file)})`); continue; }
    if (anchor === undefined) continue;
    if (!file.endsWith('.md') || statSync(file).isDirectory()) continue; // anchors are checked in Markdown pages only
    if (!anchors(file === page ? text : readFileSync(file, 'utf8')).has(anchor)) broken.push(`${label} (no heading with id '${anchor}' in ${relative(root, file)})`);
  }
  return broken;
}

t.test('GitHub heading ids', async (t) => {
  t.equal(slug('Rate–distortion: `psic eval rd`'), 'ratedistortion-psic-eval-rd');
  t.equal(slug('Set-up: two commands (fresh Debian 12)'), 'set-up-two-commands-fresh-debian-12');
  t.equal(slug('`psic_bench`: codec and training throughput on one device (C++, no Node)'),
    'psic_bench-codec-and-training-throughput-on-one-device-c-no-node');
  t.equal(slug("An image's way: compress"), 'an-images-way-compress');
  t.equal(slug('[A link](x.md) and **bold**'), 'a-link-and-bold');
  t.same([...anchors('# A\n## B\n```\n# not a heading\n```\n## B\n### B\n## A')], ['a', 'b', 'b-1', 'b-2', 'a-1']);
});

t.test('link extraction skips code and external links', async (t) => {
  const md = [
    'See [api](docs/api.md#codec) and ![plot](benchmarks/rd/rd.png "RD").',
    'Inline `[not](a-link.md)` code, and [web](https://example.com).',
    '```sh',
    '[also not](inside-a-fence.md)',
    '```',
    '[parens](a_(b).md) [angle](<docs/a b.md>)',
  ].join('\n');
  t.same(links(md).map((l) => [l.target, l.line, l.image]), [
    ['docs/api.md#codec', 1, false], ['benchmarks/rd/rd.png', 1, true], ['https://example.com', 2, false],
    ['a_(b).md', 6, false], ['docs/a b.md', 6, false],
  ]);
});

t.test('a broken link or anchor is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'psic-docs-links-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'x.md'), '# X\n## There\n## There\n');
  writeFileSync(join(dir, 'README.md'), [
    '# Top',
    '[ok](#top) [ok](docs/x.md) [ok](docs/x.md#there) [ok](docs/x.md#there-1) [ok](docs/)',
    '[bad anchor](#nope) [missing](docs/missing.md) [gone](docs/x.md#gone) [no dup](docs/x.md#there-2) ![img](nope.png)',
  ].join('\n'));
  const found = brokenLinks(join(dir, 'README.md'));
  t.match(found, [/:3: #nope \(no heading/, /:3: docs\/missing\.md \(no such file/, /:3: docs\/x\.md#gone \(no heading/,
    /:3: docs\/x\.md#there-2 \(no heading/, /:3: nope\.png \(no such file/]);
  t.equal(found.length, 5, found.join('\n'));
});

t.test('README.md is short', async (t) => {
  const size = statSync(join(root, 'README.md')).size;
  t.ok(size <= README_LIMIT, `README.md is ${size} bytes (limit ${README_LIMIT}): move detail to docs/`);
});

t.test('docs/README.md indexes every page', async (t) => {
  const indexPath = join(root, 'docs', 'README.md');
  t.ok(existsSync(indexPath), 'docs/README.md exists');
  const indexed = new Set(links(readFileSync(indexPath, 'utf8')).map((l) => l.target.split('#')[0]));
  for (const page of pages()) {
    if (dirname(page) !== join(root, 'docs') || page === indexPath) continue;
    t.ok(indexed.has(relative(join(root, 'docs'), page)), `docs/README.md links to ${relative(root, page)}`);
  }
});

for (const page of pages()) {
  t.test(`links in ${relative(root, page)}`, async (t) => {
    const found = links(readFileSync(page, 'utf8'));
    t.ok(found.length > 0, 'has links');
    t.same(brokenLinks(page), [], 'every relative link resolves');
  });
}
