/**
 * @module
 * Dynamic redundancy: every GPU hosts more replica slots than it activates per step (DeepSeek
 * explores 16 hosted, 9 active); per step choose which hosted slots serve and route the tokens over
 * them, minimising the largest GPU load.
 */
import { fail } from '../errors.js';
import { slotGpuOf, type ReplicaLayout } from './layout.js';
import { FlowNetwork } from './max-flow.js';
import { collectPairs, type PairSet, type TokenNodes } from './replica-pairs.js';
import { routePairs, type ReplicaRouting } from './replica-routing.js';
import { checkInt, checkObject } from '../validate.js';

/** Options of {@link routeDynamic}. */
export interface DynamicRedundancyOptions {
  /** Slots each GPU may activate this step (at most `layout.slotsPerGpu`). */
  activePerGpu: number;
  /** Nodes each token may reach; default `'primary'`. */
  tokenNodes?: TokenNodes;
}

/** Result of {@link routeDynamic}. */
export interface DynamicRouting extends ReplicaRouting {
  /** `active[slot]`: whether the slot serves this step. */
  active: boolean[];
  /** Optimum with every hosted slot active: no choice of active slots can beat it. */
  lowerBound: number;
}

/**
 * Replica counts per expert for a budget of active slots: one per needed expert, then each extra
 * slot to the largest demand per active replica (EPLB's replication rule), capped by hosted copies.
 */
function activeCounts(demand: readonly number[], hosted: readonly number[], budget: number): number[] {
  const count: number[] = demand.map((d) => (d > 0 ? 1 : 0));
  for (let left = budget - count.reduce((a, b) => a + b, 0); left > 0; left--) {
    let best = -1;
    demand.forEach((d, e) => {
      if (d > 0 && count[e]! < hosted[e]! && (best < 0 || d / count[e]! > demand[best]! / count[best]!)) best = e;
    });
    if (best < 0) break;
    count[best]! += 1;
  }
  return count;
}

/**
 * With node limits a token may reach only some replicas of an expert: give every class of pairs an
 * active slot it may use, on the GPU with the most room left.
 */
function coverClasses(pairs: PairSet, layout: ReplicaLayout, active: boolean[], A: number): void {
  const count = new Int32Array(layout.numGpus);
  active.forEach((on, s) => on && (count[slotGpuOf(layout, s)]! += 1));
  const seen = new Uint8Array(pairs.classes.length);
  for (const c of pairs.pairClass) {
    if (c < 0 || seen[c] === 1) continue;
    seen[c] = 1;
    const cls = pairs.classes[c]!;
    if (cls.slots.some((s) => active[s])) continue;
    const slot = cls.slots.reduce((a, b) => (count[slotGpuOf(layout, b)]! < count[slotGpuOf(layout, a)]! ? b : a));
    if (count[slotGpuOf(layout, slot)]! >= A) {
      fail('E_EPLB', `no GPU hosting expert ${cls.expert} on the token's nodes has an active slot left (activePerGpu = ${A})`, {
        argument: 'activePerGpu',
        value: A,
        expert: cls.expert,
      });
    }
    active[slot] = true;
    count[slotGpuOf(layout, slot)]! += 1;
  }
}

/**
 * Choose the active slots of this step, then route exactly over them.
 *
 * 1. Demand per expert from this step's pairs; the all-active exact optimum is a lower bound.
 * 2. Active replica counts: one per needed expert, extras by EPLB's rule (largest demand per active
 *    replica) within the budget `activePerGpu x numGpus`.
 * 3. Place them on hosted slots with a max flow (expert -> GPU hosting it -> at most `activePerGpu`
 *    per GPU): first one replica per needed expert (so the cover is exact: it fails only when no
 *    choice could cover), then the extras as far as they fit.
 * 4. Route exactly (balanced policy) over the active slots.
 *
 * Steps 2-3 are a heuristic (choosing the slots is a covering problem); the result reports
 * `lowerBound` so the gap is visible.
 *
 * @throws ExpertmeshError `E_EPLB` when no choice of at most `activePerGpu` slots per GPU gives every
 * needed expert (or, with node limits, every token) an active replica.
 * @example
 * ```ts
 * import { rebalanceExperts, layerLayout, routeDynamic } from 'expertmesh';
 * const layout = layerLayout(rebalanceExperts([[4, 3, 2, 1]], 8, 1, 1, 2), 0, 2, 1);
 * const r = routeDynamic([[0, 1], [0, 2], [3, 1]], layout, { activePerGpu: 3 });
 * console.log(r.maxGpuLoad, r.lowerBound);
 * ```
 * @public
 */
export function routeDynamic(
  topkIdx: readonly (readonly number[])[],
  layout: ReplicaLayout,
  options: DynamicRedundancyOptions,
): DynamicRouting {
  checkObject(options, 'options');
  const A = checkInt(options.activePerGpu, 'activePerGpu', 1);
  const tokenNodes = options.tokenNodes ?? 'primary';
  const pairs = collectPairs(topkIdx, layout, tokenNodes);
  const lowerBound = routePairs(pairs, layout, 'balanced').maxGpuLoad;
  const E = layout.log2phy.length;
  const P = layout.numGpus;
  const demand = new Array<number>(E).fill(0);
  for (const c of pairs.pairClass) if (c >= 0) demand[pairs.classes[c]!.expert]! += 1;
  const counts = activeCounts(demand, layout.log2phy.map((s) => s.length), A * P);
  // Network: source -> expert -> GPU (hosted copies) -> sink (A per GPU).
  const net = new FlowNetwork(E + P + 2);
  const src = E + P;
  const sink = src + 1;
  const srcEdge = counts.map((c, e) => net.addEdge(src, e, c > 0 ? 1 : 0));
  const hostEdges = layout.log2phy.map((slots, e) => {
    const perGpu = new Map<number, number>();
    for (const s of slots) perGpu.set(slotGpuOf(layout, s), (perGpu.get(slotGpuOf(layout, s)) ?? 0) + 1);
    return [...perGpu].map(([g, n]) => ({ g, id: net.addEdge(e, E + g, n) }));
  });
  for (let g = 0; g < P; g++) net.addEdge(E + g, sink, A);
  const needed = counts.filter((c) => c > 0).length;
  if (net.maxFlow(src, sink) < needed) {
    fail('E_EPLB', `no choice of activePerGpu = ${A} slots per GPU gives each of the ${needed} needed experts an active replica`, {
      argument: 'activePerGpu',
      value: A,
    });
  }
  // Augmenting paths never lower a source edge's flow, so the cover survives adding the extras.
  counts.forEach((c, e) => c > 1 && (net.cap[srcEdge[e]!]! += c - 1));
  net.maxFlow(src, sink);
  const active = new Array<boolean>(layout.phy2log.length).fill(false);
  hostEdges.forEach((edges, e) => {
    for (const { g, id } of edges) {
      let n = net.cap[id ^ 1]!;
      for (const s of layout.log2phy[e]!) if (n > 0 && slotGpuOf(layout, s) === g) (active[s] = true), n--;
    }
  });
  coverClasses(pairs, layout, active, A);
  const routed = routePairs(collectPairs(topkIdx, layout, tokenNodes, active), layout, 'balanced');
  return { ...routed, active, lowerBound };
}
