/**
 * @module
 * Dynamic redundancy: every GPU hosts more replica slots than it activates per step (DeepSeek
 * explores 16 hosted, 9 active); per step choose which hosted slots serve and route the tokens over
 * them, minimising the largest GPU load.
 */
import { fail } from '../errors.js';
import { slotGpu, type ReplicaLayout } from './layout.js';
import { collectPairs, type TokenNodes } from './replica-pairs.js';
import { routePairs, type ReplicaRouting } from './replica-routing.js';
import { requireInt } from './validate.js';

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
 * Choose the active slots of this step, then route exactly over them.
 *
 * 1. Route with every hosted slot active (exact min-max): its maximum is a lower bound, and the
 *    number of pairs it gives each slot is that slot's usefulness.
 * 2. Cover: every class of pairs (same expert, same reachable slots), most constrained first, keeps
 *    one active slot: its most useful slot on a GPU with room left.
 * 3. Fill each GPU up to `activePerGpu` with its most useful remaining slots.
 * 4. Route exactly (balanced policy) over the active slots.
 *
 * Steps 2-3 are a heuristic (choosing the slots is a covering problem); the result reports
 * `lowerBound` so the gap is visible, and equals it whenever the unconstrained optimum used at most
 * `activePerGpu` slots per GPU.
 *
 * @throws ExpertmeshError `E_EPLB` when the greedy cover cannot give every needed expert an active
 * replica within `activePerGpu`.
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
  const A = requireInt('activePerGpu', options.activePerGpu);
  const tokenNodes = options.tokenNodes ?? 'primary';
  const pairs = collectPairs(topkIdx, layout, tokenNodes);
  const free = routePairs(pairs, layout, 'balanced');
  const numSlots = layout.phy2log.length;
  const use = new Array<number>(numSlots).fill(0);
  for (const row of free.slots) for (const s of row) if (s >= 0) use[s]! += 1;
  const active = new Array<boolean>(numSlots).fill(false);
  const count = new Int32Array(layout.numGpus);
  const activate = (s: number): void => {
    active[s] = true;
    count[slotGpu(layout, s)]! += 1;
  };
  const better = (a: number, b: number): number => use[b]! - use[a]! || a - b;
  const used = new Uint8Array(pairs.classes.length);
  for (const c of pairs.pairClass) if (c >= 0) used[c] = 1;
  const needed = pairs.classes.filter((_, c) => used[c] === 1);
  needed.sort((a, b) => a.slots.length - b.slots.length);
  for (const cls of needed) {
    if (cls.slots.some((s) => active[s])) continue;
    const room = cls.slots.filter((s) => count[slotGpu(layout, s)]! < A).sort(better);
    if (room.length === 0) {
      fail('E_EPLB', `no GPU hosting expert ${cls.expert} has an active slot left (activePerGpu = ${A})`, {
        argument: 'activePerGpu',
        value: A,
        expert: cls.expert,
      });
    }
    activate(room[0]!);
  }
  const rest = Array.from({ length: numSlots }, (_, s) => s).filter((s) => !active[s] && use[s]! > 0).sort(better);
  for (const s of rest) if (count[slotGpu(layout, s)]! < A) activate(s);
  const routed = routePairs(collectPairs(topkIdx, layout, tokenNodes, active), layout, 'balanced');
  return { ...routed, active, lowerBound: free.maxGpuLoad };
}
