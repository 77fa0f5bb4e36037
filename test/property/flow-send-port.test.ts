/**
 * The sender port that works per change against the port that visited every stream at every settle
 * (kept in test/support/reference-send-port.ts): driven by the same random transfers, credits and
 * clock moves, both must tell the same news (the same transfers, kinds and streams in the same
 * order, at the same times and rates to a relative 1e-9: the holds within the send resolution
 * decided alike), run out at the same time and count the same busy time and bytes. The port steps
 * a head once from its last rate change and keeps its load as a sum, so its floats round
 * differently: times and rates are compared to a tolerance, decisions exactly. Each property runs
 * with the port's per-change indexes from its first stream on, and with its own thresholds (a pass
 * over every stream below 48 streams).
 */
import fc from 'fast-check';
import { afterEach, describe, it } from 'vitest';
import { SendPort } from '../../src/sim/flow-port.js';
import { busyOps, compareSend, opsFor, runSend } from '../support/send-port-runs.js';

const FROM = SendPort.lazyFrom;
const UNTIL = SendPort.lazyUntil;

afterEach(() => {
  SendPort.lazyFrom = FROM;
  SendPort.lazyUntil = UNTIL;
});

for (const indexed of [true, false]) {
  describe(`SendPort (per change${indexed ? ', indexed from one stream' : ''}) against the port that visited every stream`, () => {
    const use = (): void => {
      if (indexed) {
        SendPort.lazyFrom = 1;
        SendPort.lazyUntil = 1;
      }
    };

    it('tells the same news in the same order, at the same times and rates, on a few streams', () => {
      use();
      fc.assert(
        fc.property(opsFor(8), (list) => {
          compareSend(runSend(list, false), runSend(list, true));
        }),
        { numRuns: 200 },
      );
    });

    it('the same on up to 60 streams, where a level moves by less than the resolution', () => {
      use();
      fc.assert(
        fc.property(opsFor(60), (list) => {
          compareSend(runSend(list, false), runSend(list, true));
        }),
        { numRuns: 100 },
      );
    });

    it('the same on a busy port of 150 streams, with credits near the fair level', () => {
      use();
      fc.assert(
        fc.property(busyOps(150), (list) => {
          compareSend(runSend(list, false), runSend(list, true));
        }),
        { numRuns: 25 },
      );
    });
  });
}
