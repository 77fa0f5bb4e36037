/**
 * @module
 * One layer of a replica plan seen as hardware: which slot is on which GPU and node, which slots
 * hold each logical expert, and the routing `Placement` that node-limited routing consumes.
 */
import { fail } from '../errors.js';
import { validatePlacement, type Placement } from '../routing/placement.js';
import type { EplbPlan } from './eplb.js';
import { checkInt } from '../validate.js';
import { requireEplb } from './validate.js';

/** One layer's physical slots on the cluster. Slot `p` is on GPU `floor(p / slotsPerGpu)`. */
export interface ReplicaLayout {
  /** Number of GPUs (EP ranks). */
  numGpus: number;
  /** Number of nodes; GPU `g` is on node `floor(g / (numGpus / numNodes))`. */
  numNodes: number;
  /** Physical slots per GPU. */
  slotsPerGpu: number;
  /** `phy2log[slot]`: logical expert of each slot, or -1 for an empty slot. */
  phy2log: readonly number[];
  /** `log2phy[expert]`: the expert's slots by replica rank (no padding). */
  log2phy: readonly (readonly number[])[];
}

/** GPU of a slot. @public */
export function slotGpu(layout: ReplicaLayout, slot: number): number {
  return Math.floor(slot / layout.slotsPerGpu);
}

/** Node of a GPU. @public */
export function gpuNode(layout: ReplicaLayout, gpu: number): number {
  return Math.floor(gpu / (layout.numGpus / layout.numNodes));
}

function checkCluster(numSlots: number, numGpus: number, numNodes: number): void {
  checkInt(numGpus, 'numGpus', 1);
  checkInt(numNodes, 'numNodes', 1);
  requireEplb(numGpus % numNodes === 0, `numGpus (${numGpus}) must be a multiple of numNodes (${numNodes})`, { numGpus, numNodes });
  requireEplb(numSlots % numGpus === 0, `slot count (${numSlots}) must be a multiple of numGpus (${numGpus})`, { numSlots, numGpus });
}

/**
 * The layout of one layer of an {@link EplbPlan}; each expert's slots keep their replica-rank order.
 * @example
 * ```ts
 * import { rebalanceExperts, layerLayout } from 'expertmesh';
 * const plan = rebalanceExperts([[5, 1, 1, 1]], 8, 1, 1, 4);
 * console.log(layerLayout(plan, 0, 4, 1).log2phy[0]); // slots of expert 0
 * ```
 * @public
 */
export function layerLayout(plan: EplbPlan, layer: number, numGpus: number, numNodes: number): ReplicaLayout {
  const phy2log = plan.phy2log[layer];
  const l2p = plan.log2phy[layer];
  if (phy2log === undefined || l2p === undefined) {
    fail('E_ARGUMENT', `layer ${layer} is out of range [0, ${plan.phy2log.length})`, { argument: 'layer', value: layer });
  }
  checkCluster(phy2log.length, numGpus, numNodes);
  return {
    numGpus,
    numNodes,
    slotsPerGpu: phy2log.length / numGpus,
    phy2log: phy2log.slice(),
    log2phy: l2p.map((slots) => slots.filter((s) => s >= 0)),
  };
}

/**
 * A layout from a slot-to-expert row (`-1` = empty slot); each expert's slots are listed in slot
 * order. With `phy2log[p] = p` it is the no-redundancy baseline.
 * @param phy2log - Logical expert per slot, or -1.
 * @param numExperts - Logical experts; each must hold at least one slot.
 * @throws ExpertmeshError `E_EPLB` when an expert has no slot or the shape does not divide.
 * @public
 */
export function layoutFromPhy2log(phy2log: readonly number[], numExperts: number, numGpus: number, numNodes: number): ReplicaLayout {
  checkInt(numExperts, 'numExperts', 1);
  checkCluster(phy2log.length, numGpus, numNodes);
  const log2phy: number[][] = Array.from({ length: numExperts }, () => []);
  phy2log.forEach((e, slot) => {
    if (!Number.isInteger(e) || e < -1 || e >= numExperts) {
      fail('E_ARGUMENT', `phy2log[${slot}] = ${e} is not an expert in [-1, ${numExperts})`, { argument: 'phy2log', slot, value: e });
    }
    if (e >= 0) log2phy[e]!.push(slot);
  });
  const missing = log2phy.findIndex((s) => s.length === 0);
  requireEplb(missing < 0, `logical expert ${missing} has no slot in phy2log`, { expert: missing });
  return { numGpus, numNodes, slotsPerGpu: phy2log.length / numGpus, phy2log: phy2log.slice(), log2phy };
}

/**
 * The no-redundancy baseline: expert `e` alone in slot `e`, `slotsPerGpu` slots per GPU, slots past
 * the last expert empty (e.g. EP320 decode with 257 experts leaves 63 GPUs idle).
 * @public
 */
export function noRedundancyLayout(numExperts: number, numGpus: number, numNodes: number): ReplicaLayout {
  checkInt(numExperts, 'numExperts', 1);
  checkInt(numGpus, 'numGpus', 1);
  const slots = Math.ceil(numExperts / numGpus) * numGpus;
  return layoutFromPhy2log(Array.from({ length: slots }, (_, p) => (p < numExperts ? p : -1)), numExperts, numGpus, numNodes);
}

/**
 * The routing {@link Placement} of a layout (ranks holding each logical expert, a rank listed once
 * per replica it holds), so node- and device-limited routing can run over the replicas.
 * @example
 * ```ts
 * import { rebalanceExperts, layerLayout, layoutPlacement } from 'expertmesh';
 * const layout = layerLayout(rebalanceExperts([[5, 1, 1, 1]], 8, 1, 1, 4), 0, 4, 2);
 * console.log(layoutPlacement(layout).expertRanks[0]); // ranks holding expert 0
 * ```
 * @public
 */
export function layoutPlacement(layout: ReplicaLayout): Placement {
  return validatePlacement(
    {
      numRanks: layout.numGpus,
      gpusPerNode: layout.numGpus / layout.numNodes,
      expertRanks: layout.log2phy.map((slots) => slots.map((s) => slotGpu(layout, s)).sort((a, b) => a - b)),
    },
    layout.log2phy.length,
  );
}

/**
 * Expected load per GPU when each expert's load is split evenly over its replicas (EPLB's model).
 * @param expertLoad - Load per logical expert.
 * @public
 */
export function expectedGpuLoads(layout: ReplicaLayout, expertLoad: readonly number[]): number[] {
  const loads = new Array<number>(layout.numGpus).fill(0);
  layout.log2phy.forEach((slots, e) => {
    for (const s of slots) loads[slotGpu(layout, s)]! += (expertLoad[e] ?? 0) / slots.length;
  });
  return loads;
}

/**
 * Max over mean of a load vector (1 is perfect balance; 0 when everything is zero).
 * @example
 * ```ts
 * import { imbalance } from 'expertmesh';
 * console.log(imbalance([3, 1])); // 1.5
 * ```
 * @public
 */
export function imbalance(loads: readonly number[]): number {
  let max = 0;
  let sum = 0;
  for (const v of loads) {
    sum += v;
    if (v > max) max = v;
  }
  return sum === 0 ? 0 : max / (sum / loads.length);
}
