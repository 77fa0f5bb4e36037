/**
 * Timeline chunks handed back to the host workers: a cluster whose hosts write an operation's
 * records over the chunks of the one before (returned by the fold) gives the same timelines as one
 * whose hosts write every record to fresh chunks.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { allToAll, createCluster, H800 } from '../../src/index.js';

type Cluster = Awaited<ReturnType<typeof createCluster>>;

const mk = () => createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, workers: 2, transport: 'worker' });
const ops = [1 << 12, 1 << 10, 3 << 11];
const fold = (blocks: Iterable<Uint8Array>) => {
  const h = createHash('sha256');
  for (const b of blocks) h.update(b);
  return h.digest('hex');
};

describe('timeline chunks returned to the host workers', () => {
  it('a run writing each operation over the last one\'s chunks gives the digests of a run on fresh chunks', async () => {
    const recycled: Cluster = await mk();
    const fresh: Cluster = await mk();
    try {
      const a: string[] = [];
      for (const bytesPerPair of ops) {
        await allToAll(recycled, { bytesPerPair, sizesOnly: true });
        // Folded before the next operation: every chunk goes back to its host, which writes the next records over it.
        a.push(fold((await recycled.takeTimelineBlocks()).blocks));
      }
      const b: string[] = [];
      let unread: Iterable<Uint8Array> | null = null;
      for (const bytesPerPair of ops) {
        await allToAll(fresh, { bytesPerPair, sizesOnly: true });
        // Folded only after the next take: a chunk returned that late is never written again.
        const t = await fresh.takeTimelineBlocks();
        if (unread) b.push(fold(unread));
        unread = t.blocks;
      }
      b.push(fold(unread!));
      expect(a).toEqual(b);
      expect(new Set(a).size).toBe(3);
      // Two hosts, a chunk each per operation: the recycled run made only the first operation's.
      expect(recycled.timelineChunks).toEqual({ taken: 6, fresh: 2 });
      expect(fresh.timelineChunks).toEqual({ taken: 6, fresh: 6 });
    } finally {
      await recycled.close();
      await fresh.close();
    }
  });
});
