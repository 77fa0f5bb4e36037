/**
 * The work of a receiver port with hundreds of streams, as counts (streams stepped or examined),
 * not time: news of one stream costs a few stream visits, not one per active stream, whether the
 * shares stay (a queued stream's rate) or a demand moves without moving the others' rates.
 */
import { describe, expect, it } from 'vitest';
import { NEWS_RATE, NEWS_START, RecvPort, type RecvHost } from '../../../src/sim/flow-port.js';
import { TransferTable } from '../../../src/sim/transfers.js';
import { QP_SLOTS } from '../../../src/transport/protocol.js';

const CAP = 50_000; // bytes/us
const N = 300;

function setup(senderRate: number): { port: RecvPort; host: RecvHost & { now: number }; news: (t: number, s: number, kind: number, rate: number) => void; credits: number[] } {
  const jobs = new TransferTable();
  for (let s = 0; s < N; s++) jobs.bytes[jobs.alloc()] = 1e6;
  const credits: number[] = [];
  const host: RecvHost & { now: number } = {
    now: 0,
    settleLater: () => {},
    timer: () => {},
    served: () => { throw new Error('nothing is served in this test'); },
    credit: (_p, count) => { credits.push(count); },
  };
  const port = new RecvPort(0, 1, CAP, jobs, host);
  const rates = new Float64Array(1);
  const news = (t: number, s: number, kind: number, rate: number): void => {
    host.now = t;
    rates[0] = rate;
    port.news(s, kind, rates, 0, (s + 1) * QP_SLOTS);
  };
  for (let s = 0; s < N; s++) news(0, s, NEWS_START, senderRate);
  port.runDue();
  expect(port.activeStreams).toBe(N);
  return { port, host, news, credits };
}

describe('RecvPort work per news with 300 streams', () => {
  it('a queued stream whose rate changes: the shares stay, one stream is visited', () => {
    // Senders at 3x the port's capacity in all: every stream queues at the fair level.
    const { port, news } = setup(CAP / 100);
    news(1, 0, NEWS_RATE, CAP / 90);
    port.runDue(); // every queue has started: each stream is examined once and wants all it can get
    expect(port.level).toBeCloseTo(CAP / N, 6);
    const v0 = port.streamVisits;
    const s0 = port.settles;
    news(2, 7, NEWS_RATE, CAP / 80);
    port.runDue();
    expect(port.settles - s0).toBe(1);
    expect(port.streamVisits - v0).toBeLessThanOrEqual(3);
    expect(port.level).toBeCloseTo(CAP / N, 6);
  });

  it('a stream served as it arrives whose rate changes: a new water-filling, the others untouched', () => {
    // Senders at half the port's capacity in all: nobody queues, every stream gets what arrives.
    const { port, news, credits } = setup(CAP / (2 * N));
    const v0 = port.streamVisits;
    news(1, 42, NEWS_RATE, CAP / N);
    port.runDue();
    expect(port.streamVisits - v0).toBeLessThanOrEqual(3);
    expect(port.level).toBe(Infinity);
    // One credit per stream at the start (nothing heard yet), none since: no limit stays no limit.
    expect(credits).toEqual([N]);
  });
});
