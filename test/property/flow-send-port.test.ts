/**
 * The sender port that works per change against the port that visited every stream at every settle
 * (kept in test/support/reference-send-port.ts): driven by the same random transfers, credits and
 * clock moves, both must tell the same news (the same transfers, kinds and streams in the same
 * order, at the same times and rates to a relative 1e-9: the holds within the send resolution
 * decided alike), run out at the same time and count the same busy time and bytes. The port steps
 * a head once from its last rate change, so its floats round differently: times and rates are
 * compared to a tolerance, decisions exactly.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { busyOps, compareSend, opsFor, runSend } from '../support/send-port-runs.js';

describe('SendPort against the port that visited every stream', () => {
  it('tells the same news in the same order, at the same times and rates, on a few streams', () => {
    fc.assert(
      fc.property(opsFor(8), (list) => {
        compareSend(runSend(list, false), runSend(list, true));
      }),
      { numRuns: 200 },
    );
  });

  it('the same on up to 60 streams, where a level moves by less than the resolution', () => {
    fc.assert(
      fc.property(opsFor(60), (list) => {
        compareSend(runSend(list, false), runSend(list, true));
      }),
      { numRuns: 100 },
    );
  });

  it('the same on a busy port of 150 streams, with credits near the fair level', () => {
    fc.assert(
      fc.property(busyOps(150), (list) => {
        compareSend(runSend(list, false), runSend(list, true));
      }),
      { numRuns: 25 },
    );
  });
});
