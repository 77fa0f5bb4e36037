/**
 * @module
 * The intranode sender warps' loop, shared by dispatch and combine: rows go to a peer's ring in
 * chunks; before each chunk the warps poll the peer's head (a remote read over NVLink; their own
 * memory when the peer is themselves) until the whole chunk fits, copy the rows into the staging
 * mirror of the ring slots, spend the SM time, and put the chunk with the tail released after it.
 * Before the first chunk it writes the channel metadata (start/end offsets) the receiver waits for.
 */
import type { RankContext } from '../../sim/rank-context.js';
import type { RoleStep, Wait } from '../../sim/task.js';
import type { Region } from '../../transport/memory.js';
import { putSlots } from './slots.js';
import type { RoleId, SmClock } from '../sm-clock.js';

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
  /**
   * Warps of the SM copying this ring's rows (their bytes in flight bound the copy): `warps / shares`
   * (the SM's warps split evenly over `shares` peers; integers, see SmClock.sleepCopy).
   */
  warps: number;
  shares: number;
  /** Role named on the SM's trace track. */
  role: RoleId;
  /** The receiver's channel-metadata flag this sender sets (start/end offsets) before its first token. */
  meta?: { region: Region; index: number };
}

/** Where an {@link NvlRingSender} stands in its chunk loop. */
const N_START = 0; // first step: the channel metadata
const N_CHUNK = 1; // top of a chunk (or the end)
const N_ROOM = 2; // whether the chunk fits in the ring, by the head last seen
const N_HEAD = 3; // the head's poll (a read, or a wait on its own counter) has resumed with its value
const N_PUT = 4; // the copy has taken its time: put the chunk with its tail

/**
 * The sender warps of one ring as an explicit state record (the intranode kernels' most resumed
 * role): before the first chunk, the channel metadata; per chunk of `chunk` rows, poll the peer's
 * head until the whole chunk fits, stage the rows, spend the SM time of the copy, and put the chunk
 * with the tail. Its waits and steps are the generator's it was, in the same order.
 */
class NvlRingSender implements RoleStep {
  private pc = N_START;
  private sent = 0;
  private head = 0;
  private k = 0;
  private readonly self: boolean;

  constructor(private readonly ctx: RankContext, private readonly o: NvlRingSend) {
    this.self = o.dst === ctx.rank;
  }

  step(value: number): Wait | null {
    const { ctx, o } = this;
    const B = o.slots;
    for (;;) {
      switch (this.pc) {
        case N_START:
          // DeepEP's senders first write the channel's start and end offsets into the receiver's buffer.
          if (o.meta && o.rows > 0) ctx.atomicAdd(o.meta.region, o.meta.index * 4, 1);
          this.pc = N_CHUNK;
          break;
        case N_CHUNK:
          if (this.sent >= o.rows) return null;
          this.k = Math.min(o.chunk, o.rows - this.sent);
          this.pc = N_ROOM;
          break;
        case N_ROOM: {
          const { sent, k } = this;
          if (sent + k - this.head > B) {
            this.pc = N_HEAD;
            return this.self ? ctx.untilAtLeast(o.ctrl, o.tailIndex + 1, sent + k - B) : ctx.read(o.ctrl, o.tailIndex + 1);
          }
          const { stage, input, rec } = o;
          if (stage && input)
            for (let i = 0; i < k; i++) {
              const row = o.rowOf(sent + i);
              stage.u8.set(input.u8.subarray(row * rec, (row + 1) * rec), (o.stageBase + ((sent + i) % B)) * rec);
            }
          // The warps store the chunk straight into the peer's ring over NVLink (their own HBM for self).
          this.pc = N_PUT;
          return o.sm.sleepCopy(ctx, o.role, k * rec, this.self ? 'hbm' : 'nvlink', o.warps, o.shares, 1);
        }
        case N_HEAD:
          this.head = value;
          this.pc = N_ROOM;
          break;
        case N_PUT:
          putSlots(ctx, o.dst, o.ring, o.ringBase, o.stage, o.stageBase, this.sent % B, this.k, B, o.rec, o.ctrl, o.tailIndex);
          this.sent += this.k;
          this.pc = N_CHUNK;
          break;
        default:
          return null;
      }
    }
  }
}

/** The sender warps of one ring (see {@link NvlRingSender}), as a role to spawn. */
export function sendOverNvlRing(ctx: RankContext, o: NvlRingSend): RoleStep {
  return new NvlRingSender(ctx, o);
}
