/**
 * @module
 * DeepEP's `Config` for the normal kernels: SMs and chunk/ring sizes (in tokens), the defaults DeepEP
 * ships per rank count, and the checks that reject configurations that would deadlock.
 */
import { fail } from '../errors.js';

/** One kernel's buffer configuration, DeepEP's `Config(num_sms, nvl_send, nvl_recv, rdma_send, rdma_recv)`. */
export interface EpConfig {
  /** SMs the kernel occupies (even): `numSms / 2` channels, two SMs each. */
  numSms: number;
  /** Tokens per chunked NVLink send (`num_max_nvl_chunked_send_tokens`). */
  nvlChunk: number;
  /** NVLink receive ring, tokens (`num_max_nvl_chunked_recv_tokens`). */
  nvlBuffer: number;
  /** Tokens per chunked RDMA send (`num_max_rdma_chunked_send_tokens`). */
  rdmaChunk: number;
  /** RDMA receive ring, tokens (`num_max_rdma_chunked_recv_tokens`). */
  rdmaBuffer: number;
}

/** DeepEP's default SM count for the normal kernels. */
export const DEFAULT_NUM_SMS = 20;

type Tuple = [number, number, number, number];
/** DeepEP's shipped defaults (late 2025): ranks -> [dispatch, combine] as (nvl chunk, nvl ring, rdma chunk, rdma ring). */
const DEFAULTS: ReadonlyArray<[number, Tuple, Tuple]> = [
  [8, [6, 256, 6, 128], [4, 256, 6, 128]],
  [16, [36, 288, 20, 128], [4, 288, 12, 128]],
  [32, [32, 288, 8, 128], [1, 288, 8, 128]],
  [64, [32, 288, 8, 128], [1, 288, 8, 128]],
  [128, [20, 560, 12, 128], [1, 560, 8, 128]],
];

/**
 * The default configs for `numRanks` ranks. DeepEP ships defaults for 8, 16, 32, 64 and 128 ranks;
 * other counts take the entry of the largest listed count not above them (the smallest entry below
 * 8). With `numNodes` > 1, as the internode kernels require: the NVLink ring is rounded up to a
 * multiple of the node count and grows until each node's share holds the NVLink send chunk plus the
 * forwarder warps sharing it (and more than the RDMA send chunk); the RDMA ring is rounded up to a
 * multiple of the RDMA send chunk, as DeepEP's `Config` does (128 slots with chunk 12 become 132).
 * So every default passes {@link validateEpConfig}.
 */
export function defaultEpConfigs(numRanks: number, numSms = DEFAULT_NUM_SMS, numNodes = 1): { dispatch: EpConfig; combine: EpConfig } {
  let pick = DEFAULTS[0]!;
  for (const d of DEFAULTS) if (d[0] <= numRanks) pick = d;
  const mk = ([nvlChunk, nvlBuffer, rdmaChunk, rdmaBuffer]: Tuple): EpConfig => ({
    numSms,
    nvlChunk,
    // Internode, each node's share must hold a send chunk plus the forwarders sharing it: past the
    // listed counts (256 ranks: 560 / 32 nodes < 20 + 1) the ring grows, as DeepEP's larger entries do.
    nvlBuffer: numNodes * Math.max(Math.ceil(nvlBuffer / numNodes), numNodes > 1 ? Math.max(nvlChunk + forwarderWarpsPerNode(numNodes), rdmaChunk + 1) : 0),
    rdmaChunk,
    // DeepEP's Config constructor aligns the RDMA ring up to a multiple of the send chunk (only
    // internode kernels use it; intranode the listed value stays).
    rdmaBuffer: numNodes > 1 ? Math.ceil(rdmaBuffer / rdmaChunk) * rdmaChunk : rdmaBuffer,
  });
  return { dispatch: mk(pick[1]), combine: mk(pick[2]) };
}

/** Forwarder warps that share one source node's part of an NVLink ring (DeepEP: 8 forwarders over the nodes). */
export function forwarderWarpsPerNode(numNodes: number): number {
  return Math.max(1, Math.floor(8 / numNodes));
}

/**
 * Check a config; throws `E_CONFIG` naming the violated constraint and values.
 * @param which 'dispatch' or 'combine', for the message.
 */
export function validateEpConfig(c: EpConfig, numNodes: number, which: string): EpConfig {
  const where = `${which}Config`;
  for (const f of ['numSms', 'nvlChunk', 'nvlBuffer', 'rdmaChunk', 'rdmaBuffer'] as const) {
    const v = c?.[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      fail('E_CONFIG', `${where}.${f} must be a positive integer, got ${JSON.stringify(v)}`, { field: `${where}.${f}`, value: v });
  }
  if (c.numSms % 2 !== 0) fail('E_CONFIG', `${where}.numSms must be even (two SMs per channel), got ${c.numSms}`, { field: `${where}.numSms`, value: c.numSms });
  if (c.nvlChunk >= c.nvlBuffer)
    fail('E_CONFIG', `${where}: NVLink send chunk (${c.nvlChunk}) must be smaller than the NVLink receive ring (${c.nvlBuffer}), or senders wait forever`, { field: `${where}.nvlChunk`, value: c.nvlChunk, nvlBuffer: c.nvlBuffer });
  if (numNodes > 1) {
    if (c.rdmaBuffer % c.rdmaChunk !== 0)
      fail('E_CONFIG', `${where}: RDMA receive ring (${c.rdmaBuffer}) must be a multiple of the RDMA send chunk (${c.rdmaChunk})`, { field: `${where}.rdmaBuffer`, value: c.rdmaBuffer, rdmaChunk: c.rdmaChunk });
    if (c.rdmaChunk * 2 > c.rdmaBuffer)
      fail('E_CONFIG', `${where}: RDMA send chunk (${c.rdmaChunk}) must be at most half the RDMA receive ring (${c.rdmaBuffer}): heads return lazily, a chunk at a time`, { field: `${where}.rdmaChunk`, value: c.rdmaChunk, rdmaBuffer: c.rdmaBuffer });
    if (c.nvlBuffer % numNodes !== 0)
      fail('E_CONFIG', `${where}: NVLink receive ring (${c.nvlBuffer}) must be divisible by the node count (${numNodes})`, { field: `${where}.nvlBuffer`, value: c.nvlBuffer, numNodes });
    const share = c.nvlBuffer / numNodes;
    const fwd = forwarderWarpsPerNode(numNodes);
    if (share < c.nvlChunk + fwd)
      fail('E_CONFIG', `${where}: each node's share of the NVLink ring (${c.nvlBuffer} / ${numNodes} = ${share}) must be at least the NVLink send chunk (${c.nvlChunk}) plus the ${fwd} forwarder warps sharing it`, { field: `${where}.nvlBuffer`, value: c.nvlBuffer, share, nvlChunk: c.nvlChunk, forwarders: fwd });
    if (share <= c.rdmaChunk)
      fail('E_CONFIG', `${where}: each node's share of the NVLink ring (${share}) must be larger than the RDMA send chunk (${c.rdmaChunk})`, { field: `${where}.nvlBuffer`, value: c.nvlBuffer, share, rdmaChunk: c.rdmaChunk });
    if (c.rdmaChunk < fwd)
      fail('E_CONFIG', `${where}: RDMA send chunk (${c.rdmaChunk}) must be at least the ${fwd} forwarder warps per destination`, { field: `${where}.rdmaChunk`, value: c.rdmaChunk, forwarders: fwd });
  }
  return c;
}
