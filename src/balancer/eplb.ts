/**
 * @module
 * `rebalanceExperts`: DeepSeek's EPLB replica planner (`eplb.rebalance_experts`), output-compatible
 * slot for slot. Hierarchical policy when the groups split evenly over the nodes (groups packed onto
 * nodes, replication inside each node, physical experts packed onto the node's GPUs); otherwise the
 * global policy, which is the same with one group and one node.
 */
import { packRow } from './packing.js';
import { replicateRow } from './replicate.js';
import { checkAlloc, checkInt, checkWork } from '../validate.js';
import { requireEplb, requireLoadMatrix } from './validate.js';

/** A replica plan, exactly the three tensors eplb.py returns (as nested arrays). */
export interface EplbPlan {
  /** `phy2log[layer][slot]`: the logical expert held by each physical slot. */
  phy2log: number[][];
  /**
   * `log2phy[layer][expert][replicaRank]`: the slots of each expert by replica rank, padded with -1
   * to the largest replica count over all layers and experts.
   */
  log2phy: number[][][];
  /** `logcnt[layer][expert]`: the number of replicas of each logical expert. */
  logcnt: number[][];
}

interface LayerResult {
  phy2log: Int32Array;
  phyrank: Int32Array;
  logcnt: Int32Array;
}

/** eplb.py's `rebalance_experts_hierarchical` for one layer, with float32 arithmetic. */
function hierarchicalLayer(weight: readonly number[], R: number, G: number, N: number, P: number): LayerResult {
  const E = weight.length;
  const groupSize = E / G;
  const groupsPerNode = G / N;
  const slotsPerGpu = R / P;
  const expertsPerNode = E / N;
  const slotsPerNode = R / N;
  const w = Float32Array.from(weight);
  // Step 1: pack groups onto nodes by their (float32) token totals.
  const groupLoad = new Float32Array(G);
  for (let g = 0; g < G; g++) {
    let s = 0;
    for (let j = 0; j < groupSize; j++) s = Math.fround(s + w[g * groupSize + j]!);
    groupLoad[g] = s;
  }
  const groups = packRow(groupLoad, N);
  // mlog = "node-major logical" index: node n owns mlog [n * E/N, (n + 1) * E/N).
  const mlog2log = new Int32Array(E);
  for (let g = 0; g < G; g++) {
    const base = (groups.pack[g]! * groupsPerNode + groups.rank[g]!) * groupSize;
    for (let j = 0; j < groupSize; j++) mlog2log[base + j] = g * groupSize + j;
  }
  const out: LayerResult = { phy2log: new Int32Array(R), phyrank: new Int32Array(R), logcnt: new Int32Array(E) };
  const local = new Float32Array(expertsPerNode);
  const perSlot = new Float32Array(slotsPerNode);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < expertsPerNode; i++) local[i] = w[mlog2log[n * expertsPerNode + i]!]!;
    // Step 2: replicate inside the node.
    const rep = replicateRow(local, slotsPerNode);
    for (let p = 0; p < slotsPerNode; p++) perSlot[p] = local[rep.phy2log[p]!]! / rep.logcnt[rep.phy2log[p]!]!;
    // Step 3: pack the node's physical experts onto its GPUs.
    const gpus = packRow(perSlot, P / N);
    for (let p = 0; p < slotsPerNode; p++) {
      const slot = n * slotsPerNode + gpus.pack[p]! * slotsPerGpu + gpus.rank[p]!;
      out.phy2log[slot] = mlog2log[n * expertsPerNode + rep.phy2log[p]!]!;
      out.phyrank[slot] = rep.rank[p]!;
    }
    for (let i = 0; i < expertsPerNode; i++) out.logcnt[mlog2log[n * expertsPerNode + i]!] = rep.logcnt[i]!;
  }
  return out;
}

/** Raise `E_EPLB` for every precondition eplb.py asserts on the chosen path. */
function checkShape(E: number, R: number, G: number, N: number, P: number): void {
  const data = { numExperts: E, numReplicas: R, numGroups: G, numNodes: N, numGpus: P };
  requireEplb(R % P === 0, `numReplicas (${R}) must be a multiple of numGpus (${P})`, data);
  requireEplb(P % N === 0, `numGpus (${P}) must be a multiple of numNodes (${N})`, data);
  requireEplb(E % G === 0, `numGroups (${G}) must divide the number of logical experts (${E})`, data);
  requireEplb(R / N >= E / N, `numReplicas (${R}) must give every logical expert (${E}) at least one slot`, data);
}

/**
 * Plan expert replicas from per-expert loads, exactly as DeepSeek's `eplb.rebalance_experts`:
 * same `phy2log`, `log2phy` and `logcnt`, slot for slot, including every tie rule (stable descending
 * sort, first index of an argmax, lowest-numbered lightest pack, identity when n == m). Slot `p` is on
 * GPU `p / (numReplicas / numGpus)` and node `p / (numReplicas / numNodes)`.
 *
 * Arithmetic is float32 like eplb.py (`weight.float()`); plans are bit-identical for integer loads
 * whose per-group sums stay below 2^24. For fractional loads torch may sum a group in another order
 * and differ in the last bit of a group total.
 *
 * @param weight - `[layers][logicalExperts]` non-negative loads (e.g. tokens per expert).
 * @param numReplicas - Physical slots per layer (logical experts plus redundant ones).
 * @param numGroups - Expert groups; the hierarchical policy runs when `numGroups % numNodes === 0`.
 * @param numNodes - Server nodes.
 * @param numGpus - GPUs, a multiple of `numNodes`; `numReplicas` must be a multiple of it.
 * @throws ExpertmeshError `E_EPLB` when a precondition of eplb.py fails; `E_ARGUMENT` / `E_NUMERIC`
 * for malformed arguments.
 * @example
 * ```ts
 * import { rebalanceExperts } from 'expertmesh';
 * const plan = rebalanceExperts([[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86]], 16, 4, 2, 8);
 * console.log(plan.phy2log[0]); // [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1]
 * ```
 * @public
 */
export function rebalanceExperts(
  weight: readonly (readonly number[])[],
  numReplicas: number,
  numGroups: number,
  numNodes: number,
  numGpus: number,
): EplbPlan {
  const { cols: E } = requireLoadMatrix('weight', weight);
  checkInt(numReplicas, 'numReplicas', 1);
  checkAlloc('rebalanceExperts', 'the plan', weight.length * numReplicas * 6 * 8, 'numReplicas', true);
  checkWork('rebalanceExperts', weight.length * numReplicas * E, 'numReplicas or the number of experts');
  checkInt(numGroups, 'numGroups', 1);
  checkInt(numNodes, 'numNodes', 1);
  checkInt(numGpus, 'numGpus', 1);
  const hierarchical = numGroups % numNodes === 0;
  const [G, N] = hierarchical ? [numGroups, numNodes] : [1, 1];
  checkShape(E, numReplicas, G, N, numGpus);
  const layers = weight.map((row) => hierarchicalLayer(row, numReplicas, G, N, numGpus));
  let maxCount = 1;
  for (const l of layers) for (const c of l.logcnt) maxCount = Math.max(maxCount, c);
  const log2phy = layers.map((l) => {
    const rows = Array.from({ length: E }, () => new Array<number>(maxCount).fill(-1));
    l.phy2log.forEach((e, slot) => (rows[e]![l.phyrank[slot]!] = slot));
    return rows;
  });
  return {
    phy2log: layers.map((l) => Array.from(l.phy2log)),
    log2phy,
    logcnt: layers.map((l) => Array.from(l.logcnt)),
  };
}
