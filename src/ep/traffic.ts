/**
 * @module
 * `runTraffic`: an explicit list of transfers (who sends how many bytes to whom, and when), run
 * through the transport in sizes-only mode. The tool for studying the link model itself
 * (incast, hot spots, random traffic) and for property-testing it.
 */
import { fail, showValue } from '../errors.js';
import { checkCluster, type Cluster, type RunOptions } from '../cluster/cluster.js';
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import { ACTIVITY_STRIDE, LINK_PORT_TRACK, LINK_RATE_TRACK, TIMELINE_STRIDE, timelineDigest, timelineRecords, type TimelineRecord } from '../sim/timeline.js';
import { PORT_NAMES } from '../transport/protocol.js';

/** One transfer of {@link runTraffic}. */
export interface TrafficTransfer {
  src: number;
  dst: number;
  bytes: number;
  /** Issue time relative to the start of the call, us (default 0). */
  atUs?: number;
}

/** Result of {@link runTraffic}. */
export interface TrafficResult {
  /** Virtual duration from the call's start to the last delivery, us. */
  timeUs: number;
  /**
   * One record per transfer, canonical order (dst, src, pairSeq); times relative to the call's
   * start (the engines' own numbers: exactly a fresh cluster's whatever ran before), `pairSeq`
   * counted from the call's first transfer on the pair. Built when first read (the result holds
   * the flat timeline until then).
   */
  records: TimelineRecord[];
  /** SHA-256 of the canonical timeline as in `records` (the same on a fresh and on a used cluster). */
  timelineDigest: string;
  /** Synchronisation windows the run took. */
  windows: number;
  /** CPU time each host thread spent in the run, ms (NaN where unknown). */
  hostCpuMs: number[];
  /** Scheduler events the call took (all workers). */
  events: number;
  /** Transfers issued (the flows and their counter adds). */
  transfers: number;
  /** Every port that moved bytes: time it was busy (bytes moving) and bytes, rank order. */
  ports: Array<{ rank: number; port: (typeof PORT_NAMES)[number]; busyUs: number; bytes: number }>;
  /**
   * The rates each transfer was sent at over time: one segment per constant rate at the sender,
   * in (src, dst, startUs) order; times relative to the call's start, rates in GB/s. Built when
   * first read (the result holds the flat activity log until then).
   */
  rates: Array<{ src: number; dst: number; startUs: number; endUs: number; GBps: number }>;
}

interface TrafficArgs {
  /** Per rank: flat [dst, bytes, atUs] triples in issue order. */
  perRank: number[][];
  /** Per rank: how many transfers it receives. */
  expected: number[];
}

const SIGNAL = 'traffic.signal';

defineOp<TrafficArgs>({
  name: 'traffic',
  *task(ctx: RankContext, a) {
    const mine = a.perRank[ctx.rank]!;
    const start = ctx.now;
    ctx.recordLinks(true);
    const receiver = ctx.spawn('traffic.recv', (function* () {
      yield ctx.untilAtLeast(ctx.region(SIGNAL), 0, a.expected[ctx.rank]!);
    })());
    for (let i = 0; i < mine.length; i += 3) {
      const at = start + mine[i + 2]!;
      if (at > ctx.now) yield ctx.sleep(at - ctx.now);
      const dst = mine[i]!;
      ctx.send(dst, mine[i + 1]!);
      ctx.atomicAdd(ctx.peerRegion(dst, SIGNAL), 0, 1);
    }
    yield ctx.join([receiver]);
    ctx.recordLinks(false);
  },
});

/**
 * Run explicit transfers (sizes only) and return their timeline. Each transfer is followed by a
 * counter add on its pair (FIFO), which the receiver waits for; those adds appear in the records
 * with `op` 1 and 4 bytes.
 */
export async function runTraffic(cluster: Cluster, transfers: readonly TrafficTransfer[], run: RunOptions = {}): Promise<TrafficResult> {
  checkCluster(cluster, 'runTraffic');
  if (!Array.isArray(transfers)) fail('E_ARGUMENT', `runTraffic: transfers must be an array of { src, dst, bytes, atUs? }, got ${showValue(transfers)}`, { argument: 'transfers' });
  const n = cluster.numRanks;
  const perRank: number[][] = Array.from({ length: n }, () => []);
  const expected = new Array<number>(n).fill(0);
  const sorted = Array.from(transfers, (t, i) => ({ t, i }));
  Array.from(transfers).forEach((t, i) => {
    if (typeof t !== 'object' || t === null) fail('E_ARGUMENT', `runTraffic: transfers[${i}] must be an object { src, dst, bytes, atUs? }, got ${showValue(t)}`, { index: i });
    for (const f of ['src', 'dst'] as const)
      if (!Number.isInteger(t[f]) || t[f] < 0 || t[f] >= n) fail('E_RANK', `runTraffic: transfers[${i}].${f} = ${showValue(t[f])} is not a rank of this ${n}-rank cluster`, { index: i, field: f, value: t[f] });
    if (!Number.isInteger(t.bytes) || t.bytes < 0) fail('E_ARGUMENT', `runTraffic: transfers[${i}].bytes must be a whole number >= 0, got ${showValue(t.bytes)}`, { index: i, field: 'bytes', value: t.bytes });
    const at = t.atUs ?? 0;
    if (typeof at !== 'number' || !(at >= 0) || !Number.isFinite(at)) fail('E_ARGUMENT', `runTraffic: transfers[${i}].atUs must be a finite time >= 0, got ${showValue(at)}`, { index: i, field: 'atUs', value: at });
  });
  sorted.sort((a, b) => (a.t.atUs ?? 0) - (b.t.atUs ?? 0) || a.i - b.i);
  for (const { t } of sorted) {
    perRank[t.src]!.push(t.dst, t.bytes, t.atUs ?? 0);
    expected[t.dst]!++;
  }
  for (let r = 0; r < n; r++) {
    if (!cluster.findRegion(r, SIGNAL)) cluster.register(r, SIGNAL, 4);
    Atomics.store(cluster.region(r, SIGNAL).i32, 0, 0);
  }
  if (cluster.config.recordTimeline) await cluster.takeTimeline();
  await cluster.takeActivities();
  const res = await cluster.run('traffic', { perRank, expected } satisfies TrafficArgs, run);
  // On the call's own clock (the engine's times, no subtraction of cluster times): the same
  // numbers as on a fresh cluster whatever ran before (docs/runtime.md, "One clock per operation").
  const tl = pairSeqFromCall(cluster.config.recordTimeline ? await cluster.takeTimeline('op') : new Float64Array(0));
  const activities = await cluster.takeActivities('op');
  const ports = portFigures(activities);
  const out = { timeUs: res.timeUs, timelineDigest: timelineDigest(tl), windows: res.windows, hostCpuMs: res.hostCpuMs, events: res.events, transfers: res.transfers, ports } as TrafficResult;
  // One object per transfer and per rate segment (millions at 128 ranks): built when first read.
  let records: TimelineRecord[] | null = null;
  let rates: TrafficResult['rates'] | null = null;
  Object.defineProperty(out, 'records', {
    enumerable: true,
    get: () => (records ??= timelineRecords(tl)),
  });
  Object.defineProperty(out, 'rates', { enumerable: true, get: () => (rates ??= rateSegments(activities)) });
  return out;
}

/**
 * Count each pair's sequence numbers from the call's first transfer on it, as on a fresh cluster
 * (the engines' counters run on across operations, 0 on a fresh cluster): in canonical order a
 * pair's records are consecutive and the first holds its smallest number. In place.
 */
function pairSeqFromCall(tl: Float64Array): Float64Array {
  let first = 0;
  for (let i = 0; i < tl.length; i += TIMELINE_STRIDE) {
    if (i === 0 || tl[i] !== tl[i - TIMELINE_STRIDE] || tl[i + 1] !== tl[i + 1 - TIMELINE_STRIDE]) first = tl[i + 2]!;
    tl[i + 2] = tl[i + 2]! - first;
  }
  return tl;
}

/** Sender rate segments out of the activity log (link rate tracks), in (src, dst, startUs) order. */
function rateSegments(a: Float64Array): TrafficResult['rates'] {
  const rates: TrafficResult['rates'] = [];
  for (let i = 0; i < a.length; i += ACTIVITY_STRIDE) {
    const start = a[i]!, end = a[i + 1]!, rank = a[i + 2]!, track = a[i + 3]!, label = a[i + 4]!;
    if (track >= LINK_RATE_TRACK) rates.push({ src: rank, dst: track - LINK_RATE_TRACK, startUs: start, endUs: end, GBps: label / 1e3 });
  }
  rates.sort((x, y) => x.src - y.src || x.dst - y.dst || x.startUs - y.startUs);
  return rates;
}

/** Port busy periods out of the activity log (link port tracks). */
function portFigures(a: Float64Array): TrafficResult['ports'] {
  const busy = new Map<number, { busyUs: number; bytes: number }>();
  for (let i = 0; i < a.length; i += ACTIVITY_STRIDE) {
    const start = a[i]!, end = a[i + 1]!, rank = a[i + 2]!, track = a[i + 3]!, label = a[i + 4]!;
    if (track >= LINK_RATE_TRACK) continue;
    if (track >= LINK_PORT_TRACK) {
      const key = rank * 4 + (track - LINK_PORT_TRACK);
      const b = busy.get(key) ?? { busyUs: 0, bytes: 0 };
      b.busyUs += end - start;
      b.bytes += label;
      busy.set(key, b);
    }
  }
  return [...busy.entries()].sort((x, y) => x[0] - y[0]).map(([k, b]) => ({ rank: Math.floor(k / 4), port: PORT_NAMES[k % 4]!, busyUs: b.busyUs, bytes: b.bytes }));
}
