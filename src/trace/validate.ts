/**
 * @module
 * `validateTrace`: checks trace events against the rules of the Trace Event Format that viewers
 * rely on. Returns the problems found (empty when the trace is valid).
 */
import { fail, showValue } from '../errors.js';
import type { TraceEvent } from './events.js';

const PHASES = new Set(['X', 'B', 'E', 'i', 'I', 'C', 's', 't', 'f', 'M', 'b', 'e', 'n']);

/**
 * Problems in `events`: missing required fields (ph, ts, pid, tid, name), negative or missing
 * durations, B/E pairs that do not match, slices of one thread that are out of order or overlap
 * without nesting, flow ids without both ends.
 * @example
 * const problems = validateTrace(JSON.parse(readFileSync('run.trace.json', 'utf8')).traceEvents);
 */
export function validateTrace(events: readonly TraceEvent[]): string[] {
  if (!Array.isArray(events as unknown)) fail('E_ARGUMENT', `validateTrace: events must be an array of trace events, got ${showValue(events)}`, { argument: 'events' });
  const problems: string[] = [];
  const slices = new Map<string, Array<[number, number]>>();
  const open = new Map<string, TraceEvent[]>();
  const flows = new Map<number, { s: number; f: number }>();
  events.forEach((e, i) => {
    const at = `event ${i} (${showValue(e, 80)})`;
    if (typeof e !== 'object' || e === null) return void problems.push(`${at}: not an object`);
    if (!PHASES.has(e.ph)) problems.push(`${at}: unknown ph ${showValue(e.ph)}`);
    if (typeof e.name !== 'string') problems.push(`${at}: name must be a string`);
    if (!Number.isInteger(e.pid)) problems.push(`${at}: pid must be an integer`);
    if (!Number.isInteger(e.tid)) problems.push(`${at}: tid must be an integer`);
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) problems.push(`${at}: ts must be a finite number`);
    // An event without integer ids has its problem already; it belongs to no thread.
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid) || typeof e.ts !== 'number') return;
    const key = `${e.pid}:${e.tid}`;
    if (e.ph === 'X') {
      if (typeof e.dur !== 'number' || !(e.dur >= 0)) problems.push(`${at}: X needs dur >= 0`);
      else (slices.get(key) ?? slices.set(key, []).get(key)!).push([e.ts, e.ts + e.dur]);
    } else if (e.ph === 'B') (open.get(key) ?? open.set(key, []).get(key)!).push(e);
    else if (e.ph === 'E') {
      const b = open.get(key)?.pop();
      if (!b) problems.push(`${at}: E without a matching B on thread ${key}`);
      else {
        if (e.ts < b.ts) problems.push(`${at}: E before its B`);
        (slices.get(key) ?? slices.set(key, []).get(key)!).push([b.ts, e.ts]);
      }
    } else if (e.ph === 's' || e.ph === 'f') {
      if (typeof e.id !== 'number') problems.push(`${at}: flow event needs an id`);
      else {
        const f = flows.get(e.id) ?? { s: 0, f: 0 };
        f[e.ph]++;
        flows.set(e.id, f);
      }
    } else if (e.ph === 'C' && (typeof e.args !== 'object' || e.args === null)) problems.push(`${at}: counter needs args`);
  });
  for (const [key, stack] of open) if (stack.length > 0) problems.push(`thread ${key}: ${stack.length} B event(s) never ended`);
  for (const [key, list] of slices) {
    // Slices of a thread must form a stack: sorted by start (longer first on ties), each one either
    // inside the enclosing open slice or after it.
    const sorted = [...list].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const stack: Array<[number, number]> = [];
    for (const s of sorted) {
      // The same 1e-9 us tolerance as the overlap check: back-to-back slices whose times were summed
      // in different orders may touch with a rounding error of one ulp.
      while (stack.length > 0 && stack[stack.length - 1]![1] <= s[0] + 1e-9) stack.pop();
      const top = stack[stack.length - 1];
      if (top && s[1] > top[1] + 1e-9) {
        problems.push(`thread ${key}: slice [${s[0]}, ${s[1]}] overlaps [${top[0]}, ${top[1]}] without nesting`);
        break;
      }
      stack.push(s);
    }
  }
  for (const [id, f] of flows) if (f.s !== 1 || f.f !== 1) problems.push(`flow id ${id}: ${f.s} start(s) and ${f.f} end(s); expected 1 and 1`);
  return problems;
}
