/**
 * The work of a sender port with hundreds of streams, as counts (streams visited), not time: with
 * its per-change indexes, a settle where one stream changes (its transfer ends and the next starts,
 * a credit caps it, the cap goes) visits a few streams, not one per active stream, while the others
 * keep their rates. (A port keeps the indexes from `SendPort.lazyFrom` streams on: set here to 48.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NEWS_DONE, NEWS_RATE, NEWS_START, SendPort, type SendHost } from '../../../src/sim/flow-port.js';
import { TransferTable } from '../../../src/sim/transfers.js';

const CAP = 50_000; // bytes/us
const N = 300;

function setup(): { port: SendPort; host: SendHost & { now: number }; news: Array<[number, number, number]>; jobs: TransferTable } {
  const jobs = new TransferTable();
  const news: Array<[number, number, number]> = [];
  const host: SendHost & { now: number } = {
    now: 0,
    settleLater: () => {},
    timer: () => {},
    eventKey: () => 0,
    news: (p, count) => {
      for (let i = 0; i < count; i++) news.push([p.newsKey[i]!, p.newsKind[i]!, p.newsRate[i]!]);
    },
  };
  const port = new SendPort(0, 1, CAP, jobs, host);
  // Stream 7 sends 1,000 bytes, then 1e6; every other stream 1e6.
  for (let s = 0; s < N; s++) {
    const x = jobs.alloc();
    jobs.bytes[x] = s === 7 ? 1000 : 1e6;
    port.enqueue(x, s, false);
  }
  const y = jobs.alloc();
  jobs.bytes[y] = 1e6;
  port.enqueue(y, 7, false);
  port.runDue();
  expect(news.length).toBe(N);
  expect(news.every(([, kind, rate]) => kind === NEWS_START && rate === CAP / N)).toBe(true);
  news.length = 0;
  return { port, host, news, jobs };
}

const FROM = SendPort.lazyFrom;
const UNTIL = SendPort.lazyUntil;

beforeEach(() => {
  SendPort.lazyFrom = 48;
  SendPort.lazyUntil = 24;
});

afterEach(() => {
  SendPort.lazyFrom = FROM;
  SendPort.lazyUntil = UNTIL;
});

describe('SendPort work per settle with 300 streams', () => {
  it('a transfer ends and the next of its stream starts: two news items, a few stream visits', () => {
    const { port, host, news } = setup();
    expect(port.timerAt).toBeCloseTo((1000 * N) / CAP, 9);
    const v0 = port.streamVisits;
    host.now = port.timerAt;
    port.runDue();
    expect(news).toEqual([[7, NEWS_DONE, 0], [7, NEWS_START, CAP / N]]);
    expect(port.streamVisits - v0).toBeLessThanOrEqual(3);
    expect(port.fullSettles).toBe(1); // the first settle only (every stream new)
  });

  it('a credit caps one stream, then the cap goes: the others keep their rates, a few stream visits each', () => {
    const { port, host, news } = setup();
    const levels = new Float64Array(1);
    host.now = 1;
    levels[0] = CAP / N / 2; // half the fair level: the level of the others rises by 0.17%, held
    const v0 = port.streamVisits;
    port.credit(42, levels, 0, 0);
    port.runDue();
    expect(news).toEqual([[42, NEWS_RATE, CAP / N / 2]]);
    expect(port.streamVisits - v0).toBeLessThanOrEqual(3);
    news.length = 0;
    host.now = 2;
    levels[0] = Infinity; // the level falls back to the equal share, which the others kept
    const v1 = port.streamVisits;
    port.credit(42, levels, 0, 0);
    port.runDue();
    expect(news).toEqual([[42, NEWS_RATE, CAP / N]]);
    expect(port.streamVisits - v1).toBeLessThanOrEqual(3);
    expect(port.fullSettles).toBe(1);
  });

  it('without the indexes (below lazyFrom streams) the same news, a pass over every stream', () => {
    SendPort.lazyFrom = 1000;
    const { port, host, news } = setup();
    const v0 = port.streamVisits;
    host.now = port.timerAt;
    port.runDue();
    expect(news).toEqual([[7, NEWS_DONE, 0], [7, NEWS_START, CAP / N]]);
    expect(port.streamVisits - v0).toBeGreaterThanOrEqual(2 * N);
    expect(port.fullSettles).toBe(2);
  });
});
