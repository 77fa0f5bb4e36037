import fc from 'fast-check';
import { Packr, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EngineHost } from '../../../src/actors/engine-host.js';
import type { HostReply, HostRequest } from '../../../src/actors/host-messages.js';
import { decodePackets, encodePackets, makePacket, type Packet } from '../../../src/transport/packets.js';
import { OP_PUT, PATH_IB, PKT_ACK, PKT_EGRESS_DONE, PKT_INGRESS_START, PKT_READ } from '../../../src/transport/protocol.js';
import { expectError, ROUND } from '../cluster/helpers.js';

const limits = { numRanks: 8, numRegions: 4 };
const good = (o: Partial<Packet> = {}): Packet => ({
  ...makePacket(PKT_INGRESS_START, 5, 0, 3, 0, 4, 0, 0, OP_PUT, PATH_IB, 1000, -1, 0, 0, 0, 0, 0, 2.5, -1, 1, -1, -1, -1, -1),
  ...o,
});

const packetArb: fc.Arbitrary<Packet> = fc
  .tuple(
    fc.integer({ min: 1, max: 5 }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 7 }), fc.nat(),
    fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }),
    fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: -1, max: 1e6, noNaN: true }), fc.double({ min: -1, max: 1e6, noNaN: true }),
    fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 1000 }), fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }), fc.integer({ min: -1, max: 1 << 30 }),
  )
  // msgpack has no -0: it decodes as 0, which means the same here.
  .map((t) => makePacket(...(t.map((v) => (Object.is(v, -0) ? 0 : v)) as typeof t)));

// For every field, values the decoder must reject (wrong type, non-integer, out of range).
const BAD: Record<keyof Packet, unknown[]> = {
  kind: [0, 7, 1.5, '1'], time: [-1, NaN, Infinity, '5'], keyRank: [-1, 8, 0.5], keySeq: [-1, 1.5, null],
  src: [-1, 8, 'a'], dst: [8, 2.5], xid: [-1, 0.1], pairSeq: [-3, 1e300], op: [-1, 4], path: [3, -1],
  bytes: [-1, 1.5], srcRegion: [-2, 4], srcOffset: [-2, 0.5], dstRegion: [4, -2], dstOffset: [-2], value: [NaN, Infinity, 'x'],
  issueT: [-1, NaN], egressStartT: [-2, NaN], egressDoneT: [-1.5, Infinity], flags: [4, -1], waiter: [-2, 0.5],
  sigRegion: [-2, 4, 0.5], sigOffset: [-2, 1.5], keySeq2: [-2, 0.5],
};

describe('packets', () => {
  it('round trip: decode(encode(batch)) equals the batch', () => {
    fc.assert(
      fc.property(fc.array(packetArb, { maxLength: 20 }), (batch) => {
        expect(decodePackets(encodePackets(batch), limits)).toEqual(batch);
      }),
      { numRuns: 200 },
    );
  });

  it('the encoded buffer is its own (transferable) ArrayBuffer', () => {
    const b = encodePackets([good()]);
    expect(b.byteOffset).toBe(0);
    expect(b.buffer.byteLength).toBe(b.byteLength);
  });

  for (const [field, values] of Object.entries(BAD))
    it(`a malformed '${field}' is rejected with E_PACKET naming the field`, () => {
      for (const v of values) {
        const data = expectError(() => decodePackets(encodePackets([good(), good({ [field]: v } as Partial<Packet>)]), limits), 'E_PACKET', `packet 1: field '${field}'`);
        expect(data).toMatchObject({ index: 1, field });
      }
    });

  it('a batch that is not msgpack, or not an array of records, is rejected', () => {
    expectError(() => decodePackets(new Uint8Array([0x92, 0x01]), limits), 'E_PACKET', 'not valid msgpack');
    expectError(() => decodePackets(pack({ a: 1 }), limits), 'E_PACKET', 'must be an array');
    expectError(() => decodePackets(pack([7]), limits), 'E_PACKET', "packet 0: field 'packet'");
    // A plain map (not the packet record) lacks every field: the first one is named.
    expectError(() => decodePackets(new Packr({ useRecords: false }).pack([{ kind: 1 }]), limits), 'E_PACKET', "packet 0: field 'kind'");
  });
});

describe('a bad batch changes nothing in the receiving EngineHost', () => {
  const init = (h: EngineHost) => {
    const send = (m: HostRequest): HostReply => h.handle(m);
    send({ type: 'init', id: 1, workerIndex: 1, numWorkers: 2, numRanks: 4, gpusPerNode: 2, hardware: ROUND, workerOfRank: [0, 0, 1, 1], recordTimeline: true });
    send({ type: 'register', id: 2, regions: [{ id: 0, rank: 2, name: 'r', buffer: new SharedArrayBuffer(64) }, { id: 1, rank: 2, name: 'gone', buffer: new SharedArrayBuffer(4) }] });
    send({ type: 'unregister', id: 3, regionIds: [1] });
    return send;
  };
  // A transfer from rank 0 (worker 0) to rank 2 (worker 1): its ingress starts at 3 us.
  const start = good({ kind: PKT_INGRESS_START, time: 3, src: 0, dst: 2, keyRank: 0, keySeq: 1, xid: 0, dstRegion: 0, bytes: 8, path: PATH_IB, flags: 1 });

  const cases: Array<[string, Uint8Array[]]> = [
    ['a malformed field in a later batch', [encodePackets([start]), encodePackets([good({ dst: 99 })])]],
    ['egress-done of an unknown transfer after a valid packet', [encodePackets([start, { ...start, kind: PKT_EGRESS_DONE, time: 4, xid: 77 }])]],
    ['an ack of an unknown transfer', [encodePackets([start, { ...start, kind: PKT_ACK, time: 4, xid: 5 }])]],
    ['a read of an unregistered region', [encodePackets([start, { ...start, kind: PKT_READ, time: 4, dstRegion: 1 }])]],
    ["a packet due before the receiver's clock", [encodePackets([start]), encodePackets([{ ...start, time: 0.5, xid: 9 }])]],
  ];
  for (const [what, inbound] of cases)
    it(what, () => {
      const host = new EngineHost();
      const send = init(host);
      const engine = (host as unknown as { engine: { now: number; queue: { size: number } } }).engine;
      engine.now = 1; // as after an idle window ending at 1 us: "the past" exists
      const r = send({ type: 'window', id: 4, end: 2, inbound });
      expect(r.error?.code).toBe('E_PACKET');
      expect(engine.queue.size).toBe(0);
      expect(r.next).toBe(Infinity);
      // The host still works: the valid batch alone is accepted afterwards.
      const ok = send({ type: 'window', id: 5, end: 2, inbound: [encodePackets([start])] });
      expect(ok.error).toBeUndefined();
      expect(ok.next).toBe(3);
    });
});
