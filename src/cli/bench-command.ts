// psic bench: the benchmark of src/bench/bench.ts from the command line.
import { BENCH_SUITES, runBench } from '../bench/bench.js';
import { choiceFlag, deviceFlag, intFlag, parse } from './usage.js';

const HELP = `Usage: psic bench [--json] [--suite codec|psic|clip|targets|training|batch|all] [--model M] [--psic-model P] [--data DIR] [--images N] [--runs N] [--device cpu|cuda]

Benchmarks encode/decode speed (split into transforms and entropy coding), the sub-pixel
decoder against ConvTranspose2d, the fast path against the CompressAI-compatible path, rANS
throughput, and bpp/PSNR, on Kodak (\${PSIC_SHARED:-../shared}/data/kodak) with the N=128/M=192
CompressAI checkpoint. The psic suite decodes each image protected and full (with a key) and
reports both decode speeds and the synthesis share of decoding (default model: a seeded
psic-hyperprior N=128/M=192 on the same encoder). The clip suite times CLIP's towers at the
ViT-B/32 shape with random weights; the targets suite times the imported TF.js models against
the tfjs CPU runtime; the training suite times PSIC training steps (batch 8, 128x128 crops,
stage 1 and 2, gear and a ViT-B/32-shaped CLIP); the batch suite times compressMany /
decompressMany at 1, 2 and N jobs against a naive sequential loop (and oversubscribed), the
event loop's longest timer gap meanwhile, and RSS over 1,000 cycles. Medians of --runs runs (default 5).
Progress goes to stderr on a TTY.
`;

export async function benchCommand(argv: string[]): Promise<void> {
  const args = parse(
    argv,
    {
      json: { type: 'boolean' },
      suite: { type: 'string' },
      model: { type: 'string' },
      'psic-model': { type: 'string' },
      data: { type: 'string' },
      images: { type: 'string' },
      runs: { type: 'string' },
      device: { type: 'string' },
    },
    HELP,
  );
  if (!args) return;
  const result = await runBench({
    suite: choiceFlag(args.values.suite, '--suite', BENCH_SUITES),
    psicModel: args.values['psic-model'] as string | undefined,
    model: args.values.model as string | undefined,
    data: args.values.data as string | undefined,
    images: intFlag(args.values.images, '--images', 1),
    runs: intFlag(args.values.runs, '--runs', 1),
    device: deviceFlag(args.values.device),
  });
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const b = 'batch' in result ? result.batch : undefined;
  if (b) {
    for (const r of b.rows) {
      process.stdout.write(`batch ${r.variant} (${r.concurrency} x ${r.threadsPerJob} threads): compress ${r.compress.imagesPerS} images/s ${r.compress.MPps} MP/s (${r.compress.speedupVsNaive}x naive), decompress ${r.decompress.imagesPerS} images/s ${r.decompress.MPps} MP/s (${r.decompress.speedupVsNaive}x), max timer gap ${r.maxTimerGapMs} ms\n`);
    }
    process.stdout.write(`batch: RSS ${b.rss.startMB} -> ${b.rss.endMB} MB over ${b.rss.cycles} cycles\n`);
  }
  const tr = 'training' in result ? result.training : undefined;
  if (tr) for (const r of tr.rows) process.stdout.write(`training ${JSON.stringify(r)}\n`);
  const tg = 'targets' in result ? result.targets : undefined;
  if (tg) for (const r of tg) process.stdout.write(`target ${JSON.stringify(r)}\n`);
  const c = 'clip' in result ? result.clip : undefined;
  if (c) process.stdout.write(`clip (${c.shape}): ${JSON.stringify(c)}\n`);
  const p = 'psic' in result ? result.psic : undefined;
  if (p) {
    process.stdout.write(`psic: protected decode ${p.protectedDecodeMPps} MP/s, full decode ${p.fullDecodeMPps} MP/s, synthesis ${(p.synthesisShareOfDecode * 100).toFixed(1)}% of decoding\n`);
  }
  const s = 'summary' in result ? result.summary : undefined;
  if (!s) return;
  process.stdout.write(
    [
      `images ${result.images} x ${result.runs} runs, ${result.threads} threads`,
      `rate-distortion: ${s.bpp} bpp (payload ${s.payloadBpp}, estimated ${s.estimatedBpp}), PSNR ${s.psnr} dB`,
      `encode ${s.encodeMPps} MP/s (entropy ${(s.encodeEntropyShare * 100).toFixed(1)}%), decode ${s.decodeMPps} MP/s (entropy ${(s.decodeEntropyShare * 100).toFixed(1)}%)`,
      `sub-pixel decode vs ConvTranspose2d: ${s.subpixelVsTransposedDecodeSpeedup}x; fast vs compat end to end: ${s.fastVsCompatEndToEndSpeedup}x`,
      `rANS: encode ${(s.rans.encodeSymbolsPerS / 1e6).toFixed(1)} M symbols/s, decode ${(s.rans.decodeSymbolsPerS / 1e6).toFixed(1)} M symbols/s`,
      s.kodim23 ? `kodim23: encode ${s.kodim23.encodeMs} ms, decode ${s.kodim23.decodeMs} ms; CompressAI ${s.kodim23.compressaiEncodeMs} / ${s.kodim23.compressaiDecodeMs} ms → ${s.kodim23.speedupVsCompressAI}x` : '',
    ].join('\n') + '\n',
  );
}
