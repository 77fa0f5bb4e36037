/**
 * @module
 * Cluster configuration: validation at the boundary, and the placement of ranks on host workers.
 */
import { breakRule, NVLINK_DOMAIN_MAX_GPUS } from '../hardware/shape-rules.js';
import { availableParallelism } from 'node:os';
import { fail, showValue } from '../errors.js';
import { RING_MIN_BYTES } from '../transport/protocol.js';
import { getHardwareProfile, validateHardwareProfile, type HardwareProfile } from '../hardware/profile.js';
import type { HostTransportKind } from '../actors/host-channel.js';
import { LINK_SHARING_MODES, type LinkSharing } from '../sim/message-port.js';
import { HEAP_SAMPLING_DEFAULTS, type HostHeapSamplingOptions } from '../actors/heap-sampler.js';

/** What {@link createCluster} accepts. */
export interface ClusterConfig {
  /** Number of nodes (>= 1). */
  nodes: number;
  /** GPUs per node (>= 1). Rank r is GPU `r % gpusPerNode` of node `floor(r / gpusPerNode)`. */
  gpusPerNode: number;
  /** A hardware profile, or the name of a built-in one ('H800', 'H100', 'H200'). */
  hardware: HardwareProfile | string;
  /** Host worker threads (default: the cores available, at most one per rank). */
  workers?: number;
  /** Seed for everything random in the run (default 0). */
  seed?: number;
  /** Where hosts run: worker threads (default) or the calling thread. */
  transport?: HostTransportKind;
  /** Keep a record per delivered transfer (timeline digest, traces). Default true. */
  recordTimeline?: boolean;
  /**
   * Keep the counter samples and activity slices tasks record (`takeSamples`, `takeActivities`:
   * traces, utilisation). Default: as `recordTimeline`. A run that only digests its timeline turns
   * them off: they are about as large as the timeline itself and would be held to the end.
   */
  recordTraces?: boolean;
  /**
   * How a link port shares its bandwidth among its streams (docs/hardware.md, "How links are
   * modelled"):
   * - `'fluid'` (default): max-min fair shares under receiver credits, re-shared at every
   *   transfer's start and end.
   * - `'message'`: a sender port serves one transfer at a time at its full rate, taking its
   *   streams in turn; receivers send no credits and take bytes in the order they arrived (the
   *   switch's buffer holds the rest, with no limit). Packet arbitration at message granularity,
   *   for transfers of a packet or two (the low-latency kernels); it holds a port per transfer, so
   *   large transfers (the normal kernels) belong to the fluid model.
   */
  linkSharing?: LinkSharing;
  /** Wall-clock limit for any single wait on a host, ms (default 30000). */
  timeoutMs?: number;
  /**
   * Virtual-time bound of one operation, us (default 1e8: 100 s of virtual time, far past any
   * real step): a run whose clock passes it fails with `E_TIMEOUT` naming every blocked rank, task
   * and what it waits for.
   */
  maxVirtualUs?: number;
  /**
   * @internal Data bytes of each packet ring between two host workers (a power of two from 512 KiB
   * to 64 MiB; default 4 MiB, less with many workers). Tests use small rings to exercise back pressure.
   */
  ringBytes?: number;
  /**
   * Sample each host worker's heap allocations during each run with V8's sampling heap profiler,
   * and report them in the run's result ({@link OpResult.hostHeap}): a diagnostic for allocation
   * on the hot path (docs/runtime.md), off by default (nothing runs when off). It slows runs down,
   * and needs `transport: 'worker'` (in-process hosts share the calling thread and its profiler).
   */
  hostHeapSampling?: HostHeapSamplingOptions;
}

/** A validated configuration with every default filled in. */
export interface ResolvedClusterConfig {
  nodes: number;
  gpusPerNode: number;
  numRanks: number;
  hardware: HardwareProfile;
  workers: number;
  seed: number;
  transport: HostTransportKind;
  recordTimeline: boolean;
  recordTraces: boolean;
  linkSharing: LinkSharing;
  timeoutMs: number;
  maxVirtualUs: number;
  /** @internal Packet ring size, bytes (undefined: the default for the worker count). */
  ringBytes?: number;
  /** Heap sampling of the host workers, defaults filled in (absent: off). */
  hostHeapSampling?: Required<HostHeapSamplingOptions>;
  /** Host worker of every rank. */
  workerOfRank: number[];
}

/** Default virtual-time bound of one operation, us (100 s of virtual time). */
export const DEFAULT_MAX_VIRTUAL_US = 1e8;

/** The largest cluster the engine's packed keys allow. */
export const MAX_RANKS = 4096;

function positiveInt(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    fail('E_CONFIG', `cluster config: '${field}' must be an integer in [1, ${max}], got ${showValue(v)}`, { field, value: v });
  return v;
}

/** Validate a cluster config and fill in defaults. Throws `E_CONFIG` naming the field and value. */
export function resolveClusterConfig(c: ClusterConfig): ResolvedClusterConfig {
  if (typeof c !== 'object' || c === null) fail('E_CONFIG', 'cluster config must be an object', { value: showValue(c) });
  const nodes = positiveInt(c.nodes, 'nodes');
  const gpusPerNode = positiveInt(c.gpusPerNode, 'gpusPerNode');
  if (gpusPerNode > NVLINK_DOMAIN_MAX_GPUS)
    breakRule('nvlink-domain', 'cluster config', `gpusPerNode ${gpusPerNode} is over ${NVLINK_DOMAIN_MAX_GPUS}`, { field: 'gpusPerNode', value: gpusPerNode });
  const numRanks = nodes * gpusPerNode;
  if (numRanks > MAX_RANKS)
    fail('E_CONFIG', `cluster config: nodes * gpusPerNode = ${numRanks} exceeds the ${MAX_RANKS}-rank limit`, { field: 'nodes', value: numRanks });
  if (c.hardware === undefined) fail('E_CONFIG', "cluster config: 'hardware' is required (a HardwareProfile or a name such as 'H800')", { field: 'hardware' });
  const hardware = typeof c.hardware === 'string' ? getHardwareProfile(c.hardware) : validateHardwareProfile(c.hardware);
  const workers = c.workers === undefined ? Math.min(availableParallelism(), numRanks) : positiveInt(c.workers, 'workers', numRanks);
  const seed = c.seed ?? 0;
  if (!Number.isInteger(seed)) fail('E_CONFIG', `cluster config: 'seed' must be an integer, got ${showValue(seed)}`, { field: 'seed', value: seed });
  const transport = c.transport ?? 'worker';
  if (transport !== 'worker' && transport !== 'in-process')
    fail('E_CONFIG', `cluster config: 'transport' must be 'worker' or 'in-process', got ${showValue(transport)}`, { field: 'transport', value: transport });
  if (c.recordTraces !== undefined && typeof c.recordTraces !== 'boolean')
    fail('E_CONFIG', `cluster config: 'recordTraces' must be true or false, got ${showValue(c.recordTraces)}`, { field: 'recordTraces', value: c.recordTraces });
  const linkSharing = c.linkSharing ?? 'fluid';
  if (!LINK_SHARING_MODES.includes(linkSharing))
    fail('E_CONFIG', `cluster config: 'linkSharing' must be one of ${LINK_SHARING_MODES.map((m) => `'${m}'`).join(', ')}, got ${showValue(linkSharing)}`, { field: 'linkSharing', value: linkSharing });
  const timeoutMs = c.timeoutMs === undefined ? 30_000 : positiveInt(c.timeoutMs, 'timeoutMs');
  const maxVirtualUs = c.maxVirtualUs ?? DEFAULT_MAX_VIRTUAL_US;
  if (typeof maxVirtualUs !== 'number' || !(maxVirtualUs > 0) || maxVirtualUs === Infinity)
    fail('E_CONFIG', `cluster config: 'maxVirtualUs' must be a positive finite number of us, got ${showValue(maxVirtualUs)}`, { field: 'maxVirtualUs', value: maxVirtualUs });
  const ringBytes = c.ringBytes;
  if (ringBytes !== undefined && !(Number.isInteger(ringBytes) && ringBytes >= RING_MIN_BYTES && ringBytes <= 1 << 26 && (ringBytes & (ringBytes - 1)) === 0))
    fail('E_CONFIG', `cluster config: 'ringBytes' must be a power of two in [${RING_MIN_BYTES}, ${1 << 26}], got ${showValue(ringBytes)}`, { field: 'ringBytes', value: ringBytes });
  const hostHeapSampling = c.hostHeapSampling === undefined ? undefined : resolveHeapSampling(c.hostHeapSampling, transport);
  return {
    nodes, gpusPerNode, numRanks, hardware, workers, seed, transport, linkSharing, timeoutMs, maxVirtualUs,
    ...(ringBytes !== undefined ? { ringBytes } : {}),
    ...(hostHeapSampling ? { hostHeapSampling } : {}),
    recordTimeline: c.recordTimeline ?? true,
    recordTraces: c.recordTraces ?? c.recordTimeline ?? true,
    workerOfRank: placeRanks(nodes, gpusPerNode, workers),
  };
}

function resolveHeapSampling(o: HostHeapSamplingOptions, transport: HostTransportKind): Required<HostHeapSamplingOptions> {
  if (typeof o !== 'object' || o === null)
    fail('E_CONFIG', `cluster config: 'hostHeapSampling' must be an object, got ${showValue(o)}`, { field: 'hostHeapSampling', value: showValue(o) });
  if (transport !== 'worker')
    fail('E_CONFIG', "cluster config: 'hostHeapSampling' needs transport 'worker' (in-process hosts share the calling thread and its heap profiler)", { field: 'hostHeapSampling', value: transport });
  const intervalBytes = o.intervalBytes ?? HEAP_SAMPLING_DEFAULTS.intervalBytes;
  if (!(Number.isInteger(intervalBytes) && intervalBytes >= 16 && intervalBytes <= 1 << 20 && (intervalBytes & (intervalBytes - 1)) === 0))
    fail('E_CONFIG', `cluster config: 'hostHeapSampling.intervalBytes' must be a power of two in [16, ${1 << 20}], got ${showValue(intervalBytes)}`, { field: 'hostHeapSampling.intervalBytes', value: intervalBytes });
  const topSites = o.topSites ?? HEAP_SAMPLING_DEFAULTS.topSites;
  if (!(Number.isInteger(topSites) && topSites >= 0 && topSites <= 1000))
    fail('E_CONFIG', `cluster config: 'hostHeapSampling.topSites' must be an integer in [0, 1000], got ${showValue(topSites)}`, { field: 'hostHeapSampling.topSites', value: topSites });
  return { intervalBytes, topSites };
}

/**
 * Whole nodes per worker in contiguous blocks when there are at least as many nodes as workers;
 * otherwise contiguous blocks of ranks (a node then spans workers).
 */
export function placeRanks(nodes: number, gpusPerNode: number, workers: number): number[] {
  const n = nodes * gpusPerNode;
  const out = new Array<number>(n);
  for (let r = 0; r < n; r++) {
    out[r] = workers <= nodes ? Math.floor((Math.floor(r / gpusPerNode) * workers) / nodes) : Math.floor((r * workers) / n);
  }
  return out;
}
