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
   * The conservative synchronisation window: the smallest latency of any link between ranks on
   * different workers (Infinity when no link crosses workers).
   */
  lookahead(workerOfRank: ArrayLike<number>): number {
    let best = Infinity;
    const n = workerOfRank.length;
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++)
        if (workerOfRank[a] !== workerOfRank[b]) best = Math.min(best, this.latencyUs[this.path(a, b)]!);
    return best;
  }
}
