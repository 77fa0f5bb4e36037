/**
 * Control messages (atomics, puts of at most CONTROL_MESSAGE_BYTES) over random transfer mixes on a
 * small cluster (2 nodes x 2 GPUs, round hardware), in-process hosts (docs/hardware.md, "Control
 * messages"):
 * - each is delivered exactly at max(issue + latency + one 8-byte packet at the link rate, the delivery of the
 *   transfer before it on its stream (src, dst, qp)): never before an earlier transfer of its
 *   stream, never after a later one;
 * - bulk transfers' times do not depend on the control messages interleaved with them (beyond
 *   their packet times: the run without them gives the same bulk delivery times);
 * - 1 and 2 workers give the same timeline.
 * fc.assert prints the seed and counterexample of any failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../src/actors/op-registry.js';
import type { RankContext } from '../../src/sim/rank-context.js';
import { timelineDigest, timelineRecords, type TimelineRecord } from '../../src/sim/timeline.js';
import { LinkModel } from '../../src/transport/links.js';
import { CONTROL_MESSAGE_BYTES, PATH_IB, PATH_LOCAL } from '../../src/transport/protocol.js';
import { ROUND, withCluster } from '../unit/cluster/helpers.js';

/** One step of a rank's plan: wait `waitUs`, then issue a put of `bytes` or an atomic add, to `dst` on queue pair `qp`. */
interface Step { waitUs: number; dst: number; add: boolean; bytes: number; qp: number }
interface Mix { plan: Step[][] }

const RANKS = 4;
const GPUS = 2;
const links = new LinkModel(ROUND, GPUS);

const isControl = (s: Step) => s.add || s.bytes <= CONTROL_MESSAGE_BYTES;

/** Each rank issues its plan, then waits until every add (counter 0) and put (counter 1, a signal) meant for it has landed. */
defineOp<{ plan: Step[][]; controls: boolean }>({
  name: 't.controlMix',
  *task(ctx: RankContext, a) {
    const flag = ctx.region('flag');
    for (const s of a.plan[ctx.rank] ?? []) {
      if (s.waitUs > 0) yield ctx.sleep(s.waitUs);
      if (isControl(s) && !a.controls) continue;
      if (s.add) ctx.atomicAdd(ctx.peerRegion(s.dst, 'flag'), 0, 1, { qp: s.qp });
      else ctx.send(s.dst, s.bytes, { qp: s.qp, signal: { region: ctx.peerRegion(s.dst, 'flag'), offset: 4, value: 1 } });
    }
    const mine = a.plan.flat().filter((s) => s.dst === ctx.rank && (a.controls || !isControl(s)));
    yield ctx.untilAtLeast(flag, 0, mine.filter((s) => s.add).length);
    yield ctx.untilAtLeast(flag, 1, mine.filter((s) => !s.add).length);
  },
});

const stepArb: fc.Arbitrary<Step> = fc.record({
  waitUs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 6 }), fc.double({ min: 0, max: 6, noNaN: true })),
  dst: fc.integer({ min: 0, max: RANKS - 1 }),
  add: fc.boolean(),
  bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: CONTROL_MESSAGE_BYTES }), fc.integer({ min: CONTROL_MESSAGE_BYTES + 1, max: 400_000 })),
  qp: fc.integer({ min: 0, max: 2 }),
});
const mixArb: fc.Arbitrary<Mix> = fc.record({ plan: fc.array(fc.array(stepArb, { maxLength: 10 }), { minLength: RANKS, maxLength: RANKS }) });

async function run(mix: Mix, controls: boolean, workers: number): Promise<{ records: TimelineRecord[]; digest: string }> {
  return withCluster({ nodes: 2, gpusPerNode: GPUS, workers }, async (c) => {
    for (let r = 0; r < RANKS; r++) c.register(r, 'flag', 8);
    await c.run('t.controlMix', { plan: mix.plan, controls });
    const t = await c.takeTimeline();
    return { records: timelineRecords(t), digest: timelineDigest(t) };
  });
}

/** Each rank's steps in issue order with the record each became (matched by pair sequence). */
function issued(mix: Mix, records: TimelineRecord[], controls: boolean): Array<{ step: Step; src: number; rec: TimelineRecord }> {
  const byPair = new Map<string, TimelineRecord>();
  for (const r of records) byPair.set(`${r.src}>${r.dst}#${r.pairSeq}`, r);
  const out: Array<{ step: Step; src: number; rec: TimelineRecord }> = [];
  mix.plan.forEach((steps, src) => {
    const next = new Array<number>(RANKS).fill(0);
    for (const step of steps) {
      if (!controls && isControl(step)) continue;
      const rec = byPair.get(`${src}>${step.dst}#${next[step.dst]!++}`);
      expect(rec, `rank ${src} -> ${step.dst} transfer ${next[step.dst]! - 1} delivered`).toBeDefined();
      out.push({ step, src, rec: rec! });
    }
  });
  expect(out).toHaveLength(records.length);
  return out;
}

const tol = (x: number) => 1e-9 * Math.max(1, Math.abs(x));

describe('control messages over random transfer mixes (in-process)', () => {
  it('delivered at max(arrival, the delivery before them on their stream); bulk times as without them; same timeline on 1 and 2 workers', async () => {
    await fc.assert(
      fc.asyncProperty(mixArb, async (mix) => {
        const one = await run(mix, true, 1);
        const all = issued(mix, one.records, true);
        // Bulk transfers without the control messages: the same delivery times, within the control
        // messages' packet times (all of them, at the slower link's rate).
        const bare = issued(mix, (await run(mix, false, 1)).records, false);
        const bulk = all.filter((e) => !isControl(e.step));
        expect(bare).toHaveLength(bulk.length);
        const controls = all.length - bulk.length;
        const slack = (controls * CONTROL_MESSAGE_BYTES) / links.bytesPerUs[PATH_IB]!;
        bulk.forEach((e, i) => {
          const b = bare[i]!.rec;
          expect(b.src).toBe(e.rec.src);
          expect(b.dst).toBe(e.rec.dst);
          expect(b.bytes).toBe(e.rec.bytes);
          expect(Math.abs(b.deliverT - e.rec.deliverT), `bulk ${e.src}>${b.dst} of ${b.bytes} B`).toBeLessThanOrEqual(slack + tol(b.deliverT));
        });
        // Streams (src, dst, qp; NVLink transfers take qp 0), in issue order.
        const streams = new Map<string, typeof all>();
        for (const e of all) {
          const path = links.path(e.src, e.step.dst);
          if (path === PATH_LOCAL) continue;
          const key = `${e.src}>${e.step.dst}/${path === PATH_IB ? e.step.qp : 0}`;
          streams.set(key, [...(streams.get(key) ?? []), e]);
        }
        for (const list of streams.values())
          list.forEach((e, i) => {
            const r = e.rec;
            if (!isControl(e.step)) return;
            // One packet of CONTROL_MESSAGE_BYTES, whatever the message carries.
            const arrival = r.issueT + links.latencyUs[r.path]! + CONTROL_MESSAGE_BYTES / links.bytesPerUs[r.path]!;
            const before = i > 0 ? list[i - 1]!.rec.deliverT : -Infinity;
            const want = Math.max(arrival, before);
            expect(Math.abs(r.deliverT - want), `control ${i} of its stream at ${r.deliverT}, want ${want}`).toBeLessThanOrEqual(tol(want));
            for (let k = 0; k < i; k++) expect(r.deliverT).toBeGreaterThanOrEqual(list[k]!.rec.deliverT);
            for (let k = i + 1; k < list.length; k++) expect(r.deliverT).toBeLessThanOrEqual(list[k]!.rec.deliverT);
          });
        // Two workers (one per node): the same timeline.
        expect((await run(mix, true, 2)).digest).toBe(one.digest);
      }),
      { numRuns: Number(process.env['CONTROL_PROP_RUNS'] ?? 40) },
    );
  }, 120_000);
});
