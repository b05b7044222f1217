// Known downloadable assets (CLIP's BPE vocabulary and OpenAI's ViT-B/32 weights), fetched into
// a cache with a pinned SHA-256. A download streams into a temp file beside the target while it
// is hashed; only a complete file with the right hash is renamed into place, so a failed check
// or an interrupted transfer leaves nothing behind and never passes as complete.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

import { PsicError, PsicFormatError, PsicInputError } from '../errors.js';

export interface Asset {
  name: string;
  file: string;
  url: string;
  sha256: string;
  /** Refuse anything larger (a server cannot make us fill the disk). */
  maxBytes: number;
}

export const ASSETS: Record<string, Asset> = {
  'clip-bpe': {
    name: 'clip-bpe',
    file: 'bpe_simple_vocab_16e6.txt.gz',
    url: 'https://github.com/openai/CLIP/raw/d05afc436d78f1c48dc0dbf8e5980a9d471f35f6/clip/bpe_simple_vocab_16e6.txt.gz',
    sha256: '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a',
    maxBytes: 4 << 20,
  },
  'clip-vit-b-32': {
    name: 'clip-vit-b-32',
    file: 'ViT-B-32.pt',
    url: 'https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt',
    sha256: '40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af',
    maxBytes: 400 << 20,
  },
};

/** The cache: PSIC_HOME, default ~/.cache/psic. */
export function cacheDir(): string {
  return process.env.PSIC_HOME ?? join(homedir(), '.cache', 'psic');
}

/** Where an asset is found: a local copy in PSIC_ASSETS (or `dir`), else the cache. */
export function assetPath(name: string, options: { dir?: string } = {}): string | undefined {
  const asset = ASSETS[name];
  if (!asset) throw new PsicInputError(`unknown asset '${name}' (known: ${Object.keys(ASSETS).join(', ')})`);
  for (const d of [options.dir, process.env.PSIC_ASSETS, cacheDir()]) {
    if (d && existsSync(join(d, asset.file))) return join(d, asset.file);
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function download(url: string, out: string, asset: Asset, redirects = 5): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const get = url.startsWith('https:') ? https.get : url.startsWith('http:') ? http.get : undefined;
    if (!get) return reject(new PsicInputError(`unsupported URL '${url}'`));
    const req = get(url, { timeout: 60_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        download(new URL(res.headers.location, url).toString(), out, asset, redirects - 1).then(resolveHash, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        return reject(new PsicError(`download of ${asset.name} failed: HTTP ${status} from ${url}`));
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      const hash = createHash('sha256');
      const file = createWriteStream(out, { flags: 'wx', mode: 0o644 });
      let received = 0;
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        res.destroy();
        file.destroy();
        reject(err);
      };
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > asset.maxBytes) return fail(new PsicFormatError(`${asset.name}: more than ${asset.maxBytes} bytes`));
        hash.update(chunk);
      });
      res.on('aborted', () => fail(new PsicError(`download of ${asset.name} was interrupted`)));
      res.on('error', (err) => fail(new PsicError(`download of ${asset.name} failed: ${err.message}`)));
      res.pipe(file);
      file.on('error', (err) => fail(err));
      file.on('finish', () => {
        if (failed) return;
        if (!res.complete || (Number.isFinite(declared) && received !== declared)) {
          return fail(new PsicError(`download of ${asset.name} was interrupted (${received} of ${declared} bytes)`));
        }
        resolveHash(hash.digest('hex'));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new PsicError(`download of ${asset.name} failed: ${err.message}`)));
  });
}

/**
 * Downloads a known asset into the cache (or `dir`) unless a verified copy is there. `url`
 * overrides the source (mirrors, tests). Returns the file's path.
 */
export async function fetchAsset(name: string, options: { url?: string; dir?: string; progress?: (bytes: number) => void } = {}): Promise<string> {
  const asset = ASSETS[name];
  if (!asset) throw new PsicInputError(`unknown asset '${name}' (known: ${Object.keys(ASSETS).join(', ')})`);
  const dir = options.dir ?? cacheDir();
  const target = join(dir, asset.file);
  if (existsSync(target) && (await sha256File(target)) === asset.sha256) return target;
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.partial`;
  try {
    const digest = await download(options.url ?? asset.url, tmp, asset);
    if (digest !== asset.sha256) {
      throw new PsicFormatError(`${asset.name}: SHA-256 ${digest} does not match the pinned ${asset.sha256}; nothing was kept`);
    }
    await rename(tmp, target);
    return target;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Verifies a local copy against its pinned hash. */
export async function verifyAsset(name: string, path: string): Promise<boolean> {
  const asset = ASSETS[name];
  if (!asset) throw new PsicInputError(`unknown asset '${name}'`);
  return (await stat(path)).isFile() && (await sha256File(path)) === asset.sha256;
}
