/**
 * @module
 * The intranode sender warps' loop, shared by dispatch and combine: rows go to a peer's ring in
 * chunks; before each chunk the warps poll the peer's head (a remote read over NVLink; their own
 * memory when the peer is themselves) until the whole chunk fits, copy the rows into the staging
 * mirror of the ring slots, spend the SM time, and put the chunk with the tail released after it.
 * Before the first chunk it writes the channel metadata (start/end offsets) the receiver waits for.
 */
import type { RankContext } from '../../sim/rank-context.js';
import type { TaskBody } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { putSlots } from './slots.js';
import type { RoleName, SmClock } from '../sm-clock.js';

export interface NvlRingSend {
  dst: number;
  /** The destination's ring counters; the tail is at `tailIndex`, the head right after it. */
  ctrl: Region;
  tailIndex: number;
  /** Ring data at the destination and its first slot (null in sizes-only mode). */
  ring: Region | null;
  ringBase: number;
  /** Local staging mirror of the ring slots and its first slot (null in sizes-only mode). */
  stage: Region | null;
  stageBase: number;
  /** Where the rows come from: record `rowOf(i)` of `input` is the i-th row sent. */
  input: Region | null;
  rowOf: (i: number) => number;
  rows: number;
  chunk: number;
  slots: number;
  rec: number;
  sm: SmClock;
  /** Warps of the SM copying this ring's rows (their bytes in flight bound the copy). */
  warps: number;
  /** Role named on the SM's trace track. */
  role: RoleName;
  /** The receiver's channel-metadata flag this sender sets (start/end offsets) before its first token. */
  meta?: { region: Region; index: number };
}

export function* sendOverNvlRing(ctx: RankContext, o: NvlRingSend): TaskBody {
  const { ctrl, ring, stage, input, rec, slots: B } = o;
  const headIndex = o.tailIndex + 1;
  const self = o.dst === ctx.rank;
  let sent = 0;
  let head = 0;
  // DeepEP's senders first write the channel's start and end offsets into the receiver's buffer.
  if (o.meta && o.rows > 0) ctx.atomicAdd(o.meta.region, o.meta.index * 4, 1);
  while (sent < o.rows) {
    const k = Math.min(o.chunk, o.rows - sent);
    while (sent + k - head > B) head = self ? yield ctx.untilAtLeast(ctrl, headIndex, sent + k - B) : yield ctx.read(ctrl, headIndex);
    if (stage && input)
      for (let i = 0; i < k; i++) {
        const row = o.rowOf(sent + i);
        stage.u8.set(input.u8.subarray(row * rec, (row + 1) * rec), (o.stageBase + ((sent + i) % B)) * rec);
      }
    // The warps store the chunk straight into the peer's ring over NVLink (their own HBM for self).
    yield ctx.sleep(o.sm.copy(ctx, o.role, k * rec, self ? 'hbm' : 'nvlink', o.warps, ctx.hardware.nvlinkMessageUs));
    putSlots(ctx, o.dst, ring, o.ringBase, stage, o.stageBase, sent % B, k, B, rec, ctrl, o.tailIndex);
    sent += k;
  }
}
