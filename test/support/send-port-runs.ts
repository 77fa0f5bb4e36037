/**
 * Random runs of one sender port, for the tests comparing the port that works per change with the
 * reference port (test/support/reference-send-port.ts): the ops, a run as an engine drives a port,
 * and the comparison.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { SendPort, type SendHost } from '../../src/sim/flow-port.js';
import { TransferTable } from '../../src/sim/transfers.js';
import { ReferenceSendPort } from './reference-send-port.js';

const CAPACITY = 50_000; // bytes/us
const QP_LIMIT = 22_000;

/**
 * A busy port: `streams` streams started at once with long transfers (the low-latency kernels' NIC
 * ports carry a stream per peer), then random ops with credits near the equal share, where each
 * stream that comes or goes moves the level by less than the resolution.
 */
export function busyOps(streams: number): fc.Arbitrary<Op[]> {
  const start: Op[] = [];
  for (let k = 0; k < streams; k++) start.push({ kind: 'enqueue', key: k, bytes: 100_000 + 3_000 * (k % 7), wr: k % 3 === 0 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: streams + 9 }), bytes: fc.oneof(fc.constantFrom(7408, 14_336), fc.double({ min: 500, max: 200_000, noNaN: true })), wr: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('credit' as const), key: fc.integer({ min: 0, max: streams + 9 }), level: fc.double({ min: -0.04, max: 0.04, noNaN: true }).map((u) => (CAPACITY / streams) * (1 + u)) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('credit' as const), key: fc.integer({ min: 0, max: streams + 9 }), level: fc.constantFrom(Infinity, CAPACITY / 10) }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'timer' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), us: fc.constantFrom(0.05, 0.3, 1.7) }) },
  );
  return fc.array(op, { minLength: 50, maxLength: 300 }).map((rest) => [...start, ...rest]);
}

export type Op =
  | { kind: 'enqueue'; key: number; bytes: number; wr: boolean }
  | { kind: 'credit'; key: number; level: number }
  | { kind: 'timer' }
  | { kind: 'wait'; us: number };

/**
 * Ops on up to `keys` streams. Credits near the equal share of a few stream counts (within a few
 * percent, so rates are held and released at the send resolution), no limit, or anywhere.
 */
export function opsFor(keys: number): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: keys - 1 }), bytes: fc.oneof(fc.constantFrom(7408, 14_336), fc.double({ min: 500, max: 200_000, noNaN: true })), wr: fc.boolean() }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('credit' as const),
        key: fc.integer({ min: 0, max: keys - 1 }),
        level: fc.oneof(
          fc.tuple(fc.integer({ min: 1, max: 40 }), fc.double({ min: -0.03, max: 0.03, noNaN: true })).map(([n, u]) => (CAPACITY / n) * (1 + u)),
          fc.constant(Infinity),
          fc.double({ min: 100, max: CAPACITY, noNaN: true }),
        ),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'timer' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), us: fc.constantFrom(0.05, 0.3, 1.7) }) },
  );
  return fc.array(op, { minLength: keys > 10 ? 150 : 10, maxLength: 400 });
}

type News = [number, number, number, number, number]; // time, job, kind, rate, key

export interface Outcome { news: News[]; end: number; busyUs: number; bytesMoved: number; maxLoad: number; active: number; port: SendPort | ReferenceSendPort }

/** Run `list` on a port as an engine would: each change, then the port's settle when due; then run it out. */
export function runSend(list: readonly Op[], lazy: boolean): Outcome {
  const jobs = new TransferTable(8);
  const news: News[] = [];
  const host: SendHost & { now: number } = {
    now: 0,
    settleLater: () => {},
    timer: () => {},
    eventKey: () => 0,
    news: (p, count) => {
      for (let i = 0; i < count; i++) news.push([host.now, p.newsJob[i]!, p.newsKind[i]!, p.newsRate[i]!, p.newsKey[i]!]);
    },
  };
  const port = lazy ? new SendPort(0, 1, CAPACITY, jobs, host) : new ReferenceSendPort(0, 1, CAPACITY, jobs, host);
  port.qpLimit = QP_LIMIT;
  const levels = new Float64Array(1);
  const eventKeys = new Float64Array(1); // (0: every credit sent under key 0)
  const settle = (): void => {
    if (port.dirty || port.timerAt <= host.now) port.runDue();
  };
  for (const o of list) {
    if (o.kind === 'enqueue') {
      const x = jobs.alloc();
      jobs.bytes[x] = o.bytes;
      port.enqueue(x, o.key, o.wr);
    } else if (o.kind === 'credit') {
      levels[0] = o.level;
      port.credit(o.key, levels, 0, eventKeys);
    } else if (o.kind === 'timer') {
      if (port.timerAt < Infinity) host.now = port.timerAt;
    } else {
      // A wait that reaches the timer, to rounding, goes to it (the two ports' timers differ in
      // the last bits: a wait landing between them would order a timer and a change differently).
      const to = host.now + o.us;
      host.now = port.timerAt === Infinity || to < port.timerAt - 1e-12 * Math.max(1, port.timerAt) ? to : port.timerAt;
    }
    settle();
  }
  for (let i = 0; i < 100_000 && port.timerAt < Infinity; i++) {
    host.now = port.timerAt;
    settle();
  }
  return { news, end: host.now, busyUs: port.busyUs, bytesMoved: port.bytesMoved, maxLoad: port.maxLoad, active: port.activeStreams, port };
}

function close(a: number, b: number, rel: number): boolean {
  return a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1);
}

export function compareSend(ref: Outcome, lazy: Outcome): void {
  const shape = (o: Outcome) => o.news.map((n) => [n[1], n[2], n[4]]);
  expect(shape(lazy)).toEqual(shape(ref));
  for (let i = 0; i < ref.news.length; i++) {
    const a = ref.news[i]!;
    const b = lazy.news[i]!;
    if (!close(a[0], b[0], 1e-9) || !close(a[3], b[3], 1e-9)) expect([i, b[0], b[3]]).toEqual([i, a[0], a[3]]);
  }
  expect(lazy.active).toBe(0);
  expect(close(ref.end, lazy.end, 1e-9)).toBe(true);
  expect(close(ref.busyUs, lazy.busyUs, 1e-9)).toBe(true);
  expect(close(ref.bytesMoved, lazy.bytesMoved, 1e-9)).toBe(true);
  expect(close(ref.maxLoad, lazy.maxLoad, 1e-9)).toBe(true);
  expect(lazy.port.idle).toBe(true);
}

