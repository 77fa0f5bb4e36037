/**
 * @module
 * DeepEP's `Config` for the normal kernels: SMs and chunk/ring sizes (in tokens), the defaults DeepEP
 * ships per rank count (`get_dispatch_config` / `get_combine_config`, all 12 entries), and DeepEP's
 * host asserts, each refused before running under its own name.
 */
import { ExpertmeshError, fail, isExpertmeshError, showValue } from '../../errors.js';
import { checkInt, checkObject } from '../../validate.js';

/**
 * Where a config's values come from: `deepep` the table entry for this rank count, `nearest` the
 * entry of the nearest lower rank count (DeepEP has none for this count), `given` by the caller,
 * `tuned` the best of the benchmark's sweep.
 */
export type EpConfigSource = 'deepep' | 'nearest' | 'given' | 'tuned';

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
  /** Where the values come from (absent on hand-built configs). */
  source?: EpConfigSource;
  /** With `source: 'nearest'`: the rank count of the table entry used. */
  entryRanks?: number;
}

/** DeepEP's default SM count for the normal kernels (`Buffer.num_sms`). */
export const DEFAULT_NUM_SMS = 20;

/** DeepEP's `NUM_MAX_NVL_PEERS`: GPUs of one node. */
export const NUM_MAX_NVL_PEERS = 8;
/** DeepEP's `kNumCombineForwarderWarps`: the internode combine's forwarder warps per channel. */
export const COMBINE_FORWARDER_WARPS = 24;

type Tuple = readonly [number, number, number, number];
/** DeepEP's shipped defaults: ranks -> [dispatch, combine] as (nvl chunk, nvl ring, rdma chunk, rdma ring). */
const DEFAULTS: ReadonlyArray<readonly [number, Tuple, Tuple]> = [
  [2, [24, 256, 6, 128], [10, 256, 6, 128]],
  [4, [6, 256, 6, 128], [9, 256, 6, 128]],
  [8, [6, 256, 6, 128], [4, 256, 6, 128]],
  [16, [36, 288, 20, 128], [4, 288, 12, 128]],
  [24, [32, 288, 8, 128], [1, 288, 8, 128]],
  [32, [32, 288, 8, 128], [1, 288, 8, 128]],
  [48, [32, 288, 8, 128], [1, 288, 8, 128]],
  [64, [32, 288, 8, 128], [1, 288, 8, 128]],
  [96, [20, 480, 12, 128], [1, 480, 8, 128]],
  [128, [20, 560, 12, 128], [1, 560, 8, 128]],
  [144, [32, 720, 12, 128], [2, 720, 8, 128]],
  [160, [28, 720, 12, 128], [2, 720, 8, 128]],
];

/** The rank counts DeepEP has a default config for. */
export function deepepConfigRanks(): number[] {
  return DEFAULTS.map((d) => d[0]);
}

/** DeepEP's combine: forwarder warps per source node, `max(kNumCombineForwarderWarps / num_nodes, 1)`. */
export function combineWarpsPerForwarder(numNodes: number): number {
  checkInt(numNodes, 'numNodes', 1);
  return Math.max(Math.floor(COMBINE_FORWARDER_WARPS / numNodes), 1);
}

/**
 * The default configs for `numRanks` ranks: DeepEP's table entry (`source: 'deepep'`), or for a rank
 * count DeepEP has no entry for, the entry of the nearest lower count as it is (`source: 'nearest'`;
 * below 2 ranks, the 2-rank entry; internode, the entries above 8 ranks only). Internode (`numNodes` > 1), DeepEP's `Config` constructor aligns
 * the RDMA ring up to a multiple of the RDMA send chunk (128 slots with chunk 12 become 132). Nothing
 * else is changed: a nearest entry DeepEP's asserts refuse on this shape (EP40's combine ring, 288
 * slots on 5 nodes) is refused by {@link resolveEpConfigs}, which says what to pass instead.
 */
export function defaultEpConfigs(numRanks: number, numSms = DEFAULT_NUM_SMS, numNodes = 1): { dispatch: EpConfig; combine: EpConfig } {
  checkInt(numRanks, 'numRanks', 1);
  checkInt(numSms, 'numSms', 2);
  checkInt(numNodes, 'numNodes', 1, numRanks);
  // Internode shapes take internode entries: DeepEP's internode kernels need more than one node of
  // 8 GPUs, so the entries up to 8 ranks are intranode configs (this matters only for reduced shapes
  // of fewer than 8 GPUs per node, which then take the 16-rank entry, marked nearest).
  const table = numNodes > 1 ? DEFAULTS.filter((d) => d[0] > NUM_MAX_NVL_PEERS) : DEFAULTS;
  let pick = table[0]!;
  for (const d of table) if (d[0] <= numRanks) pick = d;
  const exact = pick[0] === numRanks;
  const mk = ([nvlChunk, nvlBuffer, rdmaChunk, rdmaBuffer]: Tuple): EpConfig => {
    const c: EpConfig = {
      numSms, nvlChunk, nvlBuffer, rdmaChunk,
      rdmaBuffer: numNodes > 1 ? Math.ceil(rdmaBuffer / rdmaChunk) * rdmaChunk : rdmaBuffer,
      source: exact ? 'deepep' : 'nearest',
    };
    if (!exact) c.entryRanks = pick[0];
    return c;
  };
  return { dispatch: mk(pick[1]), combine: mk(pick[2]) };
}

/**
 * The configs a layer runs with: the defaults for the shape, overridden field by field by what the
 * caller gives (then `source: 'given'`), each checked against DeepEP's asserts. A nearest entry
 * (a rank count DeepEP has no config for) that an assert refuses on this shape is refused, not
 * resized: the error names the assert, the values, the entry taken, and a ring size that passes
 * (`data.suggest`) with the ways to give it.
 */
export function resolveEpConfigs(
  numRanks: number, numNodes: number, numSms = DEFAULT_NUM_SMS, given: { dispatch?: Partial<EpConfig>; combine?: Partial<EpConfig> } = {},
): { dispatch: EpConfig; combine: EpConfig } {
  const d = defaultEpConfigs(numRanks, numSms, numNodes);
  checkObject(given, 'given');
  if (given.dispatch !== undefined) checkObject(given.dispatch, 'given.dispatch');
  if (given.combine !== undefined) checkObject(given.combine, 'given.combine');
  const merge = (base: EpConfig, g: Partial<EpConfig> | undefined): EpConfig => {
    const keys = g ? (['numSms', 'nvlChunk', 'nvlBuffer', 'rdmaChunk', 'rdmaBuffer'] as const).filter((k) => g[k] !== undefined && g[k] !== base[k]) : [];
    if (keys.length === 0) return g?.source ? { ...base, source: g.source } : base;
    const { entryRanks: _e, ...rest } = base;
    return { ...rest, ...g, source: g!.source ?? 'given' };
  };
  const check = (c: EpConfig, which: 'dispatch' | 'combine'): EpConfig => {
    try {
      return validateEpConfig(c, numNodes, which);
    } catch (e) {
      if (c.source !== 'nearest' || !isExpertmeshError(e) || e.code !== 'E_CONFIG') throw e;
      throw nearestRefused(e, c, numRanks, numNodes, which);
    }
  };
  return { dispatch: check(merge(d.dispatch, given.dispatch), 'dispatch'), combine: check(merge(d.combine, given.combine), 'combine') };
}

/**
 * A nearest entry refused by one of DeepEP's asserts: the same error, saying which entry was taken
 * as it is and how to give a config that passes (the NVLink ring sizes nearest to the entry's that
 * pass every assert with its other values, if any does).
 */
function nearestRefused(e: ExpertmeshError, c: EpConfig, numRanks: number, numNodes: number, which: 'dispatch' | 'combine'): ExpertmeshError {
  const passes = (nvlBuffer: number) => {
    try {
      validateEpConfig({ ...c, nvlBuffer }, numNodes, which);
      return true;
    } catch {
      return false;
    }
  };
  let up = 0;
  let down = 0;
  for (let b = c.nvlBuffer + 1; b <= 4 * c.nvlBuffer && !up; b++) if (passes(b)) up = b;
  for (let b = c.nvlBuffer - 1; b > c.nvlChunk && !down; b--) if (passes(b)) down = b;
  const key = `${which}Config`;
  const entry = `DeepEP has no default config for ${numRanks} ranks; this is EP${c.entryRanks}'s entry (nvl ${c.nvlChunk}/${c.nvlBuffer}, rdma ${c.rdmaChunk}/${c.rdmaBuffer}) taken as it is (expertmesh does not resize DeepEP's entries)`;
  const b = up || down;
  const how = b
    ? `; pass a ${which} config that passes, e.g. NVLink ring ${up ? up : down}${up && down ? ` (or ${down})` : ''} slots: ` +
      `createExpertParallel(cluster, { ${key}: { nvlBuffer: ${b} } }), "${key}": { "nvlBuffer": ${b} } in a scenario, or bench deepep --${which}-config '{"nvlBuffer":${b}}'`
    : `; no NVLink ring size passes with the entry's other values: pass a full ${which} config (${key})`;
  return new ExpertmeshError('E_CONFIG', `${e.message}. ${entry}${how}`, { ...e.data, ranks: numRanks, entryRanks: c.entryRanks, ...(b ? { suggest: { nvlBuffer: b } } : {}) });
}

/** One of DeepEP's host asserts that failed: throws `E_CONFIG` naming it, the values and the rule. */
function refuse(where: string, field: string, assert: string, values: string, why: string, data: Record<string, unknown>): never {
  fail('E_CONFIG', `${where}: DeepEP's assert \`${assert}\` fails: ${values}; ${why}`, { field: `${where}.${field}`, assert, ...data });
}

/**
 * Check a config against DeepEP's host asserts; throws `E_CONFIG` naming the violated assert, the
 * config values and DeepEP's rule. `Config`'s own asserts apply to both kernels (the RDMA ones
 * internode only, where the RDMA ring exists). Internode dispatch shares one NVLink ring per
 * (channel, peer) among all source nodes, so it has no per-node asserts; internode combine
 * partitions its ring per source node and carries DeepEP's combine asserts.
 * @param which 'dispatch' or 'combine', for the message.
 */
export function validateEpConfig(c: EpConfig, numNodes: number, which: string): EpConfig {
  if (typeof which !== 'string') which = 'ep';
  if (!Number.isSafeInteger(numNodes) || numNodes < 1) fail('E_CONFIG', `validateEpConfig: numNodes must be an integer >= 1, got ${showValue(numNodes)}`, { field: 'numNodes', value: numNodes });
  const where = `${which}Config`;
  if (typeof c !== 'object' || c === null) fail('E_CONFIG', `${where} must be an object, got ${showValue(c)}`, { field: where, value: c });
  for (const f of ['numSms', 'nvlChunk', 'nvlBuffer', 'rdmaChunk', 'rdmaBuffer'] as const) {
    const v = c?.[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      fail('E_CONFIG', `${where}.${f} must be a positive integer, got ${showValue(v)}`, { field: `${where}.${f}`, value: v });
  }
  if (c.numSms % 2 !== 0) fail('E_CONFIG', `${where}.numSms must be even (two SMs per channel), got ${c.numSms}`, { field: `${where}.numSms`, value: c.numSms, assert: 'num_sms % 2 == 0' });
  if (c.nvlChunk >= c.nvlBuffer)
    refuse(where, 'nvlChunk', 'num_max_nvl_chunked_send_tokens < num_max_nvl_chunked_recv_tokens', `NVLink send chunk (${c.nvlChunk}) vs NVLink receive ring (${c.nvlBuffer})`,
      'the send chunk must be smaller than the NVLink receive ring, or senders wait forever', { value: c.nvlChunk, nvlBuffer: c.nvlBuffer });
  if (numNodes <= 1) return c;
  if (c.rdmaBuffer % c.rdmaChunk !== 0)
    refuse(where, 'rdmaBuffer', 'num_max_rdma_chunked_recv_tokens == align(num_max_rdma_chunked_recv_tokens, num_max_rdma_chunked_send_tokens)',
      `RDMA receive ring (${c.rdmaBuffer}) is not a multiple of the RDMA send chunk (${c.rdmaChunk})`, "DeepEP's Config aligns the RDMA ring up to a multiple of the send chunk", { value: c.rdmaBuffer, rdmaChunk: c.rdmaChunk });
  if (c.rdmaChunk * 2 > c.rdmaBuffer)
    refuse(where, 'rdmaChunk', 'num_max_rdma_chunked_send_tokens <= num_max_rdma_chunked_recv_tokens / 2', `RDMA send chunk (${c.rdmaChunk}), RDMA receive ring (${c.rdmaBuffer})`,
      'the RDMA send chunk must be at most half the RDMA receive ring: heads return lazily, a chunk at a time', { value: c.rdmaChunk, rdmaBuffer: c.rdmaBuffer });
  if (which !== 'combine') return c;
  const N = numNodes;
  const wpf = combineWarpsPerForwarder(N);
  const rule = `warps_per_forwarder = max(${COMBINE_FORWARDER_WARPS} / num_nodes, 1) = ${wpf}`;
  if (N > COMBINE_FORWARDER_WARPS)
    refuse(where, 'nvlBuffer', 'num_rdma_ranks <= kNumCombineForwarderWarps', `${N} nodes > ${COMBINE_FORWARDER_WARPS}`,
      `DeepEP's internode combine has ${COMBINE_FORWARDER_WARPS} forwarder warps per channel, at least one per source node (the normal-kernel combine runs on at most 24 nodes; the low-latency kernels have no such limit)`, { numNodes: N });
  if (N * wpf <= NUM_MAX_NVL_PEERS)
    refuse(where, 'nvlBuffer', 'num_forwarder_warps > NUM_MAX_NVL_PEERS', `${N} nodes x ${wpf} warps = ${N * wpf} <= ${NUM_MAX_NVL_PEERS}`, rule, { numNodes: N, warpsPerForwarder: wpf });
  if (c.nvlBuffer % N !== 0)
    refuse(where, 'nvlBuffer', 'num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0', `NVLink receive ring (${c.nvlBuffer}) % ${N} nodes = ${c.nvlBuffer % N}`,
      "combine partitions the NVLink ring per source node (separate buffers per RDMA source, to avoid deadlocks)", { value: c.nvlBuffer, numNodes: N });
  const share = c.nvlBuffer / N;
  if (share <= Math.max(c.rdmaChunk, c.nvlChunk))
    refuse(where, 'nvlBuffer', 'num_max_nvl_chunked_recv_tokens / num_rdma_ranks > max(num_max_rdma_chunked_send_tokens, num_max_nvl_chunked_send_tokens)',
      `each node's share of the NVLink ring (${c.nvlBuffer} / ${N} = ${share}) vs RDMA send chunk (${c.rdmaChunk}) and NVLink send chunk (${c.nvlChunk})`,
      "each node's share must be larger than both send chunks", { value: c.nvlBuffer, share, rdmaChunk: c.rdmaChunk, nvlChunk: c.nvlChunk });
  if (share - wpf < c.nvlChunk)
    refuse(where, 'nvlBuffer', 'num_max_nvl_chunked_recv_tokens / num_rdma_ranks - warps_per_forwarder >= num_max_nvl_chunked_send_tokens',
      `each node's share of the NVLink ring (${share}) - ${wpf} forwarder warps < NVLink send chunk (${c.nvlChunk})`, rule, { value: c.nvlBuffer, share, nvlChunk: c.nvlChunk, warpsPerForwarder: wpf });
  if (c.rdmaChunk < wpf)
    refuse(where, 'rdmaChunk', 'num_max_rdma_chunked_send_tokens >= warps_per_forwarder', `RDMA send chunk (${c.rdmaChunk}) < ${wpf} forwarder warps`, rule, { value: c.rdmaChunk, warpsPerForwarder: wpf });
  return c;
}
