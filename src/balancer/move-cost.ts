/**
 * @module
 * The cost of switching from one replica plan to another: which GPUs must send and receive which
 * expert weights, and how many bytes cross the network.
 */
import { fail } from '../errors.js';
import { checkAlloc, checkInt, checkIntRows } from '../validate.js';
import { requireLoad } from './validate.js';

/** One expert's weights copied to a slot from a GPU that held it under the old plan. */
export interface ExpertMove {
  layer: number;
  /** Destination slot in the new plan. */
  slot: number;
  expert: number;
  fromGpu: number;
  toGpu: number;
  /** Whether the copy crosses nodes (InfiniBand) rather than NVLink. */
  interNode: boolean;
}

/** Summary of {@link weightMoveCost}. */
export interface WeightMoveCost {
  /** Network copies, one per slot whose GPU did not already hold its new expert. */
  moves: ExpertMove[];
  /** Slots whose expert changed but whose GPU already held it (a local copy, no network). */
  localCopies: number;
  totalBytes: number;
  interNodeBytes: number;
  /** Bytes each GPU sends and receives. */
  sendBytes: number[];
  recvBytes: number[];
  maxSendBytes: number;
  maxRecvBytes: number;
}

/**
 * Weight movement needed to go from `oldPhy2log` to `newPhy2log` (both `[layers][slots]`, as in
 * {@link EplbPlan}). A slot whose new expert its GPU already hosted costs nothing on the network; any
 * other changed slot receives `bytesPerExpert` from an old holder, preferring one on the same node
 * and, among those, the one that has sent the least so far (lowest GPU on ties).
 * @example
 * ```ts
 * import { weightMoveCost } from 'expertmesh';
 * const c = weightMoveCost([[0, 1, 2, 0]], [[0, 1, 2, 1]], 2, 1, 1000);
 * console.log(c.totalBytes, c.moves[0]); // 1000, expert 1 from GPU 0 to GPU 1
 * ```
 * @public
 */
export function weightMoveCost(
  oldPhy2log: readonly (readonly number[])[],
  newPhy2log: readonly (readonly number[])[],
  numGpus: number,
  numNodes: number,
  bytesPerExpert: number,
): WeightMoveCost {
  checkInt(numGpus, 'numGpus', 1);
  checkInt(numNodes, 'numNodes', 1);
  requireLoad('bytesPerExpert', bytesPerExpert);
  checkIntRows(oldPhy2log, 'oldPhy2log', -1, Number.MAX_SAFE_INTEGER);
  checkIntRows(newPhy2log, 'newPhy2log', -1, Number.MAX_SAFE_INTEGER);
  checkAlloc('weightMoveCost', 'the per-GPU byte counts', numGpus * 16, 'numGpus', true);
  if (oldPhy2log.length !== newPhy2log.length) {
    fail('E_ARGUMENT', `newPhy2log has ${newPhy2log.length} layers, oldPhy2log ${oldPhy2log.length}`, { argument: 'newPhy2log' });
  }
  const gpusPerNode = numGpus / numNodes;
  const cost: WeightMoveCost = {
    moves: [],
    localCopies: 0,
    totalBytes: 0,
    interNodeBytes: 0,
    sendBytes: new Array<number>(numGpus).fill(0),
    recvBytes: new Array<number>(numGpus).fill(0),
    maxSendBytes: 0,
    maxRecvBytes: 0,
  };
  oldPhy2log.forEach((oldRow, layer) => {
    const newRow = newPhy2log[layer]!;
    if (newRow.length !== oldRow.length || oldRow.length % numGpus !== 0) {
      fail('E_ARGUMENT', `layer ${layer}: slot counts ${oldRow.length} -> ${newRow.length} do not fit ${numGpus} GPUs`, { argument: 'newPhy2log', layer });
    }
    const perGpu = oldRow.length / numGpus;
    const holders = new Map<number, number[]>();
    oldRow.forEach((e, s) => {
      const g = Math.floor(s / perGpu);
      const h = holders.get(e) ?? [];
      if (h[h.length - 1] !== g) h.push(g);
      holders.set(e, h);
    });
    const arrived = new Set<number>();
    newRow.forEach((expert, slot) => {
      if (expert === oldRow[slot] || expert < 0) return;
      const toGpu = Math.floor(slot / perGpu);
      const from = holders.get(expert) ?? [];
      // Already on the GPU (held before, or copied in for another slot of this plan): local copy.
      if (from.includes(toGpu) || arrived.has(expert * numGpus + toGpu)) {
        cost.localCopies += 1;
        return;
      }
      if (from.length === 0) fail('E_ARGUMENT', `layer ${layer}: expert ${expert} is held by no slot of the old plan`, { argument: 'oldPhy2log', layer, expert });
      const node = (g: number): number => Math.floor(g / gpusPerNode);
      const sameNode = from.filter((g) => node(g) === node(toGpu));
      const pool = sameNode.length > 0 ? sameNode : from;
      const fromGpu = pool.reduce((a, b) => (cost.sendBytes[b]! < cost.sendBytes[a]! ? b : a));
      const interNode = node(fromGpu) !== node(toGpu);
      cost.moves.push({ layer, slot, expert, fromGpu, toGpu, interNode });
      arrived.add(expert * numGpus + toGpu);
      cost.sendBytes[fromGpu]! += bytesPerExpert;
      cost.recvBytes[toGpu]! += bytesPerExpert;
      cost.totalBytes += bytesPerExpert;
      if (interNode) cost.interNodeBytes += bytesPerExpert;
    });
  });
  cost.maxSendBytes = Math.max(...cost.sendBytes);
  cost.maxRecvBytes = Math.max(...cost.recvBytes);
  return cost;
}
