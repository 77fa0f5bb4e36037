/**
 * A sender port reuses its last water-filling when its streams and their caps are unchanged (most
 * settles end a transfer and start the next of the same stream): the news it tells must be the
 * same, bit for bit, as when it water-fills at every settle. Random runs of one port: transfers on
 * a few streams (some as RDMA work requests, capped at the queue pair's rate), credits from a small
 * set of levels (so caps repeat), and the clock moved to the port's timers or between them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendPort, type SendHost } from '../../src/sim/flow-port.js';
import { TransferTable } from '../../src/sim/transfers.js';

const CAPACITY = 50_000; // bytes/us
const QP_LIMIT = 22_000;
const LEVELS = [Infinity, 4_000, 12_500, 12_500 * (1 + 1e-3), 25_000, CAPACITY / 3];

type Op =
  | { kind: 'enqueue'; key: number; bytes: number; wr: boolean }
  | { kind: 'credit'; key: number; level: number }
  | { kind: 'timer' }
  | { kind: 'wait'; us: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: 7 }), bytes: fc.constantFrom(4096, 7168, 65_536, 1e6 / 3), wr: fc.boolean() }),
  fc.record({ kind: fc.constant('credit' as const), key: fc.integer({ min: 0, max: 7 }), level: fc.constantFrom(...LEVELS) }),
  fc.constant({ kind: 'timer' as const }),
  fc.record({ kind: fc.constant('wait' as const), us: fc.constantFrom(0.05, 0.3, 1.7) }),
);

/** Run `ops` on a port; `refill`: water-fill at every settle (no reuse). Returns every news item and the port's figures. */
function run(ops: readonly Op[], refill: boolean): unknown[] {
  const jobs = new TransferTable(8);
  const log: unknown[] = [];
  let port!: SendPort;
  const host: SendHost & { now: number } = {
    now: 0,
    settleLater: () => {},
    timer: () => {},
    eventKey: () => 0,
    news: (p, count) => {
      for (let i = 0; i < count; i++) log.push([host.now, p.newsJob[i], p.newsKind[i], p.newsRate[i], p.newsKey[i]]);
    },
  };
  port = new SendPort(0, 1, CAPACITY, jobs, host);
  port.qpLimit = QP_LIMIT;
  const levels = new Float64Array(1);
  const settle = () => {
    if (!port.dirty && !(port.timerAt <= host.now)) return;
    if (refill) (port as unknown as { filled: boolean }).filled = false;
    port.runDue();
  };
  for (const o of ops) {
    if (o.kind === 'enqueue') {
      const x = jobs.alloc();
      jobs.bytes[x] = o.bytes;
      port.enqueue(x, o.key, o.wr);
    } else if (o.kind === 'credit') {
      levels[0] = o.level;
      port.credit(o.key, levels, 0, 0);
    } else if (o.kind === 'timer') {
      if (port.timerAt < Infinity) host.now = port.timerAt;
    } else host.now += Math.min(o.us, port.timerAt - host.now);
    settle();
  }
  // Run out every transfer.
  for (let i = 0; i < 10_000 && port.timerAt < Infinity; i++) {
    host.now = port.timerAt;
    settle();
  }
  log.push(['end', host.now, port.busyUs, port.bytesMoved, port.maxLoad, port.activeStreams]);
  return log;
}

describe('SendPort: the last water-filling reused', () => {
  it('tells the same news, bit for bit, as a port that water-fills at every settle', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
        const reused = run(ops, false);
        expect(reused).toEqual(run(ops, true));
        expect(reused[reused.length - 1]).toEqual(['end', expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number), 0]);
      }),
      { numRuns: 300 },
    );
  });
});
