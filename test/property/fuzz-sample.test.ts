import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS } from '../../fuzz/targets.js';
import { runInput } from '../../fuzz/check.js';
import { decodePackets, encodePackets, makePacket } from '../../src/transport/packets.js';

// A sample of `npm run fuzz` (1M inputs per target there): every parser returns or throws its own
// coded error.
describe('fuzz sample: parsers throw only their coded errors', () => {
  it('covers the packet decoder, scenario loader, hardware-profile loader and trace summariser', () => {
    expect(FUZZ_TARGETS.map((t) => t.name)).toEqual(['packet decoder', 'scenario loader', 'hardware-profile loader', 'trace summariser']);
  });

  for (const t of FUZZ_TARGETS) {
    it(t.name, { timeout: 20_000 }, () => {
      const seen = new Set<string>();
      fc.assert(fc.property(t.arbitrary, (input) => void seen.add(runInput(t, input))), { numRuns: 400 });
      // The arbitraries reach both outcomes: valid inputs pass, broken ones are rejected.
      expect(seen.has('ok')).toBe(true);
      expect(seen.has(t.codes[0]!)).toBe(true);
    });
  }

  it('a target that throws an uncoded error fails the check', () => {
    const t = { ...FUZZ_TARGETS[0]!, run: () => { throw new TypeError('boom'); } };
    expect(() => runInput(t, new Uint8Array(0))).toThrow(/packet decoder: uncoded TypeError: boom/);
  });

  it('the decoder names the packet, field and value of a bad batch', () => {
    const p = makePacket(1, 5, 0, 1, 0, 1, 3, 0, 0, 1, 64, 1, 0, 2, 0, 0, 5, 5, 5, 0, -1, -1, -1);
    expect(() => decodePackets(encodePackets([p, { ...p, dst: 9 }]), { numRanks: 8, numRegions: 4 })).toThrow("packet 1: field 'dst' must be an integer in [0, 7], got 9");
  });
});
