/**
 * @module
 * Per-rank planning shared by the dispatch and combine kernels: channel ranges, which tokens each
 * channel sends where, and the receive-side row offsets (fixed by source rank and channel, never
 * by arrival).
 */

/** DeepEP's `get_channel_task_range`: contiguous token ranges, ceil(T / C) tokens per channel. */
export function channelRange(numTokens: number, numChannels: number, channel: number): [number, number] {
  const per = Math.ceil(numTokens / numChannels);
  const start = Math.min(per * channel, numTokens);
  return [start, Math.min(start + per, numTokens)];
}

/** Channel of token `t` (inverse of {@link channelRange}). */
export function channelOf(numTokens: number, numChannels: number, t: number): number {
  return Math.floor(t / Math.ceil(numTokens / numChannels));
}

/**
 * For every channel and destination (rank or node), the tokens of the channel that go there, in
 * token order. `destOf(e)` maps an expert id to the destination index; -1 ids are skipped.
 */
export function tokensByChannelAndDest(
  topkIdx: Int32Array, numTokens: number, topk: number, numChannels: number, numDests: number, destOf: (e: number) => number,
): Int32Array[][] {
  // Two passes over the tokens, counting then filling: the lists are typed arrays from the start
  // (no growing array of numbers per list, no copy).
  const count = new Int32Array(numChannels * numDests);
  const seen = new Int32Array(numDests);
  const visit = (fill: Int32Array[][] | null) => {
    seen.fill(-1);
    const at = new Int32Array(numChannels * numDests);
    for (let c = 0; c < numChannels; c++) {
      const [s, e] = channelRange(numTokens, numChannels, c);
      for (let t = s; t < e; t++) {
        for (let j = 0; j < topk; j++) {
          const ex = topkIdx[t * topk + j]!;
          if (ex < 0) continue;
          const d = destOf(ex);
          if (seen[d] === t) continue;
          seen[d] = t;
          if (fill) fill[c]![d]![at[c * numDests + d]!++] = t;
          else count[c * numDests + d]!++;
        }
      }
    }
  };
  visit(null);
  const lists = Array.from({ length: numChannels }, (_, c) => Array.from({ length: numDests }, (_, d) => new Int32Array(count[c * numDests + d]!)));
  visit(lists);
  return lists;
}

/**
 * Row offsets at a receiver: `counts[s][c]` tokens from source rank s in channel c; rows are
 * ordered by source rank, then channel. Returns offsets [s][c] and the total.
 */
export function receiveOffsets(counts: ArrayLike<number>, numRanks: number, numChannels: number, stride: number): { offsets: Int32Array; total: number } {
  const offsets = new Int32Array(numRanks * numChannels);
  let o = 0;
  for (let s = 0; s < numRanks; s++)
    for (let c = 0; c < numChannels; c++) {
      offsets[s * numChannels + c] = o;
      o += counts[s * stride + c]!;
    }
  return { offsets, total: o };
}
