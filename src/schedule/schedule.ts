/**
 * @module
 * Schedules as data: which kernels of which micro-batch and layer run on which stream, in which
 * order, waiting for which others. A schedule says nothing about time; the stream machines run it
 * (`run-schedule.ts`) and the compute model and EP kernels time it.
 *
 * Two built-in schedules:
 * - `serial`: one micro-batch, one stream on every SM, one kernel at a time, in lockstep across
 *   the ranks (what the kernel benchmarks measure).
 * - `two-batch-overlap`: DeepSeek's prefill (deepseek-v3-workloads.md §3): two micro-batches, a
 *   compute stream and a communication stream on an SM partition, per layer compute ATTN(mb1),
 *   SHARED(mb0), ATTN(mb0), MLP(mb1), MLP(mb0), SHARED(mb1) against communication COMBINE(mb0),
 *   DISPATCH(mb1), DISPATCH(mb0), COMBINE(mb1). mb0's combine and shared expert close a layer
 *   during the next one's ATTN(mb1), so mb0 runs half a layer behind mb1.
 */
import { fail, showValue } from '../errors.js';
import { checkAlloc, checkArray, checkInt, checkObject, checkOneOf, checkString } from '../validate.js';

/** The kernels of one MoE layer. ATTN covers the attention block up to the FFN norm. */
export const KERNEL_KINDS = ['attn', 'gate', 'shared', 'dispatch', 'experts', 'combine'] as const;
export type KernelKind = (typeof KERNEL_KINDS)[number];

/** Kernels that move data between ranks (run on the communication SMs). */
export const COMM_KINDS: ReadonlySet<KernelKind> = new Set(['dispatch', 'combine']);

/** One kernel of a schedule. */
export interface ScheduleKernel {
  /** Unique id, also the event its completion records, e.g. `L1.mb0.dispatch`. */
  id: string;
  kind: KernelKind;
  layer: number;
  mb: number;
  /** Index of the stream it runs on. */
  stream: number;
  /** Ids of the kernels (any stream) that must complete before it starts. */
  waits: string[];
}

/** A schedule: streams with their SMs, and kernels listed in each stream's launch order. */
export interface Schedule {
  kind: string;
  streams: Array<{ name: string; sms: number }>;
  /** Every kernel; those of one stream launch in the order they appear here. */
  kernels: ScheduleKernel[];
  microBatches: number;
  layers: number;
  /**
   * Kernels start together on every rank, each once the previous one has ended on all of them and
   * its last transfers have landed: the kernel-by-kernel runs of the benchmarks (and of scenarios
   * without a schedule), barrier idle time included.
   */
  lockstep?: boolean;
}

/** The kinds of schedule a scenario can name. */
export type ScheduleKind = 'serial' | 'two-batch-overlap';

export const kernelId = (layer: number, mb: number, kind: KernelKind): string =>
  `L${checkInt(layer, 'layer')}.mb${checkInt(mb, 'mb')}.${checkOneOf(kind, 'kind', KERNEL_KINDS)}`;

/** Check a schedule's layer count and SMs, and that its kernels fit in memory. */
function checkLayers(layers: number, smCount: number): void {
  checkInt(layers, 'schedule.layers', 1, Number.MAX_SAFE_INTEGER, 'E_CONFIG');
  checkInt(smCount, 'smCount', 1, Number.MAX_SAFE_INTEGER, 'E_CONFIG');
  checkAlloc('schedule', `the kernels of ${layers} layers`, layers * 12 * KERNEL_BYTES, 'schedule.layers', true);
}

/** Heap bytes of one scheduled kernel (its record, id and waits), for the allocation check. */
const KERNEL_BYTES = 400;

/** What a kernel needs from its own micro-batch (data dependencies, any stream). */
function dataWaits(layer: number, mb: number, kind: KernelKind): string[] {
  const id = (k: KernelKind, l = layer) => kernelId(l, mb, k);
  switch (kind) {
    case 'attn':
      return layer > 0 ? [id('combine', layer - 1), id('shared', layer - 1)] : [];
    case 'gate':
      return [id('attn')];
    case 'shared':
      return [id('attn')];
    case 'dispatch':
      return [id('gate')];
    case 'experts':
      return [id('dispatch')];
    case 'combine':
      return [id('experts')];
  }
}

const kernel = (layer: number, mb: number, kind: KernelKind, stream: number): ScheduleKernel =>
  ({ id: kernelId(layer, mb, kind), kind, layer, mb, stream, waits: dataWaits(layer, mb, kind) });

/**
 * `layers` MoE layers, one micro-batch, one stream on all `smCount` SMs, kernels one at a time in
 * lockstep across the cluster (as the kernel benchmarks run them).
 */
export function serialSchedule(layers: number, smCount: number): Schedule {
  checkLayers(layers, smCount);
  const kernels: ScheduleKernel[] = [];
  for (let l = 0; l < layers; l++)
    for (const k of ['attn', 'gate', 'dispatch', 'experts', 'shared', 'combine'] as const) kernels.push(kernel(l, 0, k, 0));
  return { kind: 'serial', streams: [{ name: 'gpu', sms: smCount }], kernels, microBatches: 1, layers, lockstep: true };
}

/** DeepSeek's prefill two-micro-batch overlap over `layers` MoE layers (see the module comment). */
export function twoBatchOverlapSchedule(layers: number, smCount: number, commSms: number): Schedule {
  checkLayers(layers, smCount);
  if (!Number.isInteger(commSms) || commSms < 2 || commSms >= smCount)
    fail('E_CONFIG', `schedule.commSms must be an integer in [2, ${smCount - 1}], got ${showValue(commSms)}`, { field: 'schedule.commSms', value: commSms });
  const C = 0, M = 1;
  const kernels: ScheduleKernel[] = [];
  for (let l = 0; l < layers; l++) {
    // Compute: ATTN(mb1), SHARED(mb0) of the previous layer, ATTN(mb0), MLP(mb1), MLP(mb0), SHARED(mb1).
    kernels.push(kernel(l, 1, 'attn', C), kernel(l, 1, 'gate', C));
    if (l > 0) kernels.push(kernel(l - 1, 0, 'shared', C));
    kernels.push(kernel(l, 0, 'attn', C), kernel(l, 0, 'gate', C));
    kernels.push(kernel(l, 1, 'experts', C), kernel(l, 0, 'experts', C), kernel(l, 1, 'shared', C));
    // Communication: COMBINE(mb0) of the previous layer, DISPATCH(mb1), DISPATCH(mb0), COMBINE(mb1).
    if (l > 0) kernels.push(kernel(l - 1, 0, 'combine', M));
    kernels.push(kernel(l, 1, 'dispatch', M), kernel(l, 0, 'dispatch', M), kernel(l, 1, 'combine', M));
  }
  kernels.push(kernel(layers - 1, 0, 'shared', C), kernel(layers - 1, 0, 'combine', M));
  return {
    kind: 'two-batch-overlap',
    streams: [{ name: 'compute', sms: smCount - commSms }, { name: 'comm', sms: commSms }],
    kernels, microBatches: 2, layers,
  };
}

/** Throw unless `s` has a schedule's shape (streams, kernels with their stream, layer and micro-batch). @internal */
export function checkSchedule(s: Schedule): Schedule {
  checkObject(s, 'schedule');
  const streams = checkArray(s.streams, 'schedule.streams');
  for (let i = 0; i < streams.length; i++) {
    const st = checkObject(streams[i], `schedule.streams[${i}]`);
    checkString(st['name'], `schedule.streams[${i}].name`);
    checkInt(st['sms'], `schedule.streams[${i}].sms`, 1);
  }
  const mbs = checkInt(s.microBatches, 'schedule.microBatches', 1, 64);
  checkInt(s.layers, 'schedule.layers', 1);
  const kernels = checkArray(s.kernels, 'schedule.kernels');
  if (kernels.length === 0) fail('E_ARGUMENT', 'schedule.kernels must list at least one kernel', { argument: 'schedule.kernels' });
  for (let i = 0; i < kernels.length; i++) {
    const k = checkObject(kernels[i], `schedule.kernels[${i}]`);
    checkInt(k['stream'], `schedule.kernels[${i}].stream`, 0, streams.length - 1);
    checkInt(k['mb'], `schedule.kernels[${i}].mb`, 0, mbs - 1);
    checkInt(k['layer'], `schedule.kernels[${i}].layer`, 0);
    checkString(k['id'], `schedule.kernels[${i}].id`);
    checkArray(k['waits'], `schedule.kernels[${i}].waits`);
  }
  return s;
}

/** The built-in schedule `kind`. */
export function buildSchedule(kind: ScheduleKind, layers: number, smCount: number, commSms: number): Schedule {
  checkInt(layers, 'schedule.layers', 1, Number.MAX_SAFE_INTEGER, 'E_CONFIG');
  if (kind === 'serial') return serialSchedule(layers, smCount);
  if (kind === 'two-batch-overlap') return twoBatchOverlapSchedule(layers, smCount, commSms);
  return fail('E_CONFIG', `unknown schedule kind ${showValue(kind)} (expected 'serial' or 'two-batch-overlap')`, { field: 'schedule.kind', value: kind });
}

/** The schedule's streams with their launch queues, as the stream machine takes them. */
export function streamSpecs(s: Schedule) {
  checkSchedule(s);
  return s.streams.map((st, i) => ({
    name: st.name,
    sms: st.sms,
    launches: s.kernels.filter((k) => k.stream === i).map((k) => ({ id: k.id, waits: k.waits })),
  }));
}
