// The batch suite of `psic bench`: images/s and MP/s of compressMany / decompressMany on Kodak at
// 1, 2 and N jobs against a naive sequential loop (all variants interleaved in each run, ratios of
// medians), one oversubscribed variant (every job with all the threads) that shows what sharing
// the cores buys, the event loop's longest gap of a 20 ms timer during each variant, and RSS over
// 1,000 compress/decompress cycles.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';

import { threadpoolSize } from '../codec/batch.js';
import { Codec, type Device } from '../codec/codec.js';
import { readImage } from '../io/image-io.js';
import { native } from '../native.js';
import { watchTimerGaps } from './timer-gap.js';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

interface Variant {
  name: string;
  concurrency: number;
  threadsPerJob: number;
  compress(): Promise<unknown>;
  decompress(): Promise<unknown>;
}

const throwFailures = (items: { ok: boolean; error?: Error }[]) => {
  const bad = items.find((it) => !it.ok);
  if (bad) throw bad.error;
};

export async function batchBench(files: string[], data: string, model: string, runs: number, progress: boolean, device: Device = 'cpu') {
  // The machine's 1-minute load average before and after: other processes share the cores.
  const loadStart = loadavg()[0];
  const codec = await Codec.load(model, { device });
  const threads = native().getThreads();
  const cores = availableParallelism();
  const paths = files.map((f) => join(data, f));
  let megapixels = 0;
  const containers: Uint8Array[] = [];
  for (const path of paths) {
    const stats = await codec.compressWithStats(path, { estimate: false });
    megapixels += (stats.width * stats.height) / 1e6;
    containers.push(stats.container);
  }

  const naive: Variant = {
    name: 'naive sequential loop', concurrency: 1, threadsPerJob: threads,
    async compress() { for (const p of paths) await codec.compress(p); },
    async decompress() { for (const c of containers) await codec.decompress(c); },
  };
  const batch = (name: string, concurrency: number, batchThreads?: number): Variant => {
    const plan = codec.planBatch({ concurrency, threads: batchThreads });
    return {
      name, ...plan,
      compress: async () => throwFailures(await codec.compressMany(paths, { concurrency, threads: batchThreads })),
      decompress: async () => throwFailures(await codec.decompressMany(containers, { concurrency, threads: batchThreads })),
    };
  };
  const levels = [...new Set([1, 2, cores])].filter((c) => c <= threadpoolSize());
  const variants = [naive, ...levels.map((c) => batch(`compressMany/decompressMany, ${c} job${c > 1 ? 's' : ''}`, c))];
  const top = Math.max(...levels);
  if (top > 1) variants.push(batch(`${top} jobs, each with all ${threads} threads (oversubscribed)`, top, threads * top));

  const times = variants.map(() => ({ compress: [] as number[], decompress: [] as number[] }));
  const maxGapMs = variants.map(() => 0);
  for (let r = 0; r < runs; r++) {
    // Each run starts at another variant, so that drifts in machine load don't favour one.
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length;
      const v = variants[i];
      for (const op of ['compress', 'decompress'] as const) {
        const t0 = performance.now();
        const gaps = watchTimerGaps(20);
        await v[op]();
        times[i][op].push((performance.now() - t0) / 1000);
        maxGapMs[i] = Math.max(maxGapMs[i], gaps.stop().maxGapMs);
      }
      if (progress) process.stderr.write(`[batch ${r + 1}/${runs}] ${v.name}: compress ${times[i].compress.at(-1)!.toFixed(2)} s, decompress ${times[i].decompress.at(-1)!.toFixed(2)} s\n`);
    }
  }
  const base = { compress: median(times[0].compress), decompress: median(times[0].decompress) };
  const rows = variants.map((v, i) => {
    const op = (name: 'compress' | 'decompress') => {
      const s = median(times[i][name]);
      return { seconds: round(s), imagesPerS: round(paths.length / s), MPps: round(megapixels / s), speedupVsNaive: round(base[name] / s) };
    };
    return { variant: v.name, concurrency: v.concurrency, threadsPerJob: v.threadsPerJob, compress: op('compress'), decompress: op('decompress'),
      maxTimerGapMs: round(maxGapMs[i], 1) };
  });
  return { model, device: codec.device, images: paths.length, megapixels: round(megapixels), runs, threads, cores, threadpoolSize: threadpoolSize(), rows,
    timerIntervalMs: 20, rss: await rssCycles(codec, paths[0], top, progress),
    loadAverage1m: { start: round(loadStart, 2), end: round(loadavg()[0], 2) } };
}

// 1,000 compress + decompress cycles of a 128x128 crop through the batch API, in chunks of 100:
// RSS after each chunk (the first after a warm-up chunk).
async function rssCycles(codec: Codec, path: string, concurrency: number, progress: boolean) {
  const image = await readImage(path);
  const size = 128;
  const crop = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) crop.set(image.data.subarray(y * image.width * 3, (y * image.width + size) * 3), y * size * 3);
  const raw = { data: crop, width: size, height: size, channels: 3 as const };
  const chunk = async () => {
    const packed = await codec.compressMany(Array.from({ length: 100 }, () => raw), { concurrency });
    throwFailures(packed);
    throwFailures(await codec.decompressMany(packed.map((it) => (it.ok ? it.value : new Uint8Array())), { concurrency }));
  };
  const mb = () => round(process.memoryUsage().rss / 2 ** 20, 1);
  await chunk();
  const samplesMB = [mb()];
  for (let i = 0; i < 10; i++) {
    await chunk();
    samplesMB.push(mb());
  }
  if (progress) process.stderr.write(`[batch] RSS over 1000 cycles: ${samplesMB.join(', ')} MB\n`);
  return { cycles: 1000, image: `${size}x${size}`, concurrency, startMB: samplesMB[0], endMB: samplesMB.at(-1)!, samplesMB };
}
