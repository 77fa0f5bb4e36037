/**
 * Routing speed: DeepSeek-V3 gate plus DeepEP dispatch layout for 4096 tokens, 256 experts, hidden
 * 7168, on 32 ranks of 4 nodes (DeepEP's benchmark shape). The figure that matters is the ratio of the
 * routing after the product (scores, groups, top-k, layout) to the `x · weightᵀ` product alone,
 * measured in the same run (target < 5%).
 */
import { contiguousPlacement, DEEPSEEK_V3, gateFromLogits, gateLogits, getDispatchLayout, type RouteLimit } from '../src/index.js';
import { medianMs, table } from './util.js';

export default async function routingBench(): Promise<void> {
  const tokens = 4096;
  const hidden = 7168;
  const E = DEEPSEEK_V3.numExperts;
  const shape = { numRanks: 32, gpusPerNode: 8 };
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const x = Float32Array.from({ length: tokens * hidden }, rand);
  const weight = Float32Array.from({ length: E * hidden }, () => rand() * 0.05);
  const bias = Float64Array.from({ length: E }, () => rand() * 0.01);

  let logits: Float64Array = new Float64Array(0);
  const productMs = await medianMs(2, () => {
    logits = gateLogits(x, weight, tokens, hidden, E);
  });
  const route = (b: Float64Array | null, limit?: RouteLimit) => () => {
    const r = gateFromLogits(logits, b, tokens, DEEPSEEK_V3, limit);
    getDispatchLayout(r.topkIdx, DEEPSEEK_V3.topk, E, shape);
  };
  const limit: RouteLimit = { placement: contiguousPlacement(E, shape.numRanks, shape.gpusPerNode), maxNodes: 4 };
  const variants: Array<[string, () => void]> = [
    ['V3 gate, no bias', route(null)],
    ['V3 gate + bias', route(bias)],
    ['V3 gate + bias + node limit M=4', route(bias, limit)],
  ];
  const rows: Array<Record<string, string | number>> = [
    { step: 'x · weightᵀ product (baseline)', ms: productMs, 'tokens/s': Math.round((tokens / productMs) * 1e3), 'ratio to product': 1 },
  ];
  for (const [name, fn] of variants) {
    const ms = await medianMs(7, fn);
    rows.push({ step: `${name} + layout`, ms, 'tokens/s': Math.round((tokens / ms) * 1e3), 'ratio to product': ms / productMs });
  }
  const first = rows[1]!;
  rows.push({
    step: 'whole gate + layout (product + routing)',
    ms: productMs + Number(first.ms),
    'tokens/s': Math.round((tokens / (productMs + Number(first.ms))) * 1e3),
    'ratio to product': 1 + Number(first['ratio to product']),
  });
  console.log(`${tokens} tokens, ${E} experts, hidden ${hidden}, ${shape.numRanks} ranks on ${shape.numRanks / shape.gpusPerNode} nodes (target: routing < 5% of the product)`);
  table(rows);
}
