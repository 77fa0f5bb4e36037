/**
 * @module
 * One layer of a replica plan seen as hardware: which slot is on which GPU and node, which slots
 * hold each logical expert, and the routing `Placement` that node-limited routing consumes.
 */
import { fail, showValue } from '../errors.js';
import { validatePlacement, type Placement } from '../routing/placement.js';
import type { EplbPlan } from './eplb.js';
import { checkAlloc, checkArray, checkInt, checkLength, checkObject } from '../validate.js';

/** Heap bytes of one slot or expert entry of a layout (a number in a list, a list per expert), for the allocation check. */
const LAYOUT_BYTES_PER_ENTRY = 64;
import { requireEplb, requireLoad } from './validate.js';

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

/** Checked layouts (a layout is checked once, then trusted while it is the same object). */
const checkedLayouts = new WeakSet<object>();

/**
 * Throw unless `layout` is a well-formed {@link ReplicaLayout}: positive integer sizes, `numGpus`
 * a multiple of `numNodes`, `phy2log` of `numGpus * slotsPerGpu` experts (or -1), `log2phy` listing
 * the slots of each expert. Names the field and the value. @internal
 */
export function checkLayout(layout: unknown, name = 'layout'): ReplicaLayout {
  checkObject(layout, name);
  if (checkedLayouts.has(layout as object)) return layout as ReplicaLayout;
  const l = layout as ReplicaLayout;
  const G = checkInt(l.numGpus, `${name}.numGpus`, 1);
  const N = checkInt(l.numNodes, `${name}.numNodes`, 1);
  const S = checkInt(l.slotsPerGpu, `${name}.slotsPerGpu`, 1);
  requireEplb(G % N === 0, `${name}.numGpus (${G}) must be a multiple of ${name}.numNodes (${N})`, { numGpus: G, numNodes: N });
  checkLength(l.phy2log, G * S, `${name}.phy2log`, `numGpus ${G} x slotsPerGpu ${S}`);
  const E = checkArray(l.log2phy, `${name}.log2phy`).length;
  for (let p = 0; p < l.phy2log.length; p++) checkInt(l.phy2log[p], `${name}.phy2log[${p}]`, -1, E - 1);
  for (let e = 0; e < E; e++) {
    const slots = checkArray(l.log2phy[e], `${name}.log2phy[${e}]`);
    for (let i = 0; i < slots.length; i++) {
      const s = checkInt(slots[i], `${name}.log2phy[${e}][${i}]`, 0, G * S - 1);
      if (l.phy2log[s] !== e) fail('E_ARGUMENT', `${name}.log2phy[${e}][${i}] = ${s} is a slot of expert ${l.phy2log[s]}, not ${e}`, { argument: `${name}.log2phy`, expert: e, slot: s });
    }
  }
  checkedLayouts.add(layout as object);
  return l;
}

/** GPU of a slot, unchecked (inner loops of checked callers). @internal */
export const slotGpuOf = (layout: ReplicaLayout, slot: number): number => Math.floor(slot / layout.slotsPerGpu);
/** Node of a GPU, unchecked. @internal */
export const gpuNodeOf = (layout: ReplicaLayout, gpu: number): number => Math.floor(gpu / (layout.numGpus / layout.numNodes));

/** GPU of a slot. @public */
export function slotGpu(layout: ReplicaLayout, slot: number): number {
  const l = checkLayout(layout);
  return Math.floor(checkInt(slot, 'slot', 0, l.phy2log.length - 1) / l.slotsPerGpu);
}

/** Node of a GPU. @public */
export function gpuNode(layout: ReplicaLayout, gpu: number): number {
  const l = checkLayout(layout);
  return Math.floor(checkInt(gpu, 'gpu', 0, l.numGpus - 1) / (l.numGpus / l.numNodes));
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
  checkObject(plan, 'plan');
  checkArray(plan.phy2log, 'plan.phy2log');
  checkArray(plan.log2phy, 'plan.log2phy');
  checkInt(layer, 'layer', 0);
  const phy2log = plan.phy2log[layer];
  const l2p = plan.log2phy[layer];
  if (phy2log === undefined || l2p === undefined) {
    fail('E_ARGUMENT', `layer ${layer} is out of range [0, ${plan.phy2log.length})`, { argument: 'layer', value: layer });
  }
  checkCluster(checkArray(phy2log, `plan.phy2log[${layer}]`).length, numGpus, numNodes);
  checkArray(l2p, `plan.log2phy[${layer}]`);
  const log2phy: number[][] = [];
  for (let e = 0; e < l2p.length; e++) log2phy.push((checkArray(l2p[e], `plan.log2phy[${layer}][${e}]`) as readonly number[]).filter((s) => s >= 0));
  return checkLayout({ numGpus, numNodes, slotsPerGpu: phy2log.length / numGpus, phy2log: phy2log.slice(), log2phy }, `plan (layer ${layer})`);
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
  checkArray(phy2log, 'phy2log');
  checkInt(numExperts, 'numExperts', 1);
  checkCluster(phy2log.length, numGpus, numNodes);
  checkAlloc('layoutFromPhy2log', 'the layout', (numExperts + phy2log.length) * LAYOUT_BYTES_PER_ENTRY, 'numExperts', true);
  const log2phy: number[][] = Array.from({ length: numExperts }, () => []);
  Array.from(phy2log).forEach((e, slot) => {
    if (!Number.isInteger(e) || e < -1 || e >= numExperts) {
      fail('E_ARGUMENT', `phy2log[${slot}] = ${showValue(e)} is not an expert in [-1, ${numExperts})`, { argument: 'phy2log', slot, value: e });
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
  checkInt(numNodes, 'numNodes', 1);
  const slots = Math.ceil(numExperts / numGpus) * numGpus;
  // The slot table and the layout's lists, before any of them is built.
  checkAlloc('noRedundancyLayout', 'the layout', (numExperts + slots) * LAYOUT_BYTES_PER_ENTRY, 'numExperts or numGpus', true);
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
  checkLayout(layout);
  return validatePlacement(
    {
      numRanks: layout.numGpus,
      gpusPerNode: layout.numGpus / layout.numNodes,
      expertRanks: layout.log2phy.map((slots) => slots.map((s) => slotGpuOf(layout, s)).sort((a, b) => a - b)),
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
  checkLayout(layout);
  checkArray(expertLoad, 'expertLoad', true);
  for (let e = 0; e < expertLoad.length; e++) requireLoad(`expertLoad[${e}]`, expertLoad[e]!);
  const loads = new Array<number>(layout.numGpus).fill(0);
  layout.log2phy.forEach((slots, e) => {
    for (const s of slots) loads[slotGpuOf(layout, s)]! += (expertLoad[e] ?? 0) / slots.length;
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
  checkArray(loads, 'loads', true);
  for (let i = 0; i < loads.length; i++) requireLoad(`loads[${i}]`, loads[i]!);
  let max = 0;
  let sum = 0;
  for (const v of loads) {
    sum += v;
    if (v > max) max = v;
  }
  return sum === 0 ? 0 : max / (sum / loads.length);
}
