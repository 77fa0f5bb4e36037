/**
 * The flow ports' per-stream bookkeeping on hand-computed runs: a sender's streams keep their active
 * positions (one that leaves hands its place to the last, and the settle's passes, news and ends
 * follow that order), and a receiver's rate news reaches its own stream's record (its streams' own
 * fields are one record per slot), not the first one made.
 */
import { describe, expect, it } from 'vitest';
import { NEWS_DONE, NEWS_RATE, NEWS_START, RecvPort, SendPort, type RecvHost, type SendHost } from '../../../src/sim/flow-port.js';
import { TransferTable } from '../../../src/sim/transfers.js';
import { QP_SLOTS } from '../../../src/transport/protocol.js';

describe('SendPort by active position', () => {
  it('a stream that leaves hands its place to the last one: the news follow the new order, the ends the copies', () => {
    const jobs = new TransferTable();
    const news: Array<[number, number, number, number]> = []; // [time, job, kind, rate]
    const timers: number[] = [];
    const host: SendHost & { now: number } = {
      now: 0,
      settleLater: () => {},
      timer: (p) => { timers.push(p.timerAt); },
      eventKey: () => 0,
      news: (p, count) => { for (let i = 0; i < count; i++) news.push([host.now, p.newsJob[i]!, p.newsKind[i]!, p.newsRate[i]!]); },
    };
    const port = new SendPort(0, 0, 90, jobs, host); // 90 bytes/us, no credits: equal shares
    const [a, b, c] = [90, 180, 270].map((bytes) => {
      const x = jobs.alloc();
      jobs.bytes[x] = bytes;
      return x;
    }) as [number, number, number];
    port.enqueue(a, 1 * QP_SLOTS, false);
    port.enqueue(b, 2 * QP_SLOTS, false);
    port.enqueue(c, 3 * QP_SLOTS, false);
    port.settle();
    // 30 each: a ends at 3.
    expect(news).toEqual([[0, a, NEWS_START, 30], [0, b, NEWS_START, 30], [0, c, NEWS_START, 30]]);
    expect(port.timerAt).toBe(3);
    news.length = 0;
    host.now = 3;
    port.runDue();
    // a (position 0) leaves and c takes its place: c's news before b's. b has 90 bytes left at 45:
    // it ends at 5.
    expect(news).toEqual([[3, a, NEWS_DONE, 0], [3, c, NEWS_RATE, 45], [3, b, NEWS_RATE, 45]]);
    expect(port.timerAt).toBe(5);
    news.length = 0;
    host.now = 5;
    port.runDue();
    // c sent 90 + 90 of 270: its last 90 at 90 bytes/us end at 6.
    expect(news).toEqual([[5, b, NEWS_DONE, 0], [5, c, NEWS_RATE, 90]]);
    expect(port.timerAt).toBe(6);
    news.length = 0;
    host.now = 6;
    port.runDue();
    expect(news).toEqual([[6, c, NEWS_DONE, 0]]);
    expect(port.activeStreams).toBe(0);
    expect(port.idle).toBe(true);
  });
});

describe('RecvPort news by stream', () => {
  it("a rate news reaches its own stream's slot, not the first slot made", () => {
    const jobs = new TransferTable();
    const served: Array<[number, number]> = [];
    const host: RecvHost & { now: number } = {
      now: 0,
      settleLater: () => {},
      timer: () => {},
      served: (_p, job) => { served.push([host.now, job]); },
      credit: () => {},
    };
    const port = new RecvPort(0, 1, 100, jobs, host); // 100 bytes/us
    const x = jobs.alloc();
    jobs.bytes[x] = 100;
    const y = jobs.alloc();
    jobs.bytes[y] = 300;
    const rates = new Float64Array(1);
    const news = (t: number, job: number, kind: number, rate: number, key: number): void => {
      host.now = t;
      rates[0] = rate;
      port.news(job, kind, rates, 0, key);
    };
    // y's stream (peer 2) gets the first slot, x's (peer 1) the second.
    news(0, y, NEWS_START, 30, 2 * QP_SLOTS);
    news(0, x, NEWS_START, 25, 1 * QP_SLOTS);
    port.runDue();
    // 55 bytes/us arrive in all: each stream is served as it arrives, nobody's bottleneck.
    expect(port.level).toBe(Infinity);
    // x: 50 bytes by 2, then 50 bytes/us: all 100 by 3, its end's news then, served at once.
    news(2, x, NEWS_RATE, 50, 1 * QP_SLOTS);
    port.runDue();
    news(3, x, NEWS_DONE, 0, 1 * QP_SLOTS);
    port.runDue();
    expect(served).toEqual([[3, x]]);
    // y: 300 bytes at 30 bytes/us, all by 10 (had x's rate gone to y's slot, y would be served early).
    news(10, y, NEWS_DONE, 0, 2 * QP_SLOTS);
    port.runDue();
    expect(served).toEqual([[3, x], [10, y]]);
    expect(port.activeStreams).toBe(0);
  });
});
