/**
 * Load-balancer figures: max/mean GPU load on Zipf-skewed expert popularity at DeepSeek's prefill
 * (EP32, 32 redundant experts) and decode (EP320, shared expert as a routed one) shapes, with no
 * redundancy, with EPLB (replicas used round-robin) and with EPLB plus balanced replica routing;
 * plus EPLB plan time for 256 experts x 61 layers as a ratio to summing those loads (same run).
 * Plans are made from one sampled batch and evaluated on a fresh one, as a deployed plan would be.
 */
import {
  countExpertTokens,
  imbalance,
  layerLayout,
  noRedundancyLayout,
  rebalanceExperts,
  routeDynamic,
  routeToReplicas,
  sampleTopk,
  weightMoveCost,
  withSharedExpert,
  withSharedExpertLoad,
  zipfPopularity,
} from '../src/balancer/index.js';
import { medianMs, table } from './util.js';

const EXPERTS = 256;
const TOPK = 8;
const fmt = (x: number): string => x.toFixed(3);

interface Shape {
  name: string;
  gpus: number;
  nodes: number;
  slots: number;
  groups: number;
  tokens: number;
  decode: boolean;
}

const SHAPES: Shape[] = [
  { name: 'prefill EP32 (+32 redundant)', gpus: 32, nodes: 4, slots: 288, groups: 8, tokens: 32 * 4096, decode: false },
  { name: 'decode EP320 (+shared, 63 redundant)', gpus: 320, nodes: 40, slots: 320, groups: 1, tokens: 320 * 128, decode: true },
];

function figures(shape: Shape, exponent: number): Record<string, string> {
  const pop = zipfPopularity(1, EXPERTS, exponent, 11)[0]!;
  const history = sampleTopk(pop, shape.tokens, TOPK, 1);
  const batch0 = sampleTopk(pop, shape.tokens, TOPK, 2);
  const logical = shape.decode ? EXPERTS + 1 : EXPERTS;
  const batch = shape.decode ? withSharedExpert(batch0, EXPERTS) : batch0;
  let weight = [countExpertTokens(history, EXPERTS)];
  if (shape.decode) weight = withSharedExpertLoad(weight, shape.tokens);
  const plan = rebalanceExperts(weight, shape.slots, shape.groups, shape.nodes, shape.gpus);
  const layout = layerLayout(plan, 0, shape.gpus, shape.nodes);
  // Decode's low-latency kernels are point-to-point: no node limit there.
  const tokenNodes = shape.decode ? 'any' : 'primary';
  const none = routeToReplicas(batch, noRedundancyLayout(logical, shape.gpus, shape.nodes), { tokenNodes });
  const rr = routeToReplicas(batch, layout, { policy: 'round-robin', tokenNodes });
  const bal = routeToReplicas(batch, layout, { policy: 'balanced', tokenNodes });
  return {
    shape: shape.name,
    zipf: String(exponent),
    'no redundancy': fmt(imbalance(none.gpuLoad)),
    EPLB: fmt(imbalance(rr.gpuLoad)),
    'EPLB + balanced': fmt(imbalance(bal.gpuLoad)),
  };
}

/** Dynamic redundancy at the prefill shape: 16 slots hosted per GPU, 9 active per step. */
function dynamicFigures(exponent: number): Record<string, string> {
  const pop = zipfPopularity(1, EXPERTS, exponent, 11)[0]!;
  const weight = [countExpertTokens(sampleTopk(pop, 32 * 4096, TOPK, 1), EXPERTS)];
  const batch = sampleTopk(pop, 32 * 4096, TOPK, 2);
  const row: Record<string, string> = { zipf: String(exponent) };
  // Hierarchical hosting keeps replicas inside a node (node-limited routing holds); global hosting
  // spreads them over nodes and routes without a node limit.
  for (const [label, groups, tokenNodes] of [['hierarchical', 8, 'primary'], ['global', 1, 'any']] as const) {
    const hosted = layerLayout(rebalanceExperts(weight, 32 * 16, groups, 4, 32), 0, 32, 4);
    const r = routeDynamic(batch, hosted, { activePerGpu: 9, tokenNodes });
    const mean = r.gpuLoad.reduce((a, b) => a + b) / r.gpuLoad.length;
    row[`${label}: 9 active`] = fmt(r.maxGpuLoad / mean);
    row[`${label}: all 16 active`] = fmt(r.lowerBound / mean);
  }
  return row;
}

export default async function (): Promise<void> {
  console.log('max/mean GPU load ((token, expert) pairs per GPU; 1.000 is perfect balance)');
  table(SHAPES.flatMap((s) => [1.0, 1.5].map((z) => figures(s, z))));

  console.log('\ndynamic redundancy, prefill EP32 shape, 16 hosted per GPU (max/mean)');
  table([1.0, 1.5].map(dynamicFigures));

  // Plan time: 61 layers x 256 experts at the prefill shape, against summing the same loads.
  const pop = zipfPopularity(61, EXPERTS, 1.0, 5);
  const loads = pop.map((row) => row.map((p) => Math.round(p * 4096 * 32 * TOPK)));
  const planMs = await medianMs(5, () => rebalanceExperts(loads, 288, 8, 4, 32));
  const REPS = 2000;
  let sink = 0;
  const sumMs =
    (await medianMs(5, () => {
      for (let r = 0; r < REPS; r++) for (const row of loads) for (const v of row) sink += v;
    })) / REPS;
  const moves = weightMoveCost(rebalanceExperts(loads, 288, 8, 4, 32).phy2log, rebalanceExperts(loads.slice(1).concat([loads[0]!]), 288, 8, 4, 32).phy2log, 32, 4, 3 * 7168 * 2048);
  console.log('\nplan time, 256 experts x 61 layers (prefill EP32 shape)');
  table([
    {
      'plan ms': planMs.toFixed(2),
      'sum ms': sumMs.toPrecision(3),
      'plan / sum': Math.round(planMs / sumMs),
      'moved GB on a full re-plan': (moves.totalBytes / 1e9).toFixed(1),
      'max recv GB per GPU': (moves.maxRecvBytes / 1e9).toFixed(2),
    },
  ]);
  if (sink < 0) console.log(sink);
}
