/**
 * The lazy receiver port against the port it replaced (every stream stepped at every instant,
 * kept in test/support/reference-recv-port.ts): fed the same news on random flow sets, both must
 * deliver the same transfers in the same order at the same times to a relative 1e-9 (also on
 * uniform sets, the low-latency kernels' equal messages whose ends coincide), send the same
 * credits, run at as many instants (the same quiet timers passed over), and count the same busy time. The lazy port rounds differently (a stream is stepped once
 * from its last change), so times are compared to a tolerance, decisions exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NEWS_DONE, NEWS_RATE, NEWS_START, RecvPort, type RecvHost } from '../../src/sim/flow-port.js';
import { TransferTable } from '../../src/sim/transfers.js';
import { QP_SLOTS } from '../../src/transport/protocol.js';
import { ReferenceRecvPort } from '../support/reference-recv-port.js';

/** One news item for the receiver: at `t`, job `job` of stream `key`, kind and rate. */
interface Item { t: number; job: number; kind: number; rate: number; key: number; seq: number }

/** A flow set: per stream, jobs one after another, each sent at a few rates; its news in time order. */
function flowSet(seed: number, streams: number, jobsPerStream: number, capacity: number, uniform = false): { items: Item[]; bytes: number[] } {
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  const items: Item[] = [];
  const bytes: number[] = [];
  let seq = 0;
  // Uniform: streams in three groups, each starting at one random time at one of a few rates, so the
  // ends of a group's transfers coincide (to rounding) but seldom fall on a news time of another.
  const groups = [rnd() * 3, rnd() * 3, rnd() * 3];
  const groupRate = [2 + 8 * Math.floor(rnd() * 3), 2 + 8 * Math.floor(rnd() * 3), 2 + 8 * Math.floor(rnd() * 3)];
  for (let k = 0; k < streams; k++) {
    const key = (k + 1) * QP_SLOTS + Math.floor(rnd() * 3);
    let t = uniform ? groups[k % 3]! : rnd() * 20;
    for (let j = 0; j < jobsPerStream; j++) {
      const job = bytes.length;
      // Uniform: the low-latency kernels' messages (one size, a few rates), whose ends coincide.
      const b = uniform ? 7408 : 500 + Math.floor(rnd() * 60_000);
      bytes.push(b);
      const segs = 1 + Math.floor(rnd() * 4);
      let left = b;
      for (let g = 0; g < segs; g++) {
        // Sender rates from a small share of the port to most of it: some streams queue, some not.
        const rate = uniform ? capacity / groupRate[k % 3]! : capacity * (0.02 + rnd() * (rnd() < 0.5 ? 0.1 : 0.7));
        items.push({ t, job, kind: g === 0 ? NEWS_START : NEWS_RATE, rate, key, seq: seq++ });
        const part = g === segs - 1 ? left : uniform ? left / 2 : left * rnd();
        left -= part;
        t += part / rate;
      }
      items.push({ t, job, kind: NEWS_DONE, rate: 0, key, seq: seq++ });
      if (uniform) t += rnd() < 0.5 ? 0 : rnd();
      else if (rnd() < 0.7) t += rnd() * 5; // else the next job starts at the same instant
    }
  }
  items.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return { items, bytes };
}

interface Outcome {
  deliveries: Array<[number, number]>;
  credits: Array<[number, number, number]>;
  busyUs: number;
  bytesMoved: number;
  maxLoad: number;
  /** Instants the port ran (a quiet timer passed over is none). */
  runs: number;
  port: RecvPort | ReferenceRecvPort;
}

/** Run a port on the items as an engine would: news of an instant, then the port once if due. */
function run(lazy: boolean, set: { items: Item[]; bytes: number[] }, capacity: number): Outcome {
  const jobs = new TransferTable();
  for (const b of set.bytes) jobs.bytes[jobs.alloc()] = b;
  const out: Outcome = { deliveries: [], credits: [], busyUs: 0, bytesMoved: 0, maxLoad: 0, runs: 0, port: undefined as never };
  const host: RecvHost & { now: number } = {
    now: 0,
    settleLater: () => {},
    timer: () => {},
    served: (_p, job) => { out.deliveries.push([host.now, job]); },
    credit: (p, count) => {
      for (let i = 0; i < count; i++) out.credits.push([host.now, p.creditKeys[i]!, p.level]);
    },
  };
  const port = lazy ? new RecvPort(0, 1, capacity, jobs, host) : new ReferenceRecvPort(0, 1, capacity, jobs, host);
  const rates = new Float64Array(1);
  const items = set.items;
  let k = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const due = port.dirty ? host.now : port.timerAt;
    const t = Math.min(k < items.length ? items[k]!.t : Infinity, due);
    if (t === Infinity) break;
    host.now = t;
    while (k < items.length && items[k]!.t === t) {
      const it = items[k++]!;
      rates[0] = it.rate;
      port.news(it.job, it.kind, rates, 0, it.key);
    }
    if (port.dirty || port.timerAt <= t) {
      out.runs++;
      port.runDue();
    }
  }
  out.busyUs = port.busyUs;
  out.bytesMoved = port.bytesMoved;
  out.maxLoad = port.maxLoad;
  out.port = port;
  return out;
}

function close(a: number, b: number, rel: number): boolean {
  return a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1);
}

/**
 * `decisions`: also the same credits and instants. Not on uniform sets, where a port's timer and a
 * sender's news fall on the same instant in exact arithmetic: which comes first is the rounding's
 * (an ulp early, the timer's settle tells the old arrival rate a credit the other order does not).
 */
function compare(ref: Outcome, lazy: Outcome, decisions = true): void {
  expect(lazy.deliveries.length).toBe(ref.deliveries.length);
  expect(lazy.deliveries.map((d) => d[1])).toEqual(ref.deliveries.map((d) => d[1]));
  for (let i = 0; i < ref.deliveries.length; i++) {
    if (!close(ref.deliveries[i]![0], lazy.deliveries[i]![0], 1e-9)) expect(lazy.deliveries[i]![0]).toBe(ref.deliveries[i]![0]);
  }
  expect(close(ref.busyUs, lazy.busyUs, 1e-9)).toBe(true);
  expect(lazy.port.idle).toBe(true);
  if (!decisions) return;
  expect(lazy.credits.map((c) => c[1])).toEqual(ref.credits.map((c) => c[1]));
  for (let i = 0; i < ref.credits.length; i++) {
    const [t0, , l0] = ref.credits[i]!;
    const [t1, , l1] = lazy.credits[i]!;
    if (!close(t0, t1, 1e-9) || !(l0 === l1 || close(l0, l1, 1e-9))) expect([t1, l1]).toEqual([t0, l0]);
  }
  expect(close(ref.busyUs, lazy.busyUs, 1e-9)).toBe(true);
  expect(close(ref.bytesMoved, lazy.bytesMoved, 1e-9)).toBe(true);
  expect(close(ref.maxLoad, lazy.maxLoad, 1e-9)).toBe(true);
  expect(lazy.runs).toBe(ref.runs);
  expect(lazy.port.idle).toBe(true);
}

describe('RecvPort (lazy) against the port that stepped every stream', () => {
  it('delivers the same transfers in the same order at the same times, with the same credits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(50_000, 160_000), fc.boolean(), (seed, streams, jobs, capacity, uniform) => {
        const set = flowSet(seed, streams, jobs, capacity, uniform);
        compare(run(false, set, capacity), run(true, set, capacity), !uniform);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees on a port with 300 streams, of random and of uniform messages', () => {
    const u = flowSet(777, 300, 3, 50_000, true);
    compare(run(false, u, 50_000), run(true, u, 50_000), false);
    const set = flowSet(12345, 300, 2, 50_000);
    const ref = run(false, set, 50_000);
    const lazy = run(true, set, 50_000);
    expect(ref.deliveries.length).toBe(600);
    compare(ref, lazy);
  });
});
