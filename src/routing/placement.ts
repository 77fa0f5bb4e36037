/**
 * @module
 * Where experts live: the {@link Placement} type (plain data, owned by routing, produced by the load
 * balancer from EPLB plans) and its compiled, per-node / per-rank form used on the routing hot path.
 */
import { fail, showValue } from '../errors.js';
import { checkAlloc, checkArray, checkInt, checkObject } from '../validate.js';

/** Heap bytes of one expert's entry in a placement (a one-element array and its slot), for the allocation check. */
const PLACEMENT_BYTES_PER_EXPERT = 48;

/**
 * Which ranks (GPUs) hold each logical expert, and which node each rank is on. Plain, serialisable
 * data: treat it as immutable once built (compiled forms are cached by object identity).
 *
 * - Rank `r` is on node `floor(r / gpusPerNode)`; `numRanks` is a multiple of `gpusPerNode`.
 * - `expertRanks[e]` lists the ranks holding a replica of logical expert `e` (at least one; a rank
 *   may appear twice when it holds two replicas). Replicas come from EPLB's redundant experts.
 * @example
 * // 4 experts on 2 ranks of one node, expert 0 replicated on both ranks
 * const p: Placement = { numRanks: 2, gpusPerNode: 2, expertRanks: [[0, 1], [0], [1], [1]] };
 * @public
 */
export interface Placement {
  /** Ranks (GPUs) in the cluster. */
  readonly numRanks: number;
  /** Ranks per node (DeepEP's NVLink peers, 8 on H800 nodes). */
  readonly gpusPerNode: number;
  /** `expertRanks[e]`: the ranks holding a replica of logical expert `e`. */
  readonly expertRanks: ReadonlyArray<ReadonlyArray<number>>;
}

/**
 * The default placement without replicas: `numExperts / numRanks` consecutive experts per rank, so
 * expert `e` is on rank `floor(e / (numExperts / numRanks))` (DeepEP's layout).
 * @example
 * const p = contiguousPlacement(256, 64, 8); // DeepSeek-V3 training: 4 experts per GPU, 8 nodes
 * @public
 */
export function contiguousPlacement(numExperts: number, numRanks: number, gpusPerNode: number): Placement {
  checkInt(numExperts, 'numExperts', 1);
  checkInt(numRanks, 'numRanks', 1);
  if (numExperts % numRanks !== 0) {
    fail('E_ARGUMENT', `numRanks ${numRanks} does not divide numExperts ${numExperts}`, { argument: 'numRanks', value: numRanks, numExperts });
  }
  checkInt(gpusPerNode, 'gpusPerNode', 1);
  checkAlloc('contiguousPlacement', 'the placement', numExperts * PLACEMENT_BYTES_PER_EXPERT, 'numExperts', true);
  const perRank = numExperts / numRanks;
  const expertRanks = Array.from({ length: numExperts }, (_, e) => [Math.floor(e / perRank)]);
  return validatePlacement({ numRanks, gpusPerNode, expertRanks }, numExperts);
}

/**
 * Build a placement from EPLB's `phy2log` row (the logical expert held by each physical slot): slot
 * `p` is on rank `floor(p / (slots / numRanks))`.
 * @example
 * placementFromSlots([0, 1, 2, 0], 3, 2, 2); // expert 0 on ranks 0 and 1
 * @public
 */
export function placementFromSlots(phy2log: ArrayLike<number>, numExperts: number, numRanks: number, gpusPerNode: number): Placement {
  checkArray(phy2log, 'phy2log', true);
  checkInt(numExperts, 'numExperts', 1);
  checkInt(numRanks, 'numRanks', 1);
  checkInt(gpusPerNode, 'gpusPerNode', 1);
  checkAlloc('placementFromSlots', 'the placement', numExperts * PLACEMENT_BYTES_PER_EXPERT, 'numExperts', true);
  if (phy2log.length % numRanks !== 0) {
    fail('E_ARGUMENT', `phy2log has ${phy2log.length} slots, not a multiple of numRanks ${numRanks}`, { argument: 'phy2log', length: phy2log.length, numRanks });
  }
  const perRank = phy2log.length / numRanks;
  const expertRanks: number[][] = Array.from({ length: numExperts }, () => []);
  for (let p = 0; p < phy2log.length; p++) {
    const e = checkInt(phy2log[p], `phy2log[${p}]`, 0, numExperts - 1);
    expertRanks[e]!.push(Math.floor(p / perRank));
  }
  return validatePlacement({ numRanks, gpusPerNode, expertRanks }, numExperts);
}

/**
 * Check a placement for `numExperts` logical experts: integer shape, `numRanks` a multiple of
 * `gpusPerNode`, every expert on at least one existing rank. Throws `E_ARGUMENT`; returns it.
 * @public
 */
export function validatePlacement(placement: Placement, numExperts: number): Placement {
  checkObject(placement, 'placement');
  checkInt(numExperts, 'numExperts', 1);
  const numRanks = checkInt(placement.numRanks, 'placement.numRanks', 1);
  const gpn = checkInt(placement.gpusPerNode, 'placement.gpusPerNode', 1);
  if (numRanks % gpn !== 0) {
    fail('E_ARGUMENT', `placement.numRanks ${numRanks} is not a multiple of placement.gpusPerNode ${gpn}`, { argument: 'placement.numRanks', numRanks, gpusPerNode: gpn });
  }
  const er = placement.expertRanks;
  if (!Array.isArray(er) || er.length !== numExperts) {
    fail('E_ARGUMENT', `placement.expertRanks must list ${numExperts} experts, got ${Array.isArray(er) ? er.length : showValue(er)}`, {
      argument: 'placement.expertRanks',
      expected: numExperts,
    });
  }
  for (let e = 0; e < numExperts; e++) {
    const ranks = er[e]!;
    if (!Array.isArray(ranks) || ranks.length === 0) fail('E_ARGUMENT', `placement.expertRanks[${e}] must list at least one rank`, { argument: `placement.expertRanks[${e}]` });
    for (let i = 0; i < ranks.length; i++) checkInt(ranks[i], `placement.expertRanks[${e}][${i}]`, 0, numRanks - 1);
  }
  return placement;
}

/** Placement indexed for routing: distinct experts per node and per rank. @internal */
export interface CompiledPlacement {
  readonly numExperts: number;
  readonly numNodes: number;
  readonly numRanks: number;
  /** `nodeExperts[n]`: distinct experts with a replica on node n, ascending. */
  readonly nodeExperts: Int32Array[];
  /** `rankExperts[r]`: distinct experts with a replica on rank r, ascending. */
  readonly rankExperts: Int32Array[];
}

const compiled = new WeakMap<Placement, CompiledPlacement>();

/** Validate and index `placement` once per object. @internal */
export function compilePlacement(placement: Placement, numExperts: number): CompiledPlacement {
  const hit = compiled.get(placement);
  if (hit !== undefined && hit.numExperts === numExperts) return hit;
  validatePlacement(placement, numExperts);
  const numNodes = placement.numRanks / placement.gpusPerNode;
  const byNode = Array.from({ length: numNodes }, () => new Set<number>());
  const byRank = Array.from({ length: placement.numRanks }, () => new Set<number>());
  placement.expertRanks.forEach((ranks, e) => {
    for (const r of ranks) {
      byRank[r]!.add(e);
      byNode[Math.floor(r / placement.gpusPerNode)]!.add(e);
    }
  });
  const toArr = (s: Set<number>) => Int32Array.from([...s].sort((a, b) => a - b));
  const c: CompiledPlacement = { numExperts, numNodes, numRanks: placement.numRanks, nodeExperts: byNode.map(toArr), rankExperts: byRank.map(toArr) };
  compiled.set(placement, c);
  return c;
}
