// Batches: a bounded pool of concurrent jobs over an (async) iterable, with the cores shared
// between the jobs instead of oversubscribed.
//
// Each job's native work runs on one libuv threadpool thread (UV_THREADPOOL_SIZE, default 4)
// and, inside it, on that thread's own OpenMP team (LibTorch's intra-op threads are a per-thread
// setting here). So a batch runs at most poolSize jobs at once and gives each
// floor(threads / concurrency) intra-op threads: concurrency × threads-per-job ≈ the cores.
import { availableParallelism } from 'node:os';

import { PsicError, PsicInputError } from '../errors.js';

/** One result of a batch: a value, or the error of that input alone. */
export type BatchItem<T> =
  | { ok: true; index: number; path?: string; value: T }
  | { ok: false; index: number; path?: string; error: Error };

export interface BatchOptions {
  /**
   * Jobs at once (default: min(cores, libuv pool size)). Capped at the libuv threadpool size
   * (UV_THREADPOOL_SIZE, read when the process starts; default 4): more could not run at once
   * and would only take memory and threads from the ones that do.
   */
  concurrency?: number;
  /** Intra-op threads shared by the jobs (default: the process setting, Codec.load's `threads`). */
  threads?: number;
  /**
   * false (default): a failing input gives an `{ok: false, error}` item and the rest go on.
   * true: the first failure rejects (compressMany) or throws (the iterators), once the jobs
   * already running have settled; nothing new starts.
   */
  stopOnError?: boolean;
  /** Stops starting new inputs; the jobs running settle, then the batch rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Images per transform forward (default: 1 on the CPU, 8 on a GPU). Above 1, the jobs read
   * and decode their inputs concurrently and hand the pixels to one native call that runs the
   * transforms once per group of equal-size images: what keeps a GPU busy. Entropy coding is per
   * image either way, and if a grouped call fails its images are retried one by one, so each
   * failure stays with its own input.
   */
  batchSize?: number;
}

export interface BatchIterateOptions extends BatchOptions {
  /**
   * true (default): items come in input order (a finished item waits for the earlier ones;
   * at most 2 × concurrency results are held). false: items come as they complete.
   */
  ordered?: boolean;
}

export interface BatchPlan {
  concurrency: number;
  threadsPerJob: number;
  /** Images per transform forward (1: each job calls the codec on its own). */
  batchSize: number;
}

// libuv reads UV_THREADPOOL_SIZE once, when its pool starts (before any batch): so do we, at load.
const POOL_SIZE = (() => {
  const n = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isFinite(n) ? Math.min(Math.max(n, 1), 1024) : 4;
})();

/** The libuv threadpool size this process runs with: the most batch jobs that can run at once. */
export function threadpoolSize(): number {
  return POOL_SIZE;
}

function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1024) {
    throw new PsicInputError(`${name} must be an integer in [1, 1024], got ${String(value)}`);
  }
  return value;
}

/** Validates batch options and picks the jobs at once and the intra-op threads of each. */
export function planBatch(options: BatchIterateOptions, processThreads: number, defaultBatchSize = 1): BatchPlan {
  if (typeof options !== 'object' || options === null) throw new PsicInputError('options must be an object');
  const requested = positiveInt(options.concurrency, 'concurrency');
  const threads = positiveInt(options.threads, 'threads') ?? processThreads;
  for (const flag of ['stopOnError', 'ordered'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new PsicInputError(`${flag} must be a boolean`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new PsicInputError('signal must be an AbortSignal');
  const batchSize = positiveInt(options.batchSize, 'batchSize') ?? defaultBatchSize;
  if (batchSize > 1) {
    // Jobs mostly wait for the grouped native call, which runs one at a time with every thread:
    // enough of them to fill the next group while the current one runs.
    return { concurrency: requested ?? 2 * batchSize, threadsPerJob: threads, batchSize };
  }
  const concurrency = Math.min(requested ?? availableParallelism(), threadpoolSize());
  return { concurrency, threadsPerJob: Math.max(1, Math.floor(threads / concurrency)), batchSize };
}

/**
 * Groups single requests into batched calls: submit() queues an item; whenever no batched call
 * is running, the queue (at most maxBatch items) goes out as one. A failed batched call is
 * retried item by item with `single`, so each item gets its own result or error.
 */
export class MicroBatcher<I, O> {
  private readonly queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly batched: (items: I[]) => Promise<O[]>,
    private readonly single: (item: I) => Promise<O>,
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  // Waits one macrotask before a call goes out, so the items submitted together join it.
  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const group = this.queue.splice(0, this.maxBatch);
    try {
      const results = group.length === 1 ? [await this.single(group[0].item)] : await this.batched(group.map((g) => g.item));
      group.forEach((g, i) => g.resolve(results[i]));
    } catch (err) {
      if (group.length === 1) group[0].reject(err);
      else await Promise.all(group.map(async (g) => this.single(g.item).then(g.resolve, g.reject)));
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}

type Inputs<I> = Iterable<I> | AsyncIterable<I>;

function iteratorOf<I>(inputs: Inputs<I>): AsyncIterator<I> | Iterator<I> {
  if (inputs !== null && typeof inputs === 'object') {
    const asyncIt = (inputs as AsyncIterable<I>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return asyncIt.call(inputs);
    const it = (inputs as Iterable<I>)[Symbol.iterator];
    if (typeof it === 'function') return it.call(inputs);
  }
  throw new PsicInputError('inputs must be an iterable or an async iterable (e.g. an array of paths)');
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new PsicError(String(err)));

/**
 * Runs `job` on each input, `concurrency` at a time, pulling inputs only as slots free up (an
 * input is never read before its job starts). Yields one item per input, in input order or as
 * completed. Leaving the loop early (break) stops starting jobs and waits for the running ones.
 */
export async function* runBatch<I, T>(
  inputs: Inputs<I>,
  job: (input: I, index: number) => Promise<T>,
  plan: BatchPlan,
  options: BatchIterateOptions = {},
): AsyncGenerator<BatchItem<T>, void, undefined> {
  const iterator = iteratorOf(inputs);
  const ordered = options.ordered ?? true;
  // Ordered output holds finished items until the earlier ones are done; bound that too.
  const window = ordered ? 2 * plan.concurrency : plan.concurrency;
  const running = new Map<number, Promise<BatchItem<T>>>();
  const finished = new Map<number, BatchItem<T>>();
  let next = 0;        // index of the next input to pull
  let nextOut = 0;     // ordered: index of the next item to yield
  let exhausted = false;
  let failure: Error | undefined;

  const start = (input: I, index: number) => {
    const path = typeof input === 'string' ? input : undefined;
    const settled = (async () => job(input, index))().then(
      (value): BatchItem<T> => ({ ok: true, index, ...(path !== undefined && { path }), value }),
      (err): BatchItem<T> => ({ ok: false, index, ...(path !== undefined && { path }), error: asError(err) }),
    );
    running.set(index, settled);
  };

  try {
    for (;;) {
      while (!exhausted && failure === undefined && running.size < plan.concurrency && running.size + finished.size < window) {
        if (options.signal?.aborted) {
          failure = asError(options.signal.reason);
          break;
        }
        const r = await iterator.next();
        if (r.done) {
          exhausted = true;
          break;
        }
        start(r.value, next++);
      }
      if (running.size === 0) {
        if (failure) throw failure;
        if (finished.size === 0) return;
      } else {
        const item = await Promise.race(running.values());
        running.delete(item.index);
        if (!item.ok && options.stopOnError && failure === undefined) failure = item.error;
        finished.set(item.index, item);
      }
      if (failure) continue;  // drain the running jobs, yield nothing more
      if (ordered) {
        for (let item = finished.get(nextOut); item !== undefined; item = finished.get(nextOut)) {
          finished.delete(nextOut++);
          yield item;
        }
      } else {
        for (const item of [...finished.values()]) {
          finished.delete(item.index);
          yield item;
        }
      }
      if (exhausted && running.size === 0 && finished.size === 0) return;
    }
  } finally {
    // An early return (break in for-await) or a failure: let started jobs settle, so nothing
    // runs or writes after the batch has returned, and close the input iterator.
    await Promise.all(running.values());
    if (!exhausted) await iterator.return?.();
  }
}

/** All items of a batch, in input order. */
export async function collectBatch<T>(items: AsyncIterable<BatchItem<T>>): Promise<BatchItem<T>[]> {
  const out: BatchItem<T>[] = [];
  for await (const item of items) out.push(item);
  return out;
}
