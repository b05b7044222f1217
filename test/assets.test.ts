// The asset downloader against a loopback HTTP server that serves fixture files.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

import { PsicError, PsicFormatError, PsicInputError, fetchAsset, verifyAsset } from '../src/index.js';
import { needsShared, sharedDir } from './helpers/shared.js';

t.test('fetch, verify, refuse and survive interruptions', needsShared, async (t) => {
  const vocab = readFileSync(join(sharedDir(), 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz'));
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (req.url === '/good') {
      res.writeHead(200, { 'content-length': vocab.length });
      res.end(vocab);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: '/good' });
      res.end();
    } else if (req.url === '/corrupt') {
      const bad = Buffer.from(vocab);
      bad[1000] ^= 0xff;
      res.writeHead(200, { 'content-length': bad.length });
      res.end(bad);
    } else if (req.url === '/interrupted') {
      res.writeHead(200, { 'content-length': vocab.length });
      res.write(vocab.subarray(0, 100_000), () => res.socket?.destroy());
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'psic-assets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  await t.rejects(fetchAsset('clip-bpe', { url: `${base}/corrupt`, dir }), PsicFormatError, 'a failed hash check is an error');
  t.same(readdirSync(dir), [], '... and leaves nothing behind');
  await t.rejects(fetchAsset('clip-bpe', { url: `${base}/interrupted`, dir }), PsicError, 'an interrupted download is an error');
  t.same(readdirSync(dir), [], '... and leaves nothing behind');
  await t.rejects(fetchAsset('clip-bpe', { url: `${base}/missing`, dir }), /HTTP 404/);
  t.same(readdirSync(dir), []);

  const path = await fetchAsset('clip-bpe', { url: `${base}/redirect`, dir });
  t.equal(path, join(dir, 'bpe_simple_vocab_16e6.txt.gz'));
  t.ok(await verifyAsset('clip-bpe', path), 'the pinned hash matches');
  const before = requests;
  await fetchAsset('clip-bpe', { url: `${base}/good`, dir });
  t.equal(requests, before, 'a verified cached copy is not downloaded again');
  await t.rejects(fetchAsset('no-such-asset', { dir }), PsicInputError);
});
