/**
 * The parsers fed untrusted input, each with a fast-check arbitrary of what could reach it (random
 * bytes or values, and valid inputs with mutations, which get past the first checks). A target
 * passes an input when it returns, or throws an ExpertmeshError with one of its `codes`; anything
 * else (TypeError, RangeError, an uncoded throw, a wrong code) is a failure.
 *
 * A new parser (a new packet decoder, a hardware-profile file loader) is one more entry in
 * {@link FUZZ_TARGETS}: `npm run fuzz` and the sample in test/property/fuzz-sample.test.ts pick it up.
 */
import fc from 'fast-check';
import type { ErrorCode } from '../src/errors.js';
import { encodePackets, decodePackets, makePacket, type Packet } from '../src/transport/packets.js';
import { PACKET_KIND_MAX } from '../src/transport/protocol.js';
import { parseScenario } from '../src/scenario/load.js';
import { DEFAULT_SCENARIO } from '../src/scenario/defaults.js';
import { H800, getHardwareProfile } from '../src/hardware/profile.js';
import { resolveHardware } from '../src/hardware/profile-file.js';
import { summarizeTrace } from '../src/trace/summarize.js';
import { Packr } from 'msgpackr';

export interface FuzzTarget {
  name: string;
  /** Error codes the target may throw on bad input. */
  codes: readonly ErrorCode[];
  /** Inputs (`run` receives one). */
  arbitrary: fc.Arbitrary<unknown>;
  run(input: unknown): void;
}

/**
 * Replace (or delete) the value at a random path of a JSON value: a mutation that keeps the rest
 * valid, so inputs get past the first checks.
 */
function mutate<T>(base: T, replacement: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const paths: Array<Array<string | number>> = [];
  const walk = (v: unknown, p: Array<string | number>) => {
    paths.push(p);
    if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...p, Array.isArray(v) ? Number(k) : k]);
  };
  walk(base, []);
  const text = JSON.stringify(base);
  return fc.tuple(fc.integer({ min: 0, max: paths.length - 1 }), replacement, fc.boolean()).map(([i, value, remove]) => {
    const path = paths[i]!;
    if (path.length === 0) return value;
    const copy = JSON.parse(text) as Record<string | number, unknown>;
    let o = copy;
    for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
    if (remove) delete o[path[path.length - 1]!];
    else o[path[path.length - 1]!] = value;
    return copy;
  });
}

/** Values a wrong field could hold: wrong types, NaN, infinities, negatives, huge numbers, strings. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 0.5, 2 ** 31, 2 ** 53, 1e308, -0, null, undefined, '', 'x', true, [], {}),
  // An object that cannot be turned into a string or number: String(), Number() and templates throw.
  fc.constant({ toString: true, valueOf: 'x' }),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const packr = new Packr({ useRecords: false });
const LIMITS = { numRanks: 8, numRegions: 16 };
const packetArb: fc.Arbitrary<Packet> = fc
  .tuple(fc.integer({ min: 1, max: PACKET_KIND_MAX }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }))
  .map(([kind, time, keyRank, src, dst]) => makePacket(kind, time, keyRank, 1, src, dst, 3, 0, 0, 1, 4096, 1, 0, 2, 64, 0, time, time, time, 0, -1, -1, -1));

const packetBytes: fc.Arbitrary<unknown> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  // Valid batches with bytes flipped or cut: past msgpack, into the field checks.
  fc.tuple(fc.array(packetArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat())
    .map(([ps, flips, cut]) => {
      const b = encodePackets(ps);
      for (const [at, v] of flips) b[at % b.length] = v;
      return cut % 4 === 0 ? b.subarray(0, cut % b.length) : b;
    }),
  // Valid msgpack of other shapes: maps with one field wrong, arrays of anything.
  packetArb.chain((p) => mutate(p, oddValue)).map((v) => packr.pack([v])),
  fc.jsonValue({ maxDepth: 2 }).map((v) => packr.pack(v)),
);

const scenarioInput = fc.oneof(
  { weight: 6, arbitrary: mutate(DEFAULT_SCENARIO, oddValue) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((t) => { try { return JSON.parse(t) as unknown; } catch { return t; } }) },
);

const hardwareInput = fc.oneof(
  { weight: 3, arbitrary: mutate({ ...H800, peakTflops: { ...H800.peakTflops } }, oddValue) },
  // Profile-file form: extends a built-in, values with sources, a sources table.
  { weight: 3, arbitrary: mutate({ extends: 'H100', name: 'H100-RoCE', ibGBps: { value: 25, source: 'RoCE 200G' }, peakTflops: { fp8: 1500 }, sources: { ibLatencyUs: 'measured' } }, oddValue) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const VALID_TRACE = {
  traceEvents: [
    { ph: 'M', name: 'thread_name', pid: 0, tid: 1, args: { name: 'rank 0 compute' } },
    { ph: 'M', name: 'thread_name', pid: 0, tid: 2, args: { name: 'rank 0 nvlink.out' } },
    { ph: 'X', name: 'dispatch', cat: 'phase', pid: 0, tid: 1, ts: 0, dur: 10, args: { links: { 'nvlink.out': { transfers: 2, bytes: 100, busyUs: 3 } } } },
    { ph: 'X', name: 'put', pid: 0, tid: 2, ts: 1, dur: 2, args: { bytes: 50 } },
    { ph: 'C', name: 'bytes', pid: 0, tid: 0, ts: 4, args: { v: 1 } },
  ],
  otherData: { incomplete: false },
};
const traceInput = fc.oneof(
  { weight: 6, arbitrary: mutate(VALID_TRACE, oddValue) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: 'packet decoder', codes: ['E_PACKET'], arbitrary: packetBytes, run: (b) => void decodePackets(b as Uint8Array, LIMITS) },
  { name: 'scenario loader', codes: ['E_SCENARIO'], arbitrary: scenarioInput, run: (s) => void parseScenario(s, 'fuzz') },
  {
    name: 'hardware-profile loader', codes: ['E_CONFIG'], arbitrary: hardwareInput,
    // Objects go through the profile-file loader (inline form; it ends in validateHardwareProfile);
    // strings are looked up as built-in names (as paths they would only fuzz the file system).
    run: (p) => void (typeof p === 'string' ? getHardwareProfile(p) : resolveHardware(p as never, 'fuzz')),
  },
  { name: 'trace summariser', codes: ['E_ARGUMENT'], arbitrary: traceInput, run: (t) => void summarizeTrace(t as never) },
];
