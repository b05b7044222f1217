// The benchmark behind `npm run bench` and `psic bench`: speed and rate-distortion on Kodak,
// medians of several runs, with every ratio measured side by side in the same run.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';

import { batchBench } from './batch-bench.js';
import { Codec, type Device, validateDevice } from '../codec/codec.js';
import { PsicInputError } from '../errors.js';
import { readImage, type RgbImage } from '../io/image-io.js';
import { generateKey } from '../keys.js';
import { HUMAN_MODELS, humanModelPath } from '../targets/target-model.js';
import { loadTfjsReference } from '../targets/tfjs-reference.js';
import { psnr } from '../evaluate/metrics.js';
import { type NativeTarget, native } from '../native.js';

export const BENCH_SUITES = ['codec', 'psic', 'clip', 'targets', 'training', 'batch', 'all'] as const;
export type BenchSuite = (typeof BENCH_SUITES)[number];

export interface BenchOptions {
  /** 'codec' (the CompressAI-compatible codec), 'psic' (protected vs full decodes), 'clip' (ViT-B/32 towers), 'targets' (TF.js imports vs tfjs), 'training' (PSIC training steps), 'batch' (compressMany/decompressMany throughput, RSS) or 'all'. */
  suite?: BenchSuite;
  /** PSIC model for the psic suite (default: a seeded psic-hyperprior N=128/M=192 whose encoder is the benchmark model's). */
  psicModel?: string;
  model?: string;
  data?: string;
  images?: number;
  runs?: number;
  /** Progress lines on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Where the training and batch suites run: 'cpu' (default) or 'cuda[:N]' (a CUDA build). */
  device?: Device;
}

export function sharedDir(): string {
  return resolve(process.env.PSIC_SHARED ?? join(process.cwd(), '..', 'shared'));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

interface ImageRow {
  image: string;
  width: number;
  height: number;
  bpp: number;
  payloadBpp: number;
  estimatedBpp: number;
  psnr: number;
  encodeMs: number;
  encodeTransformMs: number;
  encodeEntropyMs: number;
  decodeMs: number;
  decodeTransformMs: number;
  decodeEntropyMs: number;
  decodeTransposedMs: number;
  compatEncodeMs: number;
  compatDecodeMs: number;
}

interface Sample {
  encMs: number;
  encTransformMs: number;
  encEntropyMs: number;
  decMs: number;
  decTransformMs: number;
  decEntropyMs: number;
  decTransposedMs: number;
  compatEncMs: number;
  compatDecMs: number;
}

function summarize(samples: Sample[], key: keyof Sample): number {
  return round(median(samples.map((s) => s[key])), 2);
}

async function ransThroughput(runs: number): Promise<{ symbols: number; encodeSymbolsPerS: number; decodeSymbolsPerS: number }> {
  // The GaussianConditional tables and realistic symbols of CompressAI's typical_10k vector, tiled to 1M symbols.
  const vectors = JSON.parse(readFileSync(join(sharedDir(), 'fixtures', 'compressai-hyperprior', 'rans', 'vectors.json'), 'utf8'));
  const c = vectors.cases.find((x: { name: string }) => x.name === 'typical_10k');
  const stride = Math.max(...c.cdfs.map((r: number[]) => r.length));
  const cdfs = new Int32Array(c.cdfs.length * stride);
  c.cdfs.forEach((r: number[], i: number) => cdfs.set(r, i * stride));
  const tiles = 100;
  const n = c.symbols.length * tiles;
  const symbols = new Int32Array(n);
  const indexes = new Int32Array(n);
  for (let t = 0; t < tiles; t++) {
    symbols.set(c.symbols, t * c.symbols.length);
    indexes.set(c.indexes, t * c.indexes.length);
  }
  const lengths = Int32Array.from(c.cdf_lengths);
  const offsets = Int32Array.from(c.offsets);
  const addon = native();
  const enc: number[] = [];
  const dec: number[] = [];
  let bytes = addon.ransEncode(symbols, indexes, cdfs, stride, lengths, offsets);
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    bytes = addon.ransEncode(symbols, indexes, cdfs, stride, lengths, offsets);
    enc.push(performance.now() - t0);
    t0 = performance.now();
    const back = addon.ransDecode(bytes, indexes, cdfs, stride, lengths, offsets);
    dec.push(performance.now() - t0);
    if (back[n - 1] !== symbols[n - 1]) throw new Error('rANS round trip failed');
  }
  return { symbols: n, encodeSymbolsPerS: Math.round(n / (median(enc) / 1000)), decodeSymbolsPerS: Math.round(n / (median(dec) / 1000)) };
}

// PSIC: compress each image once, then decode it protected (no key) and full (with the key),
// interleaved, and report MP/s of each and the synthesis share of decoding.
async function psicBench(files: string[], data: string, model: string, options: BenchOptions, runs: number, progress: boolean) {
  const codec = options.psicModel
    ? await Codec.load(options.psicModel)
    : await Codec.init({ architecture: 'psic-hyperprior', N: 128, M: 192, seed: 0, from: model });
  const key = generateKey();
  let megapixels = 0;
  const protectedMs: number[] = [];
  const fullMs: number[] = [];
  const transformMs: number[] = [];
  for (const [i, file] of files.entries()) {
    const image = await readImage(join(data, file));
    megapixels += (image.width * image.height) / 1e6;
    const bytes = await codec.compress({ data: image.data, width: image.width, height: image.height, channels: 3 });
    const p: number[] = [];
    const f: number[] = [];
    const tr: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      const a = await codec.decompressWithTimings(bytes);
      p.push(performance.now() - t0);
      t0 = performance.now();
      const b = await codec.decompressWithTimings(bytes, { key });
      f.push(performance.now() - t0);
      tr.push((a.timings.transformMs + b.timings.transformMs) / (a.timings.totalMs + b.timings.totalMs));
    }
    protectedMs.push(median(p));
    fullMs.push(median(f));
    transformMs.push(median(tr));
    if (progress) process.stderr.write(`[psic ${i + 1}/${files.length}] ${file}: protected ${median(p).toFixed(0)} ms, full ${median(f).toFixed(0)} ms\n`);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    model: options.psicModel ?? `psic-hyperprior N=128 M=192 (seed 0, encoder from ${model})`,
    modelId: codec.modelId,
    parameterCounts: codec.parameterCounts,
    protectedDecodeMPps: round(megapixels / (sum(protectedMs) / 1000), 3),
    fullDecodeMPps: round(megapixels / (sum(fullMs) / 1000), 3),
    synthesisShareOfDecode: round(mean(transformMs)),
  };
}

// CLIP at the ViT-B/32 shape with random weights: image tower forward and forward + backward
// (ms/image) at batch 1 and 8, and the text tower on one 77-token sequence.
async function clipBench(runs: number, progress: boolean) {
  const clip = await native().randomClip('ViT-B/32', 0);
  const R = clip.info().imageResolution;
  const result: Record<string, number> = {};
  for (const batch of [1, 8]) {
    const data = new Float32Array(batch * 3 * R * R).map(() => Math.random() * 2 - 1);
    const fwd: number[] = [];
    const train: number[] = [];
    await clip.encodeImage(data, [batch, 3, R, R]);  // warm-up
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      await clip.encodeImage(data, [batch, 3, R, R]);
      fwd.push((performance.now() - t0) / batch);
      t0 = performance.now();
      await clip.imageTrainStep(batch);
      train.push((performance.now() - t0) / batch);
    }
    result[`imageForwardMsPerImageBatch${batch}`] = round(median(fwd), 1);
    result[`imageForwardBackwardMsPerImageBatch${batch}`] = round(median(train), 1);
    if (progress) process.stderr.write(`[clip] batch ${batch}: forward ${median(fwd).toFixed(1)} ms/image, forward+backward ${median(train).toFixed(1)} ms/image\n`);
  }
  const ids = new Int32Array(77);
  ids[0] = 49406;
  for (let i = 1; i < 76; i++) ids[i] = 320 + i;
  ids[76] = 49407;
  const text: number[] = [];
  await clip.encodeText(ids, [1, 77]);
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await clip.encodeText(ids, [1, 77]);
    text.push(performance.now() - t0);
  }
  result.textForwardMs77Tokens = round(median(text), 1);
  return { shape: 'ViT-B/32 (random weights)', ...result };
}

// The graph outputs a target's heads read: backward runs from these (centernet's detections are
// a non-differentiable TopK tail).
const differentiableOutputs = (outputs: string[]) => outputs.filter((o) => o !== 'tower_0/detections');

// Imported TF.js targets against the tfjs CPU runtime, on the same inputs: forward and forward +
// backward ms/image at batch 1 and 8. Graphs exported for batch 1 (centernet) run a batch image
// by image on both sides.
async function targetsBench(runs: number, progress: boolean) {
  const rows = [];
  for (const name of HUMAN_MODELS) {
    let path: string;
    try {
      path = humanModelPath(name);
    } catch {
      continue;  // the optional package is absent
    }
    const ours = await native().loadTfjsGraph(path);
    const reference = await loadTfjsReference(path);
    const info = ours.info();
    const gradOutputs = differentiableOutputs(info.outputs);
    const fixedBatch = info.inputShape[0] === 1;
    let tfjsBackwardAtBatch1: number | null = null;
    for (const batch of [1, 8]) {
      const shape = [batch, ...info.inputShape.slice(1)];
      const one = shape.slice(1).reduce((a, b) => a * b, 1);
      const data = new Float32Array(batch * one).map(() => Math.random());
      // tfjs runs a fixed-batch graph once per image, as ours does internally.
      const perImage = async (fn: (d: Float32Array, s: number[]) => Promise<unknown>) => {
        if (!fixedBatch) return fn(data, shape);
        for (let b = 0; b < batch; b++) await fn(data.subarray(b * one, (b + 1) * one), [1, ...shape.slice(1)]);
      };
      const time = async (fn: () => Promise<unknown>) => {
        await fn();
        const ts: number[] = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          await fn();
          ts.push((performance.now() - t0) / batch);
        }
        return round(median(ts), 2);
      };
      const forward = await time(() => ours.run(data, shape));
      const forwardBackward = await time(() => ours.runBackward(data, shape, gradOutputs));
      const tfjsForward = await time(() => perImage((d, s) => reference.run(d, s, info.outputs)));
      // tfjs's pure-JS backward is slow and memory-hungry (minutes and >6 GB for centernet at
      // batch 8): its forward + backward is timed at batch 1 only and reported for both rows.
      if (batch === 1) {
        const differentiable = await reference.runBackward(data.subarray(0, one), [1, ...shape.slice(1)], gradOutputs);
        tfjsBackwardAtBatch1 = differentiable ? await time(() => reference.runBackward(data, shape, gradOutputs)) : null;
      }
      const tfjsForwardBackward = tfjsBackwardAtBatch1;
      const row = {
        model: name, batch, forwardMsPerImage: forward, forwardBackwardMsPerImage: forwardBackward,
        tfjsForwardMsPerImage: tfjsForward, tfjsForwardBackwardMsPerImage: tfjsForwardBackward, tfjsForwardBackwardBatch: 1,
        forwardSpeedupVsTfjs: round(tfjsForward / forward, 2),
        forwardBackwardSpeedupVsTfjs: tfjsForwardBackward === null ? null : round(tfjsForwardBackward / forwardBackward, 2),
      };
      rows.push(row);
      if (progress) process.stderr.write(`[targets] ${name} batch ${batch}: forward ${forward} ms/image (tfjs ${tfjsForward}), forward+backward ${forwardBackward} (tfjs ${tfjsForwardBackward})\n`);
    }
  }
  return rows;
}

// PSIC training steps (batch 8, 128x128 crops) on the N=128/M=192 psic-hyperprior whose encoder
// side is the benchmark checkpoint's: ms per full and per protected step of stage 1 and 2, with
// the gear target and with a ViT-B/32-shaped CLIP (random weights, image embedding head).
async function trainingBench(model: string, runs: number, progress: boolean, device: Device) {
  const dir = mkdtempSync(join(tmpdir(), 'psic-bench-train-'));
  try {
    const init = await Codec.init({ architecture: 'psic-hyperprior', N: 128, M: 192, seed: 0, from: model });
    const path = join(dir, 'psic.safetensors');
    await init.save(path);
    const targets: { name: string; target: () => Promise<NativeTarget> }[] = [];
    try {
      const gear = humanModelPath('gear');
      targets.push({ name: 'human:gear', target: () => native().loadHumanTarget('gear', gear) });
    } catch {
      // the optional human models are absent
    }
    targets.push({ name: 'clip ViT-B/32 (random weights)', target: async () => native().clipTarget(await native().randomClip('ViT-B/32', 0), 'clip:random', null, 77, []) });
    const B = 8, S = 128;
    const data = new Float32Array(B * 3 * S * S).map((_, i) => ((i * 2654435761) % 1000) / 1000);
    const rows = [];
    for (const t of targets) {
      const target = await t.target();
      for (const stage of [1, 2] as const) {
        // The config's defaults otherwise (lambda 0.013, lr 1e-4, wrongKeys 2, ...: cpp/training/trainer_config.h).
        const config = JSON.stringify({ model: path, stage, device });
        const trainer = await native().createTrainer(config, new Uint8Array(32).fill(0xab), [{ target, weight: 1 }], '');
        await trainer.step(data, [B, 3, S, S]);  // warm-up (a full step), so timing starts on a protected one
        const full: number[] = [], prot: number[] = [];
        for (let r = 0; r < runs; r++) {
          for (const list of [prot, full]) {
            const t0 = performance.now();
            await trainer.step(data, [B, 3, S, S]);
            list.push(performance.now() - t0);
          }
        }
        const row = { target: t.name, stage, batch: B, crop: S, wrongKeys: 2, fullStepMs: round(median(full), 0), protectedStepMs: round(median(prot), 0),
          meanStepMs: round((median(full) + median(prot)) / 2, 0) };
        rows.push(row);
        if (progress) process.stderr.write(`[training] ${t.name} stage ${stage}: full ${row.fullStepMs} ms, protected ${row.protectedStepMs} ms\n`);
      }
    }
    return { device, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runBench(options: BenchOptions = {}) {
  const shared = sharedDir();
  const model = options.model ?? join(shared, 'fixtures', 'compressai-hyperprior', 'hyperprior-N128-M192.pth.tar');
  const data = options.data ?? join(shared, 'data', 'kodak');
  const runs = options.runs ?? 5;
  const progress = options.progress ?? Boolean(process.stderr.isTTY);
  if (!existsSync(data)) throw new PsicInputError(`benchmark data not found: ${data} (set PSIC_SHARED or --data)`);
  if (!Number.isInteger(runs) || runs < 1) throw new PsicInputError('--runs must be a positive integer');
  let files = readdirSync(data).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort();
  if (options.images !== undefined) files = files.slice(0, options.images);
  if (files.length === 0) throw new PsicInputError(`no images in ${data}`);

  const suite = options.suite ?? 'all';
  const device = validateDevice(options.device);
  if (!BENCH_SUITES.includes(suite)) throw new PsicInputError(`--suite must be one of ${BENCH_SUITES.join(', ')}`);
  if (suite === 'batch') return { batch: await batchBench(files, data, model, runs, progress, device) };
  if (suite === 'clip' || suite === 'targets' || suite === 'training') {
    await Codec.load(model);  // sets the thread count as every suite does
    const section = suite === 'clip' ? { clip: await clipBench(runs, progress) }
      : suite === 'targets' ? { targets: await targetsBench(runs, progress) } : { training: await trainingBench(model, runs, progress, device) };
    return { runs, threads: native().getThreads(), cores: availableParallelism(), ...section };
  }
  const psic = suite === 'psic' || suite === 'all' ? await psicBench(files, data, model, options, runs, progress) : undefined;
  const clip = suite === 'all' ? await clipBench(runs, progress) : undefined;
  const targets = suite === 'all' ? await targetsBench(runs, progress) : undefined;
  const training = suite === 'all' ? await trainingBench(model, runs, progress, device) : undefined;
  const batch = suite === 'all' ? await batchBench(files, data, model, runs, progress, device) : undefined;
  if (suite === 'psic') return { model, data, images: files.length, runs, threads: native().getThreads(), cores: availableParallelism(), psic };
  const fast = await Codec.load(model, { path: 'fast' });
  const compat = await Codec.load(model, { path: 'compat' });
  const perImage: ImageRow[] = [];
  let megapixels = 0;
  for (const [i, file] of files.entries()) {
    const image: RgbImage = await readImage(join(data, file));
    const mp = (image.width * image.height) / 1e6;
    megapixels += mp;
    const raw = { data: image.data, width: image.width, height: image.height, channels: 3 as const };
    const stats = await fast.compressWithStats(raw, { estimate: true });
    const decoded = await fast.decompress(stats.container);
    const compatBytes = await compat.compress(raw);
    const samples: Sample[] = [];
    for (let r = 0; r < runs; r++) {
      // Interleaved, so that load on the machine hits every variant alike.
      let t0 = performance.now();
      const enc = await fast.compressWithStats(raw, { estimate: false });
      const encMs = performance.now() - t0;
      t0 = performance.now();
      const dec = await fast.decompressWithTimings(enc.container, { synthesis: 'subpixel' });
      const decMs = performance.now() - t0;
      t0 = performance.now();
      await fast.decompressWithTimings(enc.container, { synthesis: 'transposed' });
      const decTransposedMs = performance.now() - t0;
      t0 = performance.now();
      await compat.compress(raw);
      const compatEncMs = performance.now() - t0;
      t0 = performance.now();
      await compat.decompress(compatBytes);
      const compatDecMs = performance.now() - t0;
      samples.push({
        encMs, encTransformMs: enc.timings.transformMs, encEntropyMs: enc.timings.entropyMs,
        decMs, decTransformMs: dec.timings.transformMs, decEntropyMs: dec.timings.entropyMs,
        decTransposedMs, compatEncMs, compatDecMs,
      });
    }
    const row: ImageRow = {
      image: file,
      width: image.width,
      height: image.height,
      bpp: round(stats.bpp),
      payloadBpp: round(stats.payloadBpp),
      estimatedBpp: round(stats.estimatedBpp),
      psnr: round(psnr(image.data, decoded.data), 3),
      encodeMs: summarize(samples, 'encMs'),
      encodeTransformMs: summarize(samples, 'encTransformMs'),
      encodeEntropyMs: summarize(samples, 'encEntropyMs'),
      decodeMs: summarize(samples, 'decMs'),
      decodeTransformMs: summarize(samples, 'decTransformMs'),
      decodeEntropyMs: summarize(samples, 'decEntropyMs'),
      decodeTransposedMs: summarize(samples, 'decTransposedMs'),
      compatEncodeMs: summarize(samples, 'compatEncMs'),
      compatDecodeMs: summarize(samples, 'compatDecMs'),
    };
    perImage.push(row);
    if (progress) {
      process.stderr.write(`[${i + 1}/${files.length}] ${file}: ${row.bpp} bpp, ${row.psnr} dB, enc ${row.encodeMs} ms, dec ${row.decodeMs} ms\n`);
    }
  }
  const total = (key: Exclude<keyof ImageRow, 'image'>) => perImage.reduce((a, r) => a + r[key], 0);
  const encS = total('encodeMs') / 1000;
  const decS = total('decodeMs') / 1000;
  const rans = await ransThroughput(runs);
  const kodim23 = perImage.find((r) => r.image === 'kodim23.png');
  // CompressAI's own timing of this checkpoint on kodim23 (same Debian LibTorch, 2 threads), from the fixture.
  let compressai: { encodeMs: number; decodeMs: number } | undefined;
  const timingFile = join(shared, 'fixtures', 'compressai-hyperprior', 'timing-N128-kodim23.json');
  if (existsSync(timingFile)) {
    const t = JSON.parse(readFileSync(timingFile, 'utf8'))['threads=2'];
    if (t) compressai = { encodeMs: round(t.compress_total.median_s * 1000, 1), decodeMs: round(t.decompress_total.median_s * 1000, 1) };
  }
  return {
    model,
    data,
    images: perImage.length,
    runs,
    threads: native().getThreads(),
    cores: availableParallelism(),
    summary: {
      bpp: round(mean(perImage.map((r) => r.bpp))),
      payloadBpp: round(mean(perImage.map((r) => r.payloadBpp))),
      estimatedBpp: round(mean(perImage.map((r) => r.estimatedBpp))),
      psnr: round(mean(perImage.map((r) => r.psnr)), 3),
      encodeMPps: round(megapixels / encS, 3),
      decodeMPps: round(megapixels / decS, 3),
      encodeEntropyShare: round(total('encodeEntropyMs') / total('encodeMs')),
      decodeEntropyShare: round(total('decodeEntropyMs') / total('decodeMs')),
      encodeTransformShare: round(total('encodeTransformMs') / total('encodeMs')),
      decodeTransformShare: round(total('decodeTransformMs') / total('decodeMs')),
      subpixelVsTransposedDecodeSpeedup: round(total('decodeTransposedMs') / total('decodeMs'), 3),
      fastVsCompatEndToEndSpeedup: round((total('compatEncodeMs') + total('compatDecodeMs')) / (total('encodeMs') + total('decodeMs')), 3),
      rans,
      kodim23: kodim23
        ? {
            encodeMs: kodim23.encodeMs,
            decodeMs: kodim23.decodeMs,
            compressaiEncodeMs: compressai?.encodeMs,
            compressaiDecodeMs: compressai?.decodeMs,
            speedupVsCompressAI: compressai ? round((compressai.encodeMs + compressai.decodeMs) / (kodim23.encodeMs + kodim23.decodeMs), 3) : undefined,
          }
        : undefined,
    },
    psic,
    clip,
    targets,
    training,
    batch,
    perImage,
  };
}
