/**
 * @module
 * Replica-aware token routing: map every (token, logical expert) pair to one physical replica slot.
 * `round-robin` cycles through each expert's reachable replicas; `balanced` minimises the largest
 * number of pairs any GPU receives, exactly (a max-flow solution, see min-max-assign.ts).
 */
import { slotGpuOf, type ReplicaLayout } from './layout.js';
import { minMaxAssign } from './min-max-assign.js';
import { collectPairs, type PairSet, type TokenNodes } from './replica-pairs.js';
import { checkObject, checkOneOf } from '../validate.js';

/** How a pair picks among its expert's reachable replicas. */
export type ReplicaPolicy = 'round-robin' | 'balanced';

/** Options of {@link routeToReplicas}. */
export interface ReplicaRoutingOptions {
  /** Default `'balanced'`. */
  policy?: ReplicaPolicy;
  /** Nodes each token may reach; default `'primary'` (see {@link TokenNodes}). */
  tokenNodes?: TokenNodes;
}

/** Result of {@link routeToReplicas}. */
export interface ReplicaRouting {
  /** `slots[token][k]`: physical slot serving `topkIdx[token][k]`, or -1 where that entry is -1. */
  slots: number[][];
  /** (token, expert) pairs each GPU receives: its expert compute and its low-latency receive count. */
  gpuLoad: number[];
  /** Distinct tokens each GPU receives (the receive count of DeepEP's normal kernels). */
  gpuRecvTokens: number[];
  /** `max(gpuLoad)`. */
  maxGpuLoad: number;
}

/** Turn a slot choice per pair into the routing result with its per-GPU counts. */
function finish(pairs: PairSet, layout: ReplicaLayout, slotOf: Int32Array): ReplicaRouting {
  const gpuLoad = new Array<number>(layout.numGpus).fill(0);
  const gpuRecvTokens = new Array<number>(layout.numGpus).fill(0);
  const lastToken = new Int32Array(layout.numGpus).fill(-1);
  const slots: number[][] = [];
  for (let t = 0; t < pairs.numTokens; t++) {
    const row = new Array<number>(pairs.topk);
    for (let k = 0; k < pairs.topk; k++) {
      const s = slotOf[t * pairs.topk + k]!;
      row[k] = s;
      if (s < 0) continue;
      const g = slotGpuOf(layout, s);
      gpuLoad[g]! += 1;
      if (lastToken[g] !== t) {
        lastToken[g] = t;
        gpuRecvTokens[g]! += 1;
      }
    }
    slots.push(row);
  }
  return { slots, gpuLoad, gpuRecvTokens, maxGpuLoad: Math.max(0, ...gpuLoad) };
}

function roundRobin(pairs: PairSet, numExperts: number): Int32Array {
  const next = new Int32Array(numExperts);
  return pairs.pairClass.map((c) => {
    if (c < 0) return -1;
    const cls = pairs.classes[c]!;
    return cls.slots[next[cls.expert]!++ % cls.slots.length]!;
  });
}

function balanced(pairs: PairSet, layout: ReplicaLayout): Int32Array {
  const demand = new Array<number>(pairs.groupGpus.length).fill(0);
  for (const c of pairs.pairClass) if (c >= 0) demand[pairs.classes[c]!.group]! += 1;
  const { amounts } = minMaxAssign(demand, pairs.groupGpus, layout.numGpus);
  const cursor = new Int32Array(amounts.length);
  const left = amounts.map((a) => a[0]?.[1] ?? 0);
  // Per class and GPU, cycle over the class's slots on that GPU (an expert may sit twice on one GPU).
  const spread = new Map<number, { slots: number[]; next: number }>();
  return pairs.pairClass.map((c) => {
    if (c < 0) return -1;
    const cls = pairs.classes[c]!;
    const g = cls.group;
    while (left[g] === 0) left[g] = amounts[g]![++cursor[g]!]![1];
    left[g]! -= 1;
    const gpu = amounts[g]![cursor[g]!]![0];
    const key = c * layout.numGpus + gpu;
    let s = spread.get(key);
    if (s === undefined) spread.set(key, (s = { slots: cls.slots.filter((x) => slotGpuOf(layout, x) === gpu), next: 0 }));
    return s.slots[s.next++ % s.slots.length]!;
  });
}

/**
 * Route pairs of an already-built pair set. @internal
 */
export function routePairs(pairs: PairSet, layout: ReplicaLayout, policy: ReplicaPolicy): ReplicaRouting {
  const slotOf = policy === 'balanced' ? balanced(pairs, layout) : roundRobin(pairs, layout.log2phy.length);
  return finish(pairs, layout, slotOf);
}

/**
 * Map every (token, logical expert) pair of `topkIdx` to a physical replica slot of `layout`.
 *
 * Node-limited routing holds after the replica choice: a pair only uses replicas on the nodes its
 * token may reach (`tokenNodes`, by default the nodes of the rank-0 replicas of the token's experts),
 * so a token reaches no more nodes than the gate allowed. The `balanced` policy minimises the largest
 * per-GPU pair count exactly over all assignments that respect those node sets; it is therefore
 * never worse than `round-robin`.
 *
 * @param topkIdx - `[tokens][k]` logical expert ids, `-1` for an empty entry.
 * @param layout - One layer of a plan ({@link layerLayout}).
 * @throws ExpertmeshError `E_ARGUMENT` for an expert id out of range; `E_ROUTING` when a token's
 * nodes hold no replica of one of its experts.
 * @example
 * ```ts
 * import { rebalanceExperts, layerLayout, routeToReplicas } from 'expertmesh';
 * const plan = rebalanceExperts([[6, 1, 1, 1]], 8, 1, 1, 4);
 * const layout = layerLayout(plan, 0, 4, 1);
 * const topk = [[0, 1], [0, 2], [0, 3], [0, 1]];
 * console.log(routeToReplicas(topk, layout, { policy: 'balanced' }).gpuLoad); // [2, 2, 2, 2]
 * ```
 * @public
 */
export function routeToReplicas(
  topkIdx: readonly (readonly number[])[],
  layout: ReplicaLayout,
  options: ReplicaRoutingOptions = {},
): ReplicaRouting {
  checkObject(options, 'options');
  const policy = checkOneOf(options.policy ?? 'balanced', 'options.policy', ['balanced', 'round-robin'] as const);
  const pairs = collectPairs(topkIdx, layout, options.tokenNodes ?? 'primary');
  return routePairs(pairs, layout, policy);
}
