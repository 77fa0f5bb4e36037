/**
 * @module
 * The all-to-all operations hosts run: fill the send buffers, move every rank's slot to every other
 * rank (one put with a signal per pair), and verify what arrived.
 */
import { defineOp } from '../actors/op-registry.js';
import type { RankContext } from '../sim/rank-context.js';
import type { TaskBody } from '../sim/task.js';
import { fillPairBytes } from './seeded-bytes.js';

export interface AllToAllArgs {
  bytesPerPair: number;
  seed: number;
  sizesOnly: boolean;
}

/** Region names used by allToAll. */
export const A2A_SEND = 'a2a.send';
export const A2A_RECV = 'a2a.recv';
export const A2A_SIGNAL = 'a2a.signal';

/** Slot of peer `peer` in rank `rank`'s buffers: peers in rank order, self skipped. */
export function peerSlot(rank: number, peer: number): number {
  return peer < rank ? peer : peer - 1;
}

defineOp<AllToAllArgs>({
  name: 'a2a.fill',
  prepare(ctx: RankContext, a) {
    const send = ctx.region(A2A_SEND).u8;
    for (let d = 0; d < ctx.numRanks; d++) {
      if (d === ctx.rank) continue;
      const o = peerSlot(ctx.rank, d) * a.bytesPerPair;
      fillPairBytes(send.subarray(o, o + a.bytesPerPair), a.seed, ctx.rank, d);
    }
    Atomics.store(ctx.region(A2A_SIGNAL).i32, 0, 0);
  },
});

/** A rank's part of the exchange: one put with signal per peer, then wait for every peer's. */
export function* a2aTask(ctx: RankContext, a: AllToAllArgs): TaskBody {
  const n = ctx.numRanks;
  const send = ctx.region(A2A_SEND);
  const B = a.bytesPerPair;
  // Every rank starts with its next neighbour, so the first puts do not all hit one rank.
  for (let k = 1; k < n; k++) {
    const d = (ctx.rank + k) % n;
    const recv = ctx.peerRegion(d, A2A_RECV);
    // The receiver's counter moves with the data (put with signal): one transfer per pair.
    ctx.put(recv, peerSlot(d, ctx.rank) * B, a.sizesOnly ? null : send, peerSlot(ctx.rank, d) * B, B, {
      signal: { region: ctx.peerRegion(d, A2A_SIGNAL), offset: 0, value: 1 },
    });
  }
  yield ctx.untilAtLeast(ctx.region(A2A_SIGNAL), 0, n - 1);
}

defineOp<AllToAllArgs>({ name: 'a2a', task: a2aTask });

/**
 * The expected bytes of one pair, regenerated per source: one buffer per thread, grown to the
 * largest pair seen and reused, so a verify allocates no payload-sized memory per rank and call
 * (fresh external memory per call drives the host's garbage collector, whose pauses then land in
 * whatever runs next, the timed exchange included).
 */
let expectScratch = Buffer.alloc(0);

defineOp<AllToAllArgs>({
  name: 'a2a.verify',
  finish(ctx: RankContext, a) {
    const B = a.bytesPerPair;
    if (expectScratch.length < B) expectScratch = Buffer.alloc(B);
    const expect = expectScratch.subarray(0, B);
    const recv = ctx.region(A2A_RECV).u8;
    const got = Buffer.from(recv.buffer, recv.byteOffset, recv.byteLength);
    for (let s = 0; s < ctx.numRanks; s++) {
      if (s === ctx.rank) continue;
      fillPairBytes(expect, a.seed, s, ctx.rank);
      const o = peerSlot(ctx.rank, s) * B;
      if (got.compare(expect, 0, B, o, o + B) !== 0) {
        let i = 0;
        while (got[o + i] === expect[i]) i++;
        return { ok: false, source: s, byte: i };
      }
    }
    return { ok: true };
  },
});
