/**
 * @module
 * The link model: which path a transfer takes and what it costs. NVLink inside a node, InfiniBand
 * between nodes (crossing the sender's NIC and the receiver's), a plain HBM copy within a rank.
 * Routing through a same-index GPU on the target node is the dispatch protocol's choice, not the
 * transport's: here every transfer goes directly from source to destination.
 */
import type { HardwareProfile } from '../hardware/profile.js';
import { PATH_IB, PATH_LOCAL, PATH_NVLINK } from './protocol.js';

export class LinkModel {
  /** Latency per path, us. */
  readonly latencyUs: Float64Array;
  /** Port capacity per path, bytes per us. */
  readonly bytesPerUs: Float64Array;

  constructor(readonly hardware: HardwareProfile, readonly gpusPerNode: number) {
    this.latencyUs = Float64Array.of(0, hardware.nvlinkLatencyUs, hardware.ibLatencyUs);
    // A local copy reads and writes HBM: half its bandwidth moves payload.
    this.bytesPerUs = Float64Array.of((hardware.hbmGBps * 1e3) / 2, hardware.nvlinkGBps * 1e3, hardware.ibGBps * 1e3);
  }

  path(src: number, dst: number): number {
    if (src === dst) return PATH_LOCAL;
    return Math.floor(src / this.gpusPerNode) === Math.floor(dst / this.gpusPerNode) ? PATH_NVLINK : PATH_IB;
  }

  /**
   * The least time from an event on one host worker to its effect on another, us, as a
   * `workers x workers` matrix (`[from * workers + to]`; Infinity on the diagonal): the smallest
   * latency of a link between their ranks plus the smallest cost per message. The transport has
   * no per-message cost of its own (the warp costs of posting a message, `nvlinkMessageUs` and
   * `ibMessageUs`, and the NIC's doorbell, `ibDoorbellUs`, are spent by the EP kernels' tasks
   * before they issue, so the engine cannot prove them for an arbitrary task), so that term is 0 here.
   */
  lookaheadMatrix(workerOfRank: ArrayLike<number>, workers: number): Float64Array {
    const minMessageUs = 0;
    const n = workerOfRank.length;
    const nodes = Math.ceil(n / this.gpusPerNode);
    // Which workers have ranks on each node.
    const onNode = Array.from({ length: nodes }, () => new Set<number>());
    for (let r = 0; r < n; r++) onNode[Math.floor(r / this.gpusPerNode)]!.add(workerOfRank[r]!);
    const m = new Float64Array(workers * workers).fill(Infinity);
    const nvl = this.latencyUs[PATH_NVLINK]! + minMessageUs;
    const ib = this.latencyUs[PATH_IB]! + minMessageUs;
    for (let a = 0; a < nodes; a++) {
      const wa = [...onNode[a]!];
      // Two workers sharing a node: an NVLink link between them.
      for (const p of wa) for (const w of wa) if (p !== w) m[p * workers + w] = Math.min(m[p * workers + w]!, nvl);
      // Workers on different nodes: an InfiniBand link.
      for (let b = 0; b < nodes; b++) {
        if (b === a) continue;
        for (const p of wa) for (const w of onNode[b]!) if (p !== w) m[p * workers + w] = Math.min(m[p * workers + w]!, ib);
      }
    }
    return m;
  }

  /**
   * The conservative synchronisation window: the smallest latency of any link between ranks on
   * different workers (Infinity when no link crosses workers).
   */
  lookahead(workerOfRank: ArrayLike<number>): number {
    let workers = 0;
    for (let r = 0; r < workerOfRank.length; r++) workers = Math.max(workers, workerOfRank[r]! + 1);
    let best = Infinity;
    for (const v of this.lookaheadMatrix(workerOfRank, workers)) best = Math.min(best, v);
    return best;
  }
}
