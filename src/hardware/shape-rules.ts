/**
 * @module
 * The shapes DeepEP and the NVLink fabric allow, as named rules. Every violation is an `E_CONFIG`
 * error whose message and `data.rule` name the rule, so a user can look it up (docs/errors.md).
 */
import { fail } from '../errors.js';

/** The rules, by name, with the reason each exists. */
export const SHAPE_RULES = {
  /** DeepEP copies token rows with 16-byte vector loads and stores (int4), so a row is whole 16-byte units. */
  'row-bytes-16': 'a token row must be a multiple of 16 bytes (DeepEP copies rows in 16-byte units)',
  /** DeepEP's normal kernels address at most 8 NVLink peers (NUM_MAX_NVL_PEERS = 8). */
  'deepep-nvl-peers': 'the DeepEP kernels address at most 8 GPUs per node (NUM_MAX_NVL_PEERS)',
  /** The largest NVLink domain built: an NVL72 rack, 72 GPUs on one NVLink switch fabric. */
  'nvlink-domain': 'a node (NVLink domain) has at most 72 GPUs (an NVL72 rack)',
  /** A benchmark of dispatch/combine needs a peer to send to. */
  'bench-min-ranks': 'a dispatch/combine benchmark needs at least 2 ranks',
  /** Experts are placed contiguously, the same number on every rank. */
  'experts-divisible-by-ranks': 'the routed experts must divide evenly over the ranks',
} as const;

export type ShapeRule = keyof typeof SHAPE_RULES;

/** GPUs per node the DeepEP kernels allow. */
export const DEEPEP_MAX_GPUS_PER_NODE = 8;
/** GPUs per NVLink domain (node) a cluster allows: NVL72. */
export const NVLINK_DOMAIN_MAX_GPUS = 72;

/** Throw `E_CONFIG`: `${where}: ${what}; rule '${rule}': ${reason}`. */
export function breakRule(rule: ShapeRule, where: string, what: string, data: Record<string, unknown> = {}): never {
  fail('E_CONFIG', `${where}: ${what}; rule '${rule}': ${SHAPE_RULES[rule]}`, { rule, ...data });
}

/** Bytes of one element of a dispatched row. */
const elementBytes = (dtype: 'fp8' | 'bf16') => (dtype === 'fp8' ? 1 : 2);

/** Check `hidden` makes 16-byte rows for `dtype` (and for combine's BF16 rows). */
export function checkRowBytes(hidden: number, dtype: 'fp8' | 'bf16', where: string, field = 'hidden'): void {
  for (const d of dtype === 'fp8' ? (['fp8', 'bf16'] as const) : (['bf16'] as const)) {
    const bytes = hidden * elementBytes(d);
    if (bytes % 16 !== 0)
      breakRule('row-bytes-16', where, `${field} ${hidden} makes ${d.toUpperCase()} rows of ${bytes} bytes (use a multiple of ${16 / elementBytes(d)})`, { field, value: hidden });
  }
}

/** Check the GPUs per node the DeepEP kernels can address. */
export function checkDeepepGpusPerNode(gpusPerNode: number, where: string, field = 'gpusPerNode'): void {
  if (gpusPerNode > DEEPEP_MAX_GPUS_PER_NODE)
    breakRule('deepep-nvl-peers', where, `${field} ${gpusPerNode} is over ${DEEPEP_MAX_GPUS_PER_NODE}`, { field, value: gpusPerNode });
}

/** Check experts divide over the ranks. */
export function checkExpertsDivisible(experts: number, ranks: number, where: string, field = 'numExperts'): void {
  if (experts % ranks !== 0)
    breakRule('experts-divisible-by-ranks', where, `${field} ${experts} is not divisible by the ${ranks} ranks`, { field, value: experts, ranks });
}
