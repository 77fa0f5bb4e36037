/**
 * @module
 * The embedded default scenario: DeepSeek-V3's prefill unit (EP32 = 4 nodes x 8 H800, 4096 tokens
 * per rank, hidden 7168, 256 experts top-8) in sizes-only mode, followed by a real-payload check of
 * the same cluster at a reduced shape (hidden 512, 256 tokens per rank, expert intermediate 64:
 * the check is of the dispatch/combine mechanism, and its experts and dense reference run in JS).
 */
import type { ScenarioInput } from './schema.js';

const DEFAULT: ScenarioInput = {
  name: 'deepseek-v3-prefill-ep32',
  description: "DeepSeek-V3 prefill unit: EP32 over 4 nodes x 8 H800, 4096 tokens per rank, sizes only; then a reduced real-payload check",
  cluster: { nodes: 4, gpusPerNode: 8, hardware: 'H800' },
  model: {
    numExperts: 256, topk: 8, numGroups: 8, topkGroups: 4, hidden: 7168, moeIntermediateSize: 2048,
    numSharedExperts: 1, scoreFunc: 'sigmoid', routeScale: 2.5, tokensPerRank: 4096, dispatchFormat: 'fp8',
  },
  routing: { mode: 'synthetic', zipf: 0.6, seed: 0 },
  balancing: { enableEplb: false, numRedundantExperts: 0 },
  dispatchConfig: { numSms: 20, nvlChunk: 32, nvlBuffer: 288, rdmaChunk: 8, rdmaBuffer: 128 },
  combineConfig: { numSms: 20, nvlChunk: 8, nvlBuffer: 288, rdmaChunk: 8, rdmaBuffer: 128 },
  payload: 'sizes-only',
  steps: 1,
  check: { hidden: 512, tokensPerRank: 256, moeIntermediateSize: 64 },
};

/** The scenario `expertmesh run` uses when given none. Frozen; spread to vary. */
export const DEFAULT_SCENARIO: Readonly<ScenarioInput> = Object.freeze(DEFAULT);
