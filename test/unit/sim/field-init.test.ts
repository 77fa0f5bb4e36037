/**
 * Fields declared DOUBLE (-0, so that V8 makes them double fields from the first object on: see
 * src/sim/field-init.ts) hold their real start value once constructed: +0 (or -1), never the
 * -0 of the declaration (`toBe` compares with Object.is, which tells -0 from 0).
 */
import { describe, expect, it } from 'vitest';
import { DOUBLE } from '../../../src/sim/field-init.js';
import { EventQueue } from '../../../src/sim/event-queue.js';
import { RecvPort, SendPort, type RecvHost, type SendHost } from '../../../src/sim/flow-port.js';
import { MessageRecvPort, MessageSendPort } from '../../../src/sim/message-port.js';
import { makeWait } from '../../../src/sim/task.js';
import { TransferTable } from '../../../src/sim/transfers.js';
import { WAIT_SLEEP, WAIT_TRANSFER } from '../../../src/transport/protocol.js';

const sendHost: SendHost = { now: 0, settleLater: () => {}, timer: () => {}, eventKey: () => 0, news: () => {} };

describe('DOUBLE', () => {
  it('is -0 (a heap number in V8, never a small integer)', () => {
    expect(DOUBLE).toBe(-0);
    expect(DOUBLE).not.toBe(0);
  });

  it("ports' declared-DOUBLE fields start at 0 and -1", () => {
    const jobs = new TransferTable();
    const recvHost = { now: 0, timer: () => {}, settleLater: () => {}, eventKey: () => 0 } as unknown as RecvHost;
    for (const p of [new SendPort(0, 0, 90, jobs, sendHost), new MessageSendPort(0, 0, 90, jobs, sendHost), new RecvPort(0, 2, 90, jobs, recvHost), new MessageRecvPort(0, 2, 90, jobs, recvHost)]) {
      expect([p.busyUs, p.bytesMoved, p.maxLoad, p.busyBytes, p.busyStart]).toEqual([0, 0, 0, 0, -1]);
      expect(p.busyUs).toBe(0);
      expect(p.bytesMoved).toBe(0);
      expect(p.maxLoad).toBe(0);
      expect(p.busyBytes).toBe(0);
    }
    expect(new RecvPort(0, 2, 90, jobs, recvHost).level).toBe(0);
  });

  it("the event queue's popped fields, a wait's length and handle start at 0", () => {
    const q = new EventQueue(4);
    for (const v of [q.popTime, q.popKey, q.popKind, q.popArg, q.at]) expect(v).toBe(0);
    expect(makeWait(WAIT_SLEEP).us).toBe(0);
    expect(makeWait(WAIT_TRANSFER).transfer).toBe(0);
  });
});
