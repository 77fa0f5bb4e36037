/**
 * @module
 * The (token, logical expert) pairs of a routed batch, each with the replica slots it may use under
 * node-limited routing. Pairs that may use the same slots form a class; classes that may use the
 * same GPUs form a group (the unit the min-max solver balances).
 */
import { fail, showValue } from '../errors.js';
import { checkLayout, gpuNodeOf, slotGpuOf, type ReplicaLayout } from './layout.js';
import { checkAlloc, checkArray } from '../validate.js';

/**
 * The nodes each token may reach. `'primary'` (default): the nodes of the rank-0 replicas of the
 * token's experts, i.e. the nodes node-limited routing chose when it routed on the primary placement;
 * `'any'`: no restriction; or an explicit node list per token (the gate's node choice).
 */
export type TokenNodes = 'primary' | 'any' | readonly (readonly number[])[];

/** A class of interchangeable pairs. @internal */
export interface PairClass {
  expert: number;
  /** Allowed slots, in the layout's replica order. */
  slots: number[];
  /** Group id (same allowed GPU set). */
  group: number;
}

/** Pairs of a batch with their classes and groups. @internal */
export interface PairSet {
  numTokens: number;
  topk: number;
  /** Class per (token * topk + k), -1 for an empty entry. */
  pairClass: Int32Array;
  classes: PairClass[];
  /** Distinct GPUs per group, ascending. */
  groupGpus: number[][];
}

function checkExpert(layout: ReplicaLayout, t: number, k: number, e: number): void {
  if (!Number.isInteger(e) || e < -1 || e >= layout.log2phy.length) {
    fail('E_ARGUMENT', `topkIdx[${t}][${k}] = ${showValue(e)} is not a logical expert in [-1, ${layout.log2phy.length})`, {
      argument: 'topkIdx',
      token: t,
      value: e,
    });
  }
}

/**
 * Collect the pairs of `topkIdx` (`-1` entries are skipped) and their allowed slots.
 * @param active - Optional mask of slots allowed to serve (dynamic redundancy).
 * @internal
 */
export function collectPairs(
  topkIdx: readonly (readonly number[])[],
  layout: ReplicaLayout,
  tokenNodes: TokenNodes = 'primary',
  active?: readonly boolean[],
): PairSet {
  checkLayout(layout);
  checkArray(topkIdx, 'topkIdx');
  const T = topkIdx.length;
  const K = T === 0 ? 0 : checkArray(topkIdx[0], 'topkIdx[0]').length;
  if (tokenNodes !== 'primary' && tokenNodes !== 'any') checkArray(tokenNodes, "tokenNodes (an array of node lists per token, 'primary' or 'any')");
  checkAlloc('collectPairs', 'the pair table', T * K * 4 + layout.numNodes * 4, 'the tokens of topkIdx');
  const pairClass = new Int32Array(T * K).fill(-1);
  const classes: PairClass[] = [];
  const classByKey = new Map<string, number>();
  const groupByKey = new Map<string, number>();
  const groupGpus: number[][] = [];
  const stamp = new Int32Array(layout.numNodes).fill(-1);
  const fullClass: Array<number | undefined> = [];
  const classOf = (expert: number, slots: number[]): number => {
    const key = `${expert}:${slots.join(',')}`;
    let id = classByKey.get(key);
    if (id === undefined) {
      const gpus = [...new Set(slots.map((s) => slotGpuOf(layout, s)))].sort((a, b) => a - b);
      const gkey = gpus.join(',');
      let group = groupByKey.get(gkey);
      if (group === undefined) groupByKey.set(gkey, (group = groupGpus.push(gpus) - 1));
      classByKey.set(key, (id = classes.push({ expert, slots, group }) - 1));
    }
    return id;
  };
  for (let t = 0; t < T; t++) {
    const row = checkArray(topkIdx[t], `topkIdx[${t}]`) as readonly number[];
    if (row.length !== K) fail('E_ARGUMENT', `topkIdx[${t}] has length ${row.length}, expected ${K}`, { argument: 'topkIdx', token: t });
    for (let k = 0; k < K; k++) checkExpert(layout, t, k, row[k]!);
    // Mark the token's reachable nodes with stamp t.
    if (tokenNodes === 'primary') {
      for (const e of row) if (e >= 0) stamp[gpuNodeOf(layout, slotGpuOf(layout, layout.log2phy[e]![0]!))] = t;
    } else if (tokenNodes !== 'any') {
      for (const n of checkArray(tokenNodes[t] ?? [], `tokenNodes[${t}]`) as readonly number[]) if (n >= 0 && n < layout.numNodes) stamp[n] = t;
    }
    for (let k = 0; k < K; k++) {
      const e = row[k]!;
      if (e < 0) continue;
      const ok = (s: number): boolean =>
        (active === undefined || active[s] === true) && (tokenNodes === 'any' || stamp[gpuNodeOf(layout, slotGpuOf(layout, s))] === t);
      const all = layout.log2phy[e]!;
      // Most pairs may use every replica: reuse one class per expert without building a key.
      if (all.every(ok)) {
        pairClass[t * K + k] = fullClass[e] ??= classOf(e, all.slice());
        continue;
      }
      const slots = all.filter(ok);
      if (slots.length === 0) {
        fail('E_ROUTING', `token ${t} cannot reach any ${active ? 'active ' : ''}replica of expert ${e} on its nodes`, {
          argument: 'tokenNodes',
          token: t,
          expert: e,
        });
      }
      pairClass[t * K + k] = classOf(e, slots);
    }
  }
  return { numTokens: T, topk: K, pairClass, classes, groupGpus };
}
