/**
 * @module
 * Node- and device-limited routing on any {@link Placement}.
 *
 * - Node limit (DeepSeek-V3): keep the `maxNodes` (M) nodes with the largest sum of their
 *   `ceil(K / M)` highest selection scores; with 8 groups on 8 nodes this is the group limit.
 * - Device limit (DeepSeek-V2): keep the `maxRanks` (D) ranks with the largest single selection score.
 *
 * An expert stays eligible when one of its replicas is on a kept node (rank). With both limits the
 * node limit applies first and only ranks on kept nodes compete for the device limit, so every chosen
 * expert has a replica on a kept rank of a kept node.
 */
import { fail } from '../errors.js';
import { checkInt, checkObject } from '../validate.js';
import { compilePlacement, type CompiledPlacement, type Placement } from './placement.js';
import { topkInto, topSum } from './select.js';

/**
 * Where tokens may go: at most `maxNodes` nodes and/or at most `maxRanks` ranks of `placement`.
 * @example
 * const limit: RouteLimit = { placement: contiguousPlacement(256, 64, 8), maxNodes: 4 };
 * @public
 */
export interface RouteLimit {
  /** Which ranks hold each expert and which node each rank is on. */
  readonly placement: Placement;
  /** M: nodes a token may reach (omit for no node limit). */
  readonly maxNodes?: number;
  /** D: ranks a token may reach (omit for no device limit). */
  readonly maxRanks?: number;
}

/** One restriction level (nodes or ranks), ready for the per-token loop. @internal */
export interface UnitLimit {
  readonly units: Int32Array[];
  readonly keep: number;
  /** Scores summed per unit: ceil(K/M) for nodes, 1 (the maximum) for ranks. */
  readonly perUnit: number;
  readonly unitScore: Float64Array;
  readonly chosen: Int32Array;
  readonly mark: Int32Array;
  readonly scratch: Float64Array;
  readonly idxScratch: Int32Array;
  /** `keptUnit[u]` is the stamp of the last token that kept unit u. */
  readonly keptUnit: Int32Array;
  /** Device level under a node level: the node of each rank, and the node level. */
  readonly parent: { readonly unitOf: Int32Array; readonly level: UnitLimit } | null;
  stamp: number;
}

function unitLimit(
  units: Int32Array[],
  keep: number,
  perUnit: number,
  topk: number,
  numExperts: number,
  what: string,
  parent: UnitLimit['parent'] = null,
): UnitLimit {
  // Necessary condition, independent of the scores: the `keep` largest units must hold topk experts.
  const best = units.map((u) => u.length).sort((a, b) => b - a).slice(0, keep).reduce((a, b) => a + b, 0);
  if (best < topk) {
    fail('E_ROUTING', `topk ${topk} exceeds the ${best} experts that ${keep} ${what} can hold`, { argument: `limit.max${what === 'nodes' ? 'Nodes' : 'Ranks'}`, value: keep, topk, allowed: best });
  }
  return {
    units,
    keep,
    perUnit,
    unitScore: new Float64Array(units.length),
    chosen: new Int32Array(keep),
    mark: new Int32Array(numExperts),
    scratch: new Float64Array(Math.max(keep, perUnit)),
    idxScratch: new Int32Array(perUnit),
    keptUnit: new Int32Array(units.length),
    parent,
    stamp: 0,
  };
}

/** Check `limit` against the gate shape and prepare its per-token state. @internal */
export function planLimits(limit: RouteLimit | undefined, numExperts: number, topk: number): UnitLimit[] {
  if (limit === undefined) return [];
  checkObject(limit, 'limit');
  const c: CompiledPlacement = compilePlacement(limit.placement, numExperts);
  const out: UnitLimit[] = [];
  if (limit.maxNodes !== undefined) {
    const m = checkInt(limit.maxNodes, 'limit.maxNodes', 1, c.numNodes);
    out.push(unitLimit(c.nodeExperts, m, Math.ceil(topk / m), topk, numExperts, 'nodes'));
  }
  if (limit.maxRanks !== undefined) {
    const d = checkInt(limit.maxRanks, 'limit.maxRanks', 1, c.numRanks);
    const gpn = limit.placement.gpusPerNode;
    const unitOf = Int32Array.from({ length: c.numRanks }, (_, r) => Math.floor(r / gpn));
    out.push(unitLimit(c.rankExperts, d, 1, topk, numExperts, 'ranks', out[0] === undefined ? null : { unitOf, level: out[0] }));
  }
  return out;
}

/** Mask (set to `-Infinity`) every entry of `sel` whose expert has no replica on the `keep` best units. @internal */
export function applyLimit(sel: Float64Array, numExperts: number, u: UnitLimit): void {
  const { units, unitScore, chosen, mark, scratch, idxScratch, keptUnit, parent } = u;
  for (let i = 0; i < units.length; i++) {
    const open = parent === null || parent.level.keptUnit[parent.unitOf[i]!] === parent.level.stamp;
    unitScore[i] = open ? topSum(sel, units[i]!, u.perUnit, scratch, idxScratch) : -Infinity;
  }
  const found = topkInto(unitScore, units.length, u.keep, chosen, 0, scratch);
  const stamp = ++u.stamp;
  for (let j = 0; j < found; j++) {
    keptUnit[chosen[j]!] = stamp;
    const list = units[chosen[j]!]!;
    for (let i = 0; i < list.length; i++) mark[list[i]!] = stamp;
  }
  for (let e = 0; e < numExperts; e++) if (mark[e] !== stamp) sel[e] = -Infinity;
}
