// MicroBatcher: how single requests are grouped into batched calls, and the one-by-one retry of
// a failed group.
import t from 'tap';

import { MicroBatcher } from '../src/codec/batch.js';

t.test('requests submitted together go out as groups of at most maxBatch, in order', async (t) => {
  const calls: number[][] = [];
  const batcher = new MicroBatcher<number, number>(
    async (items) => { calls.push(items); return items.map((x) => x * 10); },
    async (x) => { calls.push([x]); return x * 10; },
    3,
  );
  const results = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => batcher.submit(x)));
  t.same(results, [10, 20, 30, 40, 50, 60, 70]);
  t.same(calls, [[1, 2, 3], [4, 5, 6], [7]], 'one call at a time; the queue fills while a call runs');
});

t.test('a failed group is retried one by one; each item gets its own result or error', async (t) => {
  const singles: number[] = [];
  const batcher = new MicroBatcher<number, number>(
    async () => { throw new Error('group failed'); },
    async (x) => { singles.push(x); if (x === 2) throw new Error(`item ${x} is bad`); return x; },
    4,
  );
  const settled = await Promise.allSettled([1, 2, 3].map((x) => batcher.submit(x)));
  t.same(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.match(settled[1], { reason: { message: 'item 2 is bad' } });
  t.same(singles.sort(), [1, 2, 3]);
  // A lone item goes through `single` directly, and its error is its own.
  await t.rejects(batcher.submit(2), { message: 'item 2 is bad' });
});

t.test('a request submitted while a call runs joins the next group', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const calls: number[][] = [];
  const batcher = new MicroBatcher<number, number>(
    async (items) => { calls.push(items); await gate; return items; },
    async (x) => { calls.push([x]); await gate; return x; },
    8,
  );
  const first = batcher.submit(1);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const later = [batcher.submit(2), batcher.submit(3)];
  release();
  t.same(await Promise.all([first, ...later]), [1, 2, 3]);
  t.same(calls, [[1], [2, 3]]);
});
