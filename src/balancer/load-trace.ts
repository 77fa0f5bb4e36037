/**
 * @module
 * Load traces: per-expert token counts recorded by a serving stack, as JSON or CSV records of
 * `(layer, expert, tokens)`, turned into the `[layers][experts]` matrix the planner takes.
 *
 * JSON: `{ "numLayers": 61, "numExperts": 256, "records": [{ "layer": 0, "expert": 3, "tokens": 120 }] }`
 * (the two sizes are optional; a bare array of records is accepted too).
 * CSV: a `layer,expert,tokens` header then one record per line; blank lines and `#` lines are skipped.
 * Records of the same (layer, expert) add up, so steps can simply be concatenated; absent ones are 0.
 */
import { fail, showValue } from '../errors.js';
import { requireLoad, requireLoadMatrix } from './validate.js';
import { checkAlloc, checkArray, checkObject, checkString } from '../validate.js';

/** One trace record. */
export interface LoadRecord {
  layer: number;
  expert: number;
  tokens: number;
}

/** Matrix size; missing sizes are taken from the largest ids in the records. */
export interface LoadTraceShape {
  numLayers?: number;
  numExperts?: number;
}

function requireId(name: string, v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail('E_ARGUMENT', `${where}: ${name} must be an integer >= 0, got ${showValue(v)}`, { argument: name, value: v, where });
  }
  return v;
}

/**
 * Sum records into a `[layers][experts]` load matrix.
 * @throws ExpertmeshError `E_ARGUMENT` for a bad id or an id beyond a given size; `E_NUMERIC` for a
 * negative or non-finite token count.
 * @public
 */
export function loadsFromRecords(records: readonly LoadRecord[], shape: LoadTraceShape = {}): number[][] {
  checkArray(records, 'records');
  checkObject(shape, 'shape');
  let L = 0;
  let E = 0;
  Array.from(records).forEach((r, i) => {
    const where = `record ${i}`;
    checkObject(r, where);
    L = Math.max(L, requireId('layer', r.layer, where) + 1);
    E = Math.max(E, requireId('expert', r.expert, where) + 1);
    requireLoad(`${where}: tokens`, r.tokens);
  });
  const numLayers = shape.numLayers === undefined ? L : requireId('numLayers', shape.numLayers, 'shape');
  const numExperts = shape.numExperts === undefined ? E : requireId('numExperts', shape.numExperts, 'shape');
  if (L > numLayers || E > numExperts) {
    fail('E_ARGUMENT', `records reach layer ${L - 1} / expert ${E - 1}, beyond numLayers ${numLayers} / numExperts ${numExperts}`, { argument: 'records' });
  }
  if (numLayers === 0 || numExperts === 0) fail('E_ARGUMENT', 'a load trace needs at least one layer and one expert', { argument: 'records' });
  checkAlloc('loadsFromRecords', 'the load matrix', numLayers * numExperts * 8, 'numLayers or numExperts', true);
  const m = Array.from({ length: numLayers }, () => new Array<number>(numExperts).fill(0));
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    m[r.layer]![r.expert]! += r.tokens;
  }
  return m;
}

/**
 * Parse a JSON load trace.
 * @example
 * ```ts
 * import { loadTraceFromJson } from 'expertmesh';
 * console.log(loadTraceFromJson('[{"layer":0,"expert":1,"tokens":5}]')); // [[0, 5]]
 * ```
 * @public
 */
export function loadTraceFromJson(text: string, shape: LoadTraceShape = {}): number[][] {
  checkString(text, 'text', true);
  checkObject(shape, 'shape');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail('E_ARGUMENT', `load trace is not valid JSON: ${(e as Error).message}`, { argument: 'text' });
  }
  const obj = (Array.isArray(doc) ? { records: doc } : doc) as { records?: unknown; numLayers?: number; numExperts?: number } | null;
  if (obj === null || typeof obj !== 'object' || !Array.isArray(obj.records)) {
    fail('E_ARGUMENT', 'load trace JSON must be an array of records or an object with a "records" array', { argument: 'text' });
  }
  const merged: LoadTraceShape = {};
  const numLayers = shape.numLayers ?? obj.numLayers;
  const numExperts = shape.numExperts ?? obj.numExperts;
  if (numLayers !== undefined) merged.numLayers = requireId('numLayers', numLayers, 'load trace');
  if (numExperts !== undefined) merged.numExperts = requireId('numExperts', numExperts, 'load trace');
  return loadsFromRecords(obj.records as LoadRecord[], merged);
}

/**
 * Parse a CSV load trace (`layer,expert,tokens` header).
 * @example
 * ```ts
 * import { loadTraceFromCsv } from 'expertmesh';
 * console.log(loadTraceFromCsv('layer,expert,tokens\n0,0,3\n0,1,4\n0,0,1\n')); // [[4, 4]]
 * ```
 * @public
 */
export function loadTraceFromCsv(text: string, shape: LoadTraceShape = {}): number[][] {
  checkString(text, 'text', true);
  const lines = text.split(/\r?\n/).map((l, i) => ({ line: l.trim(), n: i + 1 })).filter((l) => l.line !== '' && !l.line.startsWith('#'));
  const header = lines.shift();
  const cols = header?.line.split(',').map((c) => c.trim().toLowerCase());
  if (cols?.join(',') !== 'layer,expert,tokens') {
    fail('E_ARGUMENT', `load trace CSV must start with the header "layer,expert,tokens", got ${JSON.stringify(header?.line ?? '')}`, { argument: 'text' });
  }
  const records = lines.map(({ line, n }): LoadRecord => {
    const f = line.split(',').map((x) => x.trim());
    if (f.length !== 3) fail('E_ARGUMENT', `CSV line ${n} has ${f.length} fields, expected 3: ${JSON.stringify(line)}`, { argument: 'text', line: n });
    const num = (s: string): number => (s === '' ? NaN : Number(s));
    return { layer: num(f[0]!), expert: num(f[1]!), tokens: num(f[2]!) };
  });
  return loadsFromRecords(records, shape);
}

/** Non-zero records of a load matrix, layer-major. */
function toRecords(weight: readonly (readonly number[])[]): LoadRecord[] {
  requireLoadMatrix('weight', weight);
  const out: LoadRecord[] = [];
  weight.forEach((row, layer) => row.forEach((tokens, expert) => tokens !== 0 && out.push({ layer, expert, tokens })));
  return out;
}

/**
 * Write a load matrix as a JSON trace (sizes included, zero entries left out).
 * @public
 */
export function loadTraceToJson(weight: readonly (readonly number[])[]): string {
  const records = toRecords(weight);
  return JSON.stringify({ numLayers: weight.length, numExperts: weight[0]!.length, records });
}

/**
 * Write a load matrix as a CSV trace (zero entries left out; pass the sizes back when parsing).
 * @public
 */
export function loadTraceToCsv(weight: readonly (readonly number[])[]): string {
  return ['layer,expert,tokens', ...toRecords(weight).map((r) => `${r.layer},${r.expert},${r.tokens}`)].join('\n') + '\n';
}
