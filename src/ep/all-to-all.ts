/**
 * @module
 * `allToAll`: the first collective. Every rank sends distinct seeded bytes to every other rank
 * through registered memory; the bytes are verified on arrival and digested in rank order.
 */
import { createHash } from 'node:crypto';
import { ExpertmeshError, fail, showValue } from '../errors.js';
import { checkCluster, type Cluster, type RunOptions } from '../cluster/cluster.js';
import { checkEstimate, makeEstimate } from '../cluster/host-limits.js';
import { A2A_RECV, A2A_SEND, A2A_SIGNAL, type AllToAllArgs } from './all-to-all-op.js';

/** Options of {@link allToAll}. */
export interface AllToAllOptions {
  /** Bytes each rank sends to each other rank. */
  bytesPerPair: number;
  /** Seed of the payload bytes (default: the cluster's seed). */
  seed?: number;
  /** Move no payload, only the timing (default false). */
  sizesOnly?: boolean;
}

/** What {@link allToAll} returns. */
export interface AllToAllResult {
  /** Virtual duration of the call, from its start to the last arrival, us. */
  timeUs: number;
  /** SHA-256 hex of all received bytes, ranks in order and, within a rank, sources in order. */
  receivedDigest: string;
  /** Wall-clock milliseconds of the phases: fill, simulate (the timed part), verify and digest. */
  wallMs: { fill: number; simulate: number; verify: number; digest: number };
  /** Synchronisation windows and events of the simulated part. */
  windows: number;
  events: number;
  /** Transfers issued by the simulated part. */
  transfers: number;
}

/**
 * Move `bytesPerPair` distinct seeded bytes from every rank to every other rank (no self-pairs),
 * verify every received byte, and return the virtual time and a digest of what arrived.
 * @throws ExpertmeshError `E_VERIFY` if any received byte differs from what was sent.
 * @example
 * const r = await allToAll(cluster, { bytesPerPair: 1 << 20 });
 * console.log(r.timeUs, r.receivedDigest);
 */
export async function allToAll(cluster: Cluster, opts: AllToAllOptions, run: RunOptions = {}): Promise<AllToAllResult> {
  if (typeof opts !== 'object' || opts === null) fail('E_ARGUMENT', `allToAll: options must be an object ({ bytesPerPair }), got ${showValue(opts)}`, { argument: 'opts' });
  checkCluster(cluster, 'allToAll');
  const B = opts.bytesPerPair;
  if (!Number.isInteger(B) || B < 1) fail('E_ARGUMENT', `allToAll: bytesPerPair must be a positive integer, got ${showValue(B)}`, { field: 'bytesPerPair', value: B });
  const seed = opts.seed ?? cluster.config.seed;
  if (!Number.isInteger(seed)) fail('E_ARGUMENT', `allToAll: seed must be an integer, got ${showValue(seed)}`, { field: 'seed', value: seed });
  const n = cluster.numRanks;
  const slotBytes = (n - 1) * B;
  const perRank = 2 * slotBytes + 4;
  // Payload is filled, verified and digested on the ranks' own regions; nothing else grows with B.
  checkEstimate(makeEstimate('allToAll', n, { registered: n * perRank, payload: 0, plan: 0, timeline: cluster.config.recordTimeline ? n * n * 2 * 96 * 2 : 0, trace: 0 },
    0, perRank, cluster.config.hardware.hbmBytes, n * n * 8, 'bytesPerPair (or use fewer ranks)'));
  for (let r = 0; r < n; r++) {
    cluster.ensureRegion(r, A2A_SEND, slotBytes);
    cluster.ensureRegion(r, A2A_RECV, slotBytes);
    cluster.ensureRegion(r, A2A_SIGNAL, 4);
  }
  const args: AllToAllArgs = { bytesPerPair: B, seed, sizesOnly: opts.sizesOnly ?? false };
  const t0 = performance.now();
  if (!args.sizesOnly) await cluster.run('a2a.fill', args, run);
  else for (let r = 0; r < n; r++) Atomics.store(cluster.region(r, A2A_SIGNAL).i32, 0, 0);
  const t1 = performance.now();
  const res = await cluster.run('a2a', args, run);
  const t2 = performance.now();
  if (!args.sizesOnly) {
    const v = await cluster.run<{ ok: boolean; source?: number; byte?: number }>('a2a.verify', args, run);
    v.results.forEach((x, rank) => {
      if (!x.ok)
        throw new ExpertmeshError('E_VERIFY', `allToAll: rank ${rank} received wrong bytes from rank ${x.source} (first at byte ${x.byte})`, { rank, source: x.source, byte: x.byte });
    });
  }
  const t3 = performance.now();
  const h = createHash('sha256');
  if (!args.sizesOnly) for (let r = 0; r < n; r++) h.update(cluster.region(r, A2A_RECV).u8);
  const t4 = performance.now();
  return {
    timeUs: res.timeUs,
    receivedDigest: h.digest('hex'),
    wallMs: { fill: t1 - t0, simulate: t2 - t1, verify: t3 - t2, digest: t4 - t3 },
    windows: res.windows,
    events: res.events,
    transfers: res.transfers,
  };
}
