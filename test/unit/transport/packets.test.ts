import fc from 'fast-check';
import { pack, Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EngineHost } from '../../../src/actors/engine-host.js';
import type { HostReply, HostRequest } from '../../../src/actors/host-messages.js';
import { opRegistry } from '../../../src/actors/op-registry.js';
import { createSyncBuffers, SyncBlock } from '../../../src/actors/window-sync.js';
import { BatchCodec, decodePackets, encodePackets, makePacket, PacketColumns, type Packet } from '../../../src/transport/packets.js';
import { OP_PUT, PATH_IB, PKT_ACK, PKT_CONTROL, PKT_CREDIT, PKT_EGRESS_DONE, PKT_INGRESS_START, PKT_RATE, PKT_READ } from '../../../src/transport/protocol.js';
import { expectError, ROUND } from '../cluster/helpers.js';

const limits = { numRanks: 8, numRegions: 4 };
const good = (o: Partial<Packet> = {}): Packet => ({
  ...makePacket(PKT_INGRESS_START, 5, 0, 3, 0, 4, 0, 0, OP_PUT, PATH_IB, 1000, -1, 0, 0, 0, 0, 0, 2.5, -1, 1, -1, -1, -1, 0, 0),
  ...o,
});

const packetArb: fc.Arbitrary<Packet> = fc
  .tuple(
    fc.integer({ min: 1, max: 7 }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 7 }), fc.nat(),
    fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }),
    fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: -1, max: 1e6, noNaN: true }), fc.double({ min: -1, max: 1e6, noNaN: true }),
    fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 1000 }), fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 1 << 30 }),
    fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 31 }),
  )
  .map((t) => makePacket(...t));

// For every field, values the decoder must reject (non-integer, out of range, not finite). The
// columns are float64 (kinds: bytes), so only numbers can travel.
const BAD: Record<keyof Packet, number[]> = {
  rate: [-1, NaN, Infinity], qp: [-1, 32, 0.5],
  kind: [0, 9, 255], time: [-1, NaN, Infinity], keyRank: [-1, 8, 0.5], keySeq: [-1, 1.5, NaN],
  src: [-1, 8], dst: [8, 2.5], xid: [-1, 0.1], pairSeq: [-3, 1e300], op: [-1, 4], path: [3, -1],
  bytes: [-1, 1.5], srcRegion: [-2, 4], srcOffset: [-2, 0.5], dstRegion: [4, -2], dstOffset: [-2], value: [NaN, Infinity, -Infinity],
  issueT: [-1, NaN], egressStartT: [-2, NaN], egressDoneT: [-1.5, Infinity], flags: [4, -1], waiter: [-2, 0.5],
  sigRegion: [-2, 4, 0.5], sigOffset: [-2, 1.5],
};

describe('packets: columnar msgpack batches', () => {
  it('round trip: decode(encode(batch)) equals the batch', () => {
    fc.assert(
      fc.property(fc.array(packetArb, { maxLength: 20 }), (batch) => {
        expect(decodePackets(encodePackets(batch), limits)).toEqual(batch);
      }),
      { numRuns: 200 },
    );
  });

  it('a batch is one msgpack array: version, count, the kind column and one binary column per field', () => {
    const bytes = encodePackets([good({ time: 7 }), good({ time: 9 })]);
    const v = new BatchCodec() as unknown as { packr: { unpack(b: Uint8Array): unknown[] } };
    const items = v.packr.unpack(bytes);
    expect(items).toHaveLength(3 + 24);
    expect(items[0]).toBe(2);
    expect(items[1]).toBe(2);
    expect(Array.from(items[2] as Uint8Array)).toEqual([PKT_INGRESS_START, PKT_INGRESS_START]);
    const time = items[3] as Uint8Array;
    expect(Array.from(new Float64Array(time.slice().buffer))).toEqual([7, 9]);
  });

  it('the codec packs into one reused buffer and decodes into reused columns', () => {
    const codec = new BatchCodec();
    const cols = new PacketColumns(4);
    cols.pushPacket(good());
    const a = codec.encode(cols);
    const b = codec.encode(cols);
    expect(b.buffer).toBe(a.buffer);
    const into = new PacketColumns(8);
    const kinds = into.kinds;
    codec.decodeInto(b, into, limits);
    codec.decodeInto(b, into, limits);
    expect(into.count).toBe(2);
    expect(into.kinds).toBe(kinds); // no reallocation while there is room
  });

  it("encode writes exactly msgpackr's pack of the items (every count and bin header form); decode reads them back", () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const cols = new PacketColumns(1100);
    for (let i = 0; i < 1100; i++) {
      cols.pushPacket(good({ kind: 1 + (i % 7), time: i * 0.37, keySeq: i * 1e9, issueT: i * 1e6 + 0.5, value: i % 2 ? -0 : -i * 1e-300, rate: i / 3 }));
    }
    const codec = new BatchCodec();
    for (const [from, n] of [[0, 0], [5, 1], [0, 31], [3, 32], [0, 127], [1, 128], [0, 255], [7, 256], [0, 1000], [76, 1024]] as const) {
      const items: unknown[] = [2, n, cols.kinds.subarray(from, from + n), ...cols.col.map((c) => c.subarray(from, from + n))];
      const want = packr.pack(items);
      const got = codec.encode(cols, from, n);
      expect(Buffer.from(got).equals(Buffer.from(want)), `${from}+${n}`).toBe(true);
      expect(BatchCodec.encodedLength(n)).toBe(want.length);
      // In place, as into a ring's frame: at an offset of a view at an offset of shared memory.
      const ringData = new Uint8Array(new SharedArrayBuffer(want.length + 64), 16, want.length + 32);
      expect(codec.encodeInto(ringData, 5, cols, from, n)).toBe(want.length);
      expect(Buffer.from(ringData.subarray(5, 5 + want.length)).equals(Buffer.from(want))).toBe(true);
      const inPlace = new PacketColumns(1);
      codec.decodeAt(ringData, 5, want.length, inPlace, { numRanks: 8, numRegions: 4 });
      expect(inPlace.count).toBe(n);
      if (n > 0) expect(inPlace.packetAt(n - 1)).toEqual(cols.packetAt(from + n - 1));
      // Decoded into columns that already hold packets: appended, bit for bit (-0 included).
      const into = new PacketColumns(2);
      into.pushPacket(good());
      codec.decodeInto(got.slice(), into, { numRanks: 8, numRegions: 4 });
      expect(into.count).toBe(1 + n);
      for (let i = 0; i < n; i++) expect(into.packetAt(1 + i)).toEqual(cols.packetAt(from + i));
    }
  });

  it('another msgpack encoding of the layout (a longer count, a longer bin header, in a larger buffer) decodes the same', () => {
    const batch = [good({ time: 7 }), good({ time: 9, value: -2.5 })];
    const own = encodePackets(batch);
    // Count 2 as uint16 (0xcd 0x00 0x02) instead of a fixint, and the kind column as bin16.
    const other = [0xdc, 0x00, 27, 2, 0xcd, 0x00, 0x02, 0xc5, 0x00, 0x02, ...own.subarray(7)];
    expect(own.subarray(0, 7)).toEqual(Uint8Array.of(0xdc, 0x00, 27, 2, 2, 0xc4, 2));
    const inLarger = new Uint8Array(other.length + 16);
    inLarger.set(other, 8);
    expect(decodePackets(inLarger.subarray(8, 8 + other.length), limits)).toEqual(batch);
  });

  for (const [field, values] of Object.entries(BAD))
    it(`a malformed '${field}' is rejected with E_PACKET naming the field; the whole batch is dropped`, () => {
      for (const v of values) {
        const codec = new BatchCodec();
        const into = new PacketColumns(4);
        into.pushPacket(good()); // decoded earlier: must stay as it is
        const bytes = encodePackets([good(), good({ [field]: v } as Partial<Packet>)]);
        const data = expectError(() => codec.decodeInto(bytes, into, limits), 'E_PACKET', `packet 1: field '${field}'`);
        expect(data).toMatchObject({ index: 1, field });
        expect(into.count).toBe(1);
      }
    });

  it('a batch that is not msgpack, not the layout, or has a short column is rejected', () => {
    expectError(() => decodePackets(new Uint8Array([0x92, 0x01]), limits), 'E_PACKET', 'not valid msgpack');
    expectError(() => decodePackets(pack({ a: 1 }), limits), 'E_PACKET', 'must be an array of 27 items');
    const items = new BatchCodec() as unknown as { packr: { unpack(b: Uint8Array): unknown[] } };
    const ok = items.packr.unpack(encodePackets([good()]));
    expectError(() => decodePackets(pack([1, ...ok.slice(1)]), limits), 'E_PACKET', "field 'version' must be 2, got 1");
    expectError(() => decodePackets(pack([2, 2, ...ok.slice(2)]), limits), 'E_PACKET', "column 'kind' must be 2 bytes");
    expectError(() => decodePackets(pack([2, -1, ...ok.slice(2)]), limits), 'E_PACKET', "field 'count'");
    // A 64-bit integer where a small one belongs decodes as a BigInt (a flipped type byte does it):
    // named in the error, not a TypeError from JSON.stringify (found by the fuzz sample).
    expectError(() => decodePackets(pack([2n ** 60n, ...ok.slice(1)]), limits), 'E_PACKET', "field 'version' must be 2, got 1152921504606846976n");
    expectError(() => decodePackets(pack([2, 2n ** 60n, ...ok.slice(2)]), limits), 'E_PACKET', "field 'count' must be an integer in [0, 1024], got 1152921504606846976n");
    const short = [...ok];
    short[5] = new Uint8Array(4);
    expectError(() => decodePackets(pack(short), limits), 'E_PACKET', "column 'keySeq' must be 8 bytes of binary, got 4 bytes");
  });
});

describe('a bad batch changes nothing in the receiving EngineHost', () => {
  // Host 1 of 2; packets reach it through the ring from host 0.
  const setup = () => {
    const sync = createSyncBuffers(2, Float64Array.of(Infinity, 2.5, 2.5, Infinity), 4096);
    const h = new EngineHost(opRegistry);
    const send = (m: HostRequest): HostReply => h.handle(m);
    send({ type: 'init', id: 1, workerIndex: 1, numWorkers: 2, numRanks: 4, gpusPerNode: 2, hardware: ROUND, workerOfRank: [0, 0, 1, 1], recordTimeline: true, sync, timeoutMs: 1000 });
    send({ type: 'register', id: 2, regions: [{ id: 0, rank: 2, name: 'r', buffer: new SharedArrayBuffer(64) }, { id: 1, rank: 2, name: 'gone', buffer: new SharedArrayBuffer(4) }] });
    send({ type: 'unregister', id: 3, regionIds: [1] });
    const ring = new SyncBlock(sync).ring(0, 1);
    return { h, write: (b: Uint8Array) => expect(ring.tryWrite(b)).toBe(true) };
  };
  // A transfer from rank 0 (worker 0) to rank 2 (worker 1): its ingress starts at 3 us.
  const start = good({ kind: PKT_INGRESS_START, time: 3, src: 0, dst: 2, keyRank: 0, keySeq: 1, xid: 0, dstRegion: 0, bytes: 8, path: PATH_IB, flags: 1 });

  const cases: Array<[string, Uint8Array[]]> = [
    ['a malformed field in a later batch', [encodePackets([start]), encodePackets([good({ dst: 99 })])]],
    ['egress-done of an unknown transfer after a valid packet', [encodePackets([start, { ...start, kind: PKT_EGRESS_DONE, time: 4, xid: 77 }])]],
    ['an ack of an unknown transfer', [encodePackets([start, { ...start, kind: PKT_ACK, time: 4, xid: 5 }])]],
    ['a rate change of an unknown transfer', [encodePackets([start, { ...start, kind: PKT_RATE, time: 4, xid: 77, rate: 5e3 }])]],
    ['a credit for a sender this worker does not host', [encodePackets([start, { ...start, kind: PKT_CREDIT, time: 4, src: 1, dst: 2, rate: 5e3 }])]],
    ['a control message for a rank this worker does not host', [encodePackets([start, { ...start, kind: PKT_CONTROL, time: 4, xid: 1, dst: 1 }])]],
    ['a read of an unregistered region', [encodePackets([start, { ...start, kind: PKT_READ, time: 4, dstRegion: 1 }])]],
    ["a packet due before the receiver's clock", [encodePackets([start]), encodePackets([{ ...start, time: 0.5, xid: 9 }])]],
  ];
  for (const [what, inbound] of cases)
    it(what, () => {
      const { h, write } = setup();
      const engine = (h as unknown as { engine: { now: number; queue: { size: number }; nextEventTime(): number } }).engine;
      engine.now = 1; // as after an idle window ending at 1 us: "the past" exists
      for (const b of inbound) write(b);
      expectError(() => h.drainInbound(), 'E_PACKET');
      expect(engine.queue.size).toBe(0);
      expect(engine.nextEventTime()).toBe(Infinity);
      // The host still works: the valid batch alone is accepted afterwards.
      write(encodePackets([start]));
      expect(h.drainInbound()).toBe(true);
      expect(engine.nextEventTime()).toBe(3);
    });
});
