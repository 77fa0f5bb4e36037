/**
 * The timeline log: records in chunks (struct of arrays), the canonical order each host computes,
 * and the streamed form; against the flat-row reference (`canonicalTimeline`, `timelineDigest`).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ActivityLog, SampleLog, ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS, canonicalTimeline, flatOnClock, returnTimelineChunks, timelineBlocks, TIMELINE_CHUNK, TIMELINE_STRIDE,
  TimelineLog, timelineDigest, timelineViews, gatherTimeline, type TimelinePart,
} from '../../../src/sim/timeline.js';
import { createCluster, allToAll, H800 } from '../../../src/index.js';

/** A seeded generator of records: ranks < R, per-pair sequence numbers, some pairs delivered out of order. */
function records(n: number, R: number, seed: number): number[][] {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const seq = new Map<number, number>();
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const dst = Math.floor(rnd() * R), src = Math.floor(rnd() * R);
    const k = dst * R + src;
    const s = seq.get(k) ?? 0;
    seq.set(k, s + 1);
    const t = rnd() * 1000;
    out.push([dst, src, s, rnd() < 0.2 ? 1 : 0, Math.floor(rnd() * 3), Math.floor(rnd() * 1e6), t, t + 0.1, t + 0.25, t + 1.5, t + 2.125, t + 2.125]);
  }
  // Queue pairs overtaking each other: swap some neighbours of one pair.
  for (let i = 0; i + 1 < out.length; i += 7) if (out[i]![0] === out[i + 1]![0] && out[i]![1] === out[i + 1]![1]) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out;
}

describe('TimelineLog', () => {
  it('recordRow takes the bytes and times the caller wrote to times (as the engine records a transfer)', () => {
    const log = new TimelineLog();
    const t = log.times;
    [t[0], t[1], t[2], t[3], t[4], t[5], t[6]] = [4096, 0.5, 0.75, 1.25, 1.5, 2.125, 2.25];
    log.recordRow(3, 1, 0, 1, 2);
    log.record(1, 3, 0, 0, 1, 64, 3, 3.5, 4, 4.5, 5, 5.25);
    const part = log.take(4);
    const rows = new Float64Array(part.count * TIMELINE_STRIDE);
    gatherTimeline(part, timelineViews(part), 0, part.count, rows, 0);
    // Canonical order: dst 1 first.
    expect(Array.from(rows)).toEqual([1, 3, 0, 0, 1, 64, 3, 3.5, 4, 4.5, 5, 5.25, 3, 1, 0, 1, 2, 4096, 0.5, 0.75, 1.25, 1.5, 2.125, 2.25]);
  });

  it("samples and activity slices take their times from the caller's clock and scratch (no float argument)", () => {
    const samples = new SampleLog();
    samples.recordAt({ now: 2.375 }, 5, 1, -3);
    expect(Array.from(samples.take().log)).toEqual([2.375, 5, 1, -3]);
    const acts = new ActivityLog();
    [acts.span[0], acts.span[1]] = [0.5, 1.75];
    acts.recordSpan(4, 7, 33);
    acts.record(0.5, 1.75, 4, 7, 33);
    expect(Array.from(acts.take().log)).toEqual([0.5, 1.75, 4, 7, 33, 0.5, 1.75, 4, 7, 33]);
  });

  it('hands over every record in canonical (dst, src, pairSeq) order, exact, across chunks', () => {
    const R = 37;
    const recs = records(3 * TIMELINE_CHUNK + 123, R, 7);
    const log = new TimelineLog();
    for (const r of recs) log.record(...(r as [number, number, number, number, number, number, number, number, number, number, number, number]));
    expect(log.size).toBe(recs.length);
    const part = log.take(R);
    expect(log.size).toBe(0);
    expect(part.count).toBe(recs.length);
    expect(part.chunks.length).toBe(4);
    const rows = new Float64Array(part.count * TIMELINE_STRIDE);
    gatherTimeline(part, timelineViews(part), 0, part.count, rows, 0);
    expect(rows).toEqual(canonicalTimeline(Float64Array.from(recs.flat())));
  });

  it('orders records the same with more ranks than it sorts by pair in one pass (by src, then dst)', () => {
    const R = 3000;
    const recs = records(TIMELINE_CHUNK + 77, R, 11);
    const log = new TimelineLog();
    for (const r of recs) log.record(...(r as [number, number, number, number, number, number, number, number, number, number, number, number]));
    const part = log.take(R);
    const rows = new Float64Array(part.count * TIMELINE_STRIDE);
    gatherTimeline(part, timelineViews(part), 0, part.count, rows, 0);
    expect(rows).toEqual(canonicalTimeline(Float64Array.from(recs.flat())));
  });

  it('orders a pair delivered wholly out of order by pairSeq, across chunks, pairs apart', () => {
    // One (dst 1, src 0) pair in reverse, interleaved with a (dst 0, src 1) pair in order.
    const log = new TimelineLog();
    const n = TIMELINE_CHUNK + 5;
    for (let i = 0; i < n; i++) {
      log.record(1, 0, n - 1 - i, 0, 0, i, 0, 0, 0, 0, 0, 0);
      if (i % 1000 === 0) log.record(0, 1, i / 1000, 0, 0, -1, 0, 0, 0, 0, 0, 0);
    }
    const part = log.take(2);
    const rows = new Float64Array(part.count * TIMELINE_STRIDE);
    gatherTimeline(part, timelineViews(part), 0, part.count, rows, 0);
    const col = (f: number) => Array.from({ length: part.count }, (_, r) => rows[r * TIMELINE_STRIDE + f]!);
    expect(col(0).slice(0, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(col(2).slice(0, 11)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1]);
    // The reversed pair's bytes field was its recording index: pairSeq k was recorded at n - 1 - k.
    expect(col(5).slice(9, 12)).toEqual([n - 1, n - 2, n - 3]);
    expect(col(2).at(-1)).toBe(n - 1);
  });

  it('streams the same bytes block by block: a hash fed by it is timelineDigest of the whole', () => {
    const R = 16;
    const mk = (seed: number) => {
      const log = new TimelineLog();
      for (const r of records(20_000, R, seed)) log.record(...(r as [number, number, number, number, number, number, number, number, number, number, number, number]));
      return log.take(R);
    };
    const parts = [mk(1), mk(2)];
    const whole = new Float64Array(parts.reduce((a, p) => a + p.count, 0) * TIMELINE_STRIDE);
    let row = 0;
    for (const p of parts) {
      gatherTimeline(p, timelineViews(p), 0, p.count, whole, row);
      row += p.count;
    }
    const h = createHash('sha256');
    let blocks = 0;
    let bytes = 0;
    for (const b of timelineBlocks(parts)) (blocks++, (bytes += b.byteLength), h.update(b));
    expect(bytes).toBe(40_000 * TIMELINE_STRIDE * 8);
    expect(blocks).toBeGreaterThan(2);
    expect(h.digest('hex')).toBe(timelineDigest(whole));
  });

  it('keeps the engine\'s times: the cluster\'s view adds the epoch they were recorded under, an operation\'s view reads them as recorded', () => {
    // 0.1 + 0.2 and 1e6 + 0.3 round: the epoch is added once, as a record on the cluster's clock would.
    const log = new TimelineLog();
    const acts = new ActivityLog();
    const rec = (dst: number, t: number) => log.record(dst, 0, 0, 0, 0, 8, t, t, t, t, t, t);
    rec(0, 0.2);
    acts.record(0.2, 0.3, 0, 0, 0);
    log.rebase(0.1);
    acts.rebase(0.1);
    rec(1, 0.2);
    acts.record(0.2, 0.3, 1, 0, 0);
    log.rebase(1e6);
    acts.rebase(1e6);
    rec(2, 0.3);
    acts.record(0.3, 0.7, 2, 0, 0);
    const part = log.take(3);
    const times = (view: Parameters<typeof gatherTimeline>[6]) => {
      const rows = new Float64Array(3 * TIMELINE_STRIDE);
      gatherTimeline(part, timelineViews(part), 0, 3, rows, 0, view);
      return [0, 1, 2].map((r) => Array.from(rows.subarray(r * TIMELINE_STRIDE + 6, (r + 1) * TIMELINE_STRIDE)));
    };
    expect(times(null)).toEqual([Array(6).fill(0.2), Array(6).fill(0.30000000000000004), Array(6).fill(1000000.3)]);
    expect(times({ epochUs: 1e6, startUs: 0 })[2]).toEqual(Array(6).fill(0.3));
    const a = acts.take();
    expect(Array.from(flatOnClock({ ...a, log: a.log.slice() }, ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS, null).filter((_, i) => i % ACTIVITY_STRIDE < 2)))
      .toEqual([0.2, 0.3, 0.30000000000000004, 0.4, 1000000.3, 1000000.7]);
    expect(Array.from(flatOnClock(a, ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS, { epochUs: 1e6, startUs: 0 }).subarray(2 * ACTIVITY_STRIDE, 2 * ACTIVITY_STRIDE + 2))).toEqual([0.3, 0.7]);
  });

  it('refuses a field its record cannot hold exactly', () => {
    const log = new TimelineLog();
    expect(() => log.record(70_000, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)).toThrow(/out of its range/);
    expect(() => log.record(0, 0, 1.5, 0, 0, 1, 0, 0, 0, 0, 0, 0)).toThrow(/out of its range/);
  });
});

type Row = [number, number, number, number, number, number, number, number, number, number, number, number];

describe('TimelineLog chunk leases', () => {
  const R = 23;
  const fill = (log: TimelineLog, recs: number[][]) => { for (const r of recs) log.record(...(r as Row)); };
  const rows = (part: TimelinePart) => {
    const out = new Float64Array(part.count * TIMELINE_STRIDE);
    gatherTimeline(part, timelineViews(part), 0, part.count, out, 0);
    return out;
  };

  it('writes the next records over returned chunks (no fresh ones), every record exact', () => {
    const log = new TimelineLog();
    fill(log, records(2 * TIMELINE_CHUNK + 10, R, 3));
    const first = log.take(R);
    expect([first.chunks.length, first.freshChunks]).toEqual([3, 3]);
    const lent = first.chunks.slice();
    returnTimelineChunks(first);
    const recs = records(TIMELINE_CHUNK + 500, R, 4);
    fill(log, recs);
    const second = log.take(R);
    // Two chunks, both returned ones, whose old rows (the first part's) are written over.
    expect([second.chunks.length, second.freshChunks]).toEqual([2, 0]);
    expect(second.chunks.every((b) => lent.includes(b))).toBe(true);
    expect(rows(second)).toEqual(canonicalTimeline(Float64Array.from(recs.flat())));
  });

  it('never writes a chunk not returned: a part still read keeps its records while the log records more', () => {
    const log = new TimelineLog();
    const recs = records(TIMELINE_CHUNK + 1, R, 5);
    fill(log, recs);
    const first = log.take(R);
    fill(log, records(3 * TIMELINE_CHUNK, R, 6));
    const second = log.take(R);
    expect(second.freshChunks).toBe(3);
    expect(second.chunks.some((b) => first.chunks.includes(b))).toBe(false);
    expect(rows(first)).toEqual(canonicalTimeline(Float64Array.from(recs.flat())));
  });

  it('forgets the chunks a take lent once the next take is made: returned late, they are not written again', () => {
    const log = new TimelineLog();
    fill(log, records(10, R, 7));
    const first = log.take(R);
    const firstChunk = first.chunks[0]!;
    fill(log, records(10, R, 8));
    log.take(R);
    returnTimelineChunks(first);
    fill(log, records(10, R, 9));
    const third = log.take(R);
    expect(third.freshChunks).toBe(1);
    expect(third.chunks[0]).not.toBe(firstChunk);
    const thirdChunk = third.chunks[0]!;
    returnTimelineChunks(third);
    fill(log, records(10, R, 10));
    const fourth = log.take(R);
    expect(fourth.freshChunks).toBe(0);
    expect(fourth.chunks[0]).toBe(thirdChunk);
  });

  it('returns a part once: the part is emptied, and a second return leaves the log\'s chunks its own', () => {
    const log = new TimelineLog();
    fill(log, records(10, R, 11));
    const first = log.take(R);
    const chunk = first.chunks[0]!;
    returnTimelineChunks(first);
    expect([first.chunks.length, first.count, first.order.length]).toEqual([0, 0, 0]);
    const recs = records(20, R, 12);
    fill(log, recs);
    returnTimelineChunks(first);
    const second = log.take(R);
    expect(second.chunks).toEqual([chunk]);
    // Lent again and not returned: the next records go to a fresh chunk, the lent one keeps its rows.
    fill(log, records(30, R, 13));
    expect(log.take(R).freshChunks).toBe(1);
    expect(rows(second)).toEqual(canonicalTimeline(Float64Array.from(recs.flat())));
  });

  it('keeps at most as many returned chunks as one take has lent', () => {
    const log = new TimelineLog();
    fill(log, records(2 * TIMELINE_CHUNK, R, 14));
    const a = log.take(R);
    returnTimelineChunks(a);
    fill(log, records(3 * TIMELINE_CHUNK, R, 15));
    const b = log.take(R);
    expect([b.chunks.length, b.freshChunks]).toEqual([3, 1]);
    returnTimelineChunks(b);
    // Spares 3 (the peak), lent none: a take of one record keeps them; five chunks need two fresh.
    fill(log, records(1, R, 16));
    returnTimelineChunks(log.take(R));
    fill(log, records(5 * TIMELINE_CHUNK, R, 17));
    expect(log.take(R).freshChunks).toBe(2);
  });

  it('timelineBlocks tells when each part has been read (its last rows in a block), an empty one too', () => {
    const mk = (n: number, seed: number) => {
      const log = new TimelineLog();
      fill(log, records(n, R, seed));
      return log.take(R);
    };
    const parts = [mk(TIMELINE_CHUNK + 3, 18), mk(0, 19), mk(5, 20)];
    const events: string[] = [];
    for (const b of timelineBlocks(parts, (p) => events.push(`read ${parts.indexOf(p)}`))) events.push(`block ${b.byteLength / (TIMELINE_STRIDE * 8)}`);
    expect(events).toEqual(['block 8192', 'read 0', 'block 3', 'read 1', 'read 2', 'block 5']);
  });
});

describe('cluster.foldTimeline', () => {
  it('gives the bytes of takeTimeline, with 1 and 2 workers', async () => {
    const digests: string[] = [];
    const run = async (workers: number, take: (c: Awaited<ReturnType<typeof createCluster>>) => Promise<string>) => {
      const c = await createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, workers, transport: 'in-process' });
      try {
        await allToAll(c, { bytesPerPair: 1 << 12, sizesOnly: true });
        const d = await take(c);
        expect((await c.takeTimeline()).length).toBe(0);
        return d;
      } finally {
        await c.close();
      }
    };
    for (const workers of [1, 2]) {
      const whole = await run(workers, async (c) => timelineDigest(await c.takeTimeline()));
      const folded = await run(workers, async (c) => {
        const h = createHash('sha256');
        expect(await c.foldTimeline((b) => h.update(b))).toBeGreaterThan(0);
        return h.digest('hex');
      });
      expect(folded).toBe(whole);
      digests.push(whole);
    }
    expect(digests[1]).toBe(digests[0]);
  });

  it('takeTimelineBlocks: the records are handed over at once and fold later, after the cluster ran again, to the bytes of takeTimeline', async () => {
    const mk = () => createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, workers: 2, transport: 'in-process' });
    const op = (c: Awaited<ReturnType<typeof mk>>) => allToAll(c, { bytesPerPair: 1 << 12, sizesOnly: true });
    const a = await mk();
    const b = await mk();
    try {
      await op(a);
      const first = await a.takeTimelineBlocks();
      await op(a);
      const h = createHash('sha256');
      let records = 0;
      for (const block of first.blocks) {
        h.update(block);
        records += block.byteLength / (TIMELINE_STRIDE * 8);
      }
      expect(records).toBe(first.records);
      expect(records).toBeGreaterThan(0);
      await op(b);
      expect(h.digest('hex')).toBe(timelineDigest(await b.takeTimeline()));
      // The second run's records are still on the hosts, untouched by the fold.
      expect((await a.takeTimeline()).length).toBe(records * TIMELINE_STRIDE);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
