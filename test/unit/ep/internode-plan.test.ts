/**
 * The internode plan of one rank from a hand-written routing (EP16: two nodes of 8 GPUs, 32
 * experts, 2 per rank, top-2, one channel): what it sends to each node, and what its forwarders
 * read from each source node. Expert ids outside the experts are refused (dispatch refuses them at
 * its boundary; the plan does not write past its per-node arrays either), and the routing masks
 * a host shares between its ranks' plans are read afresh for each operation and once released.
 */
import { describe, expect, it } from 'vitest';
import { internodePlan, releaseRoutingMasks } from '../../../src/ep/normal/internode-dispatch-op.js';
import type { EpArgs } from '../../../src/ep/ep-args.js';
import { R_NOTIFY, R_TOPK } from '../../../src/ep/ep-args.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { regionFromInfo, type Region } from '../../../src/transport/memory.js';

const R = 16, G = 8, E = 32, K = 2, T = 4;
const cfg = { numSms: 2, nvlChunk: 2, nvlBuffer: 8, rdmaChunk: 2, rdmaBuffer: 8 };
const args: EpArgs = {
  numExperts: E, topk: K, hidden: 16, dtype: 'bf16', dispatch: cfg, combine: cfg, sizesOnly: true,
  numTokens: new Array<number>(R).fill(T), expertAlignment: 1,
};

/** Every rank's routing region (T x K expert ids, -1 where none) and notify counts (zero). */
function regions(routing: Record<number, number[]>): Map<string, Region> {
  const m = new Map<string, Region>();
  let id = 0;
  for (let r = 0; r < R; r++) {
    const topk = new SharedArrayBuffer(T * K * 4);
    new Int32Array(topk).set(routing[r] ?? new Array<number>(T * K).fill(-1));
    m.set(`${r}/${R_TOPK}`, regionFromInfo({ id: id++, rank: r, name: R_TOPK, buffer: topk }));
    m.set(`${r}/${R_NOTIFY}`, regionFromInfo({ id: id++, rank: r, name: R_NOTIFY, buffer: new SharedArrayBuffer(R * 3 * 4) }));
  }
  return m;
}

/** The context a plan reads: the rank's place, its operation's id, and the ranks' regions. */
function ctxOf(rank: number, opId: number, regs: Map<string, Region>): RankContext {
  const lookup = (r: number, name: string) => regs.get(`${r}/${name}`)!;
  return {
    numRanks: R, gpusPerNode: G, rank, node: Math.floor(rank / G), localIndex: rank % G, group: { opId },
    region: (name: string) => lookup(rank, name), peerRegion: lookup,
  } as unknown as RankContext;
}

// Experts 2r and 2r + 1 live on rank r: 0..15 on node 0, 16..31 on node 1.
const ROUTING = {
  // Rank 0: token 0 to ranks 0 and 8 (both nodes), token 1 to rank 10, token 2 nowhere, token 3 to ranks 15 and 1.
  0: [0, 17, 20, -1, -1, -1, 31, 2],
  // Rank 8 (node 1, local index 0: rank 0's source on node 1): token 0 to ranks 0 and 1, token 1 to
  // rank 9, token 2 to ranks 2 and 15, token 3 nowhere.
  8: [1, 3, 18, 19, 5, 30, -1, -1],
};

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('internode plan', () => {
  it('rank 0 of EP16: the tokens it sends to each node, and what its forwarders read from each source node', () => {
    releaseRoutingMasks();
    const st = internodePlan(ctxOf(0, 1, regions(ROUTING)), args, 'd');
    expect([...st.sendTokens[0]!]).toEqual([0, 1, 3]);
    // Token 0 to nodes 0 and 1, token 1 to node 1, token 3 to nodes 0 and 1 (ascending), each at its place in the node's stream.
    expect([...st.sendNodes[0]!.off]).toEqual([0, 2, 3, 5]);
    expect([...st.sendNodes[0]!.nodes]).toEqual([0, 1, 1, 0, 1]);
    expect([...st.sendNodes[0]!.pos]).toEqual([0, 0, 1, 1, 2]);
    expect([...st.totals[0]!]).toEqual([2, 3]);
    // From itself (node 0): tokens 0 (GPU 0) and 3 (GPU 1); from rank 8 (node 1): tokens 0 (GPUs 0, 1) and 2 (GPU 2).
    const [own, fromNode1] = st.streams[0]!;
    expect([...own!.tokens]).toEqual([0, 3]);
    expect(own!.toGpu.slice(0, 3).map((f) => [...f])).toEqual([[1, 0], [0, 1], [0, 0]]);
    expect([...fromNode1!.tokens]).toEqual([0, 2]);
    expect(fromNode1!.toGpu.slice(0, 3).map((f) => [...f])).toEqual([[1, 0], [1, 0], [0, 1]]);
  });

  it('refuses an expert id past the experts, in its own routing or a source rank\'s (E_ROUTING)', () => {
    releaseRoutingMasks();
    expect(codeOf(() => internodePlan(ctxOf(0, 2, regions({ ...ROUTING, 0: [0, 17, E, -1, -1, -1, 31, 2] })), args, 'd'))).toBe('E_ROUTING');
    releaseRoutingMasks();
    expect(codeOf(() => internodePlan(ctxOf(0, 3, regions({ ...ROUTING, 8: [1, 3, 18, 19, 5, E + 8, -1, -1] })), args, 'd'))).toBe('E_ROUTING');
  });

  it('reads a source\'s routing afresh for a new operation and once the masks are released', () => {
    releaseRoutingMasks();
    const regs = regions(ROUTING);
    const node1Tokens = (opId: number) => [...internodePlan(ctxOf(0, opId, regs), args, 'd').streams[0]![1]!.tokens];
    expect(node1Tokens(4)).toEqual([0, 2]);
    // Rank 8's region reused with a new routing: its token 3 now goes to rank 0 too.
    new Int32Array(regs.get(`8/${R_TOPK}`)!.buffer).set([0, 1], 6);
    expect(node1Tokens(5)).toEqual([0, 2, 3]);
    // Within one operation the masks are shared; released (at the start of the operation's task), they are gone.
    new Int32Array(regs.get(`8/${R_TOPK}`)!.buffer).set([-1, -1], 6);
    releaseRoutingMasks();
    expect(node1Tokens(5)).toEqual([0, 2]);
  });
});
