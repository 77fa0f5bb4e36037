import { describe, expect, it } from 'vitest';
import type { RankSnapshot } from '../../../src/actors/gpu-machine.js';
import { allToAll } from '../../../src/ep/all-to-all.js';
import { runTraffic } from '../../../src/ep/traffic.js';
import { expectError, expectReject, withCluster } from './helpers.js';

describe('Cluster (in-process hosts)', () => {
  it("mirrors every rank's actor: rankState sees idle -> busy -> idle per operation", async () => {
    await withCluster({ workers: 2 }, async (c) => {
      const seen: RankSnapshot[] = [];
      c.on('rankState', (s) => seen.push(s));
      await runTraffic(c, [{ src: 0, dst: 3, bytes: 1000 }]);
      await runTraffic(c, [{ src: 1, dst: 2, bytes: 1000 }]);
      for (let r = 0; r < 4; r++) {
        const mine = seen.filter((s) => s.rank === r);
        expect(mine.map((s) => `${s.value}:${s.op ?? ''}`)).toEqual(['busy:traffic', 'idle:', 'busy:traffic', 'idle:']);
        expect(mine.at(-1)!.opsCompleted).toBe(2);
        expect(c.snapshot(r)).toEqual(mine.at(-1));
      }
    });
  });

  it('a second run while one is pending is refused; an aborted run rejects with E_ABORTED', async () => {
    await withCluster({ workers: 2 }, async (c) => {
      const first = allToAll(c, { bytesPerPair: 1024 });
      await Promise.resolve();
      await expectReject(runTraffic(c, []), 'E_ARGUMENT', 'another operation is still running');
      await first;
      const ac = new AbortController();
      ac.abort();
      await expectReject(allToAll(c, { bytesPerPair: 1024, sizesOnly: true }, { signal: ac.signal }), 'E_ABORTED', "operation 'a2a' aborted");
    });
  });

  it('bad allToAll / runTraffic arguments -> typed errors naming the value', async () => {
    await withCluster({}, async (c) => {
      await expectReject(allToAll(c, { bytesPerPair: 0 }), 'E_ARGUMENT', 'bytesPerPair', '0');
      await expectReject(allToAll(c, { bytesPerPair: 8, seed: 1.5 }), 'E_ARGUMENT', 'seed', '1.5');
      await expectReject(runTraffic(c, [{ src: 0, dst: 4, bytes: 1 }]), 'E_RANK', 'transfers[0].dst = 4');
      await expectReject(runTraffic(c, [{ src: 0, dst: 1, bytes: -1 }]), 'E_ARGUMENT', 'transfers[0].bytes', '-1');
      await expectReject(runTraffic(c, [{ src: 0, dst: 1, bytes: 1, atUs: NaN }]), 'E_ARGUMENT', 'atUs', 'NaN');
      await expectReject(c.run('no.such.op', null), 'E_ARGUMENT', "unknown operation 'no.such.op'");
    });
  });

  it('close() rejects nothing twice and later use throws E_CLOSED', async () => {
    let c0: import('../../../src/cluster/cluster.js').Cluster | undefined;
    await withCluster({}, async (c) => void (c0 = c));
    await c0!.close(); // twice is safe
    await expectReject(c0!.run('traffic', null), 'E_CLOSED', 'closed');
    expectError(() => c0!.register(0, 'x', 1), 'E_CLOSED');
  });
});
