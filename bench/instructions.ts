/**
 * Instructions, simulated cache misses and branch mispredictions per JavaScript function, from a
 * run under `valgrind --tool=callgrind --dump-instr=yes --cache-sim=yes` (or `--branch-sim=yes`,
 * or both) with V8 writing its code map
 * (`node --perf-basic-prof`): callgrind counts per machine-code address, and the map names the
 * JavaScript function (and its tier: `*` optimised, `^` baseline, `~` interpreted) each JIT address
 * belongs to. The counts are the same whatever else the machine runs, which CPU time on a shared
 * 2-core machine is not (docs/runtime.md, "Instructions per event").
 *
 *   valgrind --tool=callgrind --dump-instr=yes --cache-sim=yes --LL=1048576,16,64 --callgrind-out-file=cg.out \
 *     node --single-threaded --perf-basic-prof --no-compact-code-space dist/cli/main.js bench deepep ...
 *   npx tsx bench/instructions.ts profile cg.out /tmp/perf-PID.map [events] [rows]
 *   npx tsx bench/instructions.ts diff a.out a.map eventsA b.out b.map eventsB [rows]
 *
 * `diff` divides the difference of two runs by the difference of their events: the cost of one
 * more event, without start-up, compilation and whatever else both runs share (work that grows
 * with the run's size but is not events, such as drawing the inputs, is in it too). Code freed
 * during the run (a function deoptimised, or no longer used) can leave its addresses to later
 * code: such an address is named by the map's last entry there, so a cold function's name can
 * carry a freed hot one's cost (at EP16, the inputs' `deepepTopk` shows as `addEventListener`).
 * Single runs move by a few percent (the collector's marking runs at other moments).
 */
import { readFileSync } from 'node:fs';

/**
 * Per function: the counts of callgrind's events, by the names its `events:` line gives them: `Ir`
 * (instructions); with `--cache-sim=yes`, `D1mr`/`D1mw` (D1 read and write misses) and `DLmr`/`DLmw`
 * (last-level misses: run with `--LL=1048576,16,64` to make the last level one core's 1 MB L2, whose
 * misses are the loads that wait for the shared L3 or memory); with `--branch-sim=yes`, `Bcm` and
 * `Bim` (mispredicted conditional branches and indirect jumps).
 */
export type Cost = Record<string, number>;

/** The columns printed, in this order, where the profile has them. */
const SHOWN = ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw', 'Bc', 'Bcm', 'Bim'];

interface CodeRange {
  start: number;
  size: number;
  name: string;
}

/** V8's perf map (`start size name` per line, hexadecimal), sorted by start. */
export function parsePerfMap(text: string): CodeRange[] {
  const out: CodeRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) out.push({ start: parseInt(m[1]!, 16), size: parseInt(m[2]!, 16), name: m[3]! });
  }
  return out.sort((a, b) => a.start - b.start);
}

function lookup(map: CodeRange[], addr: number): string | null {
  let lo = 0, hi = map.length - 1, at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid]!.start <= addr) { at = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return at >= 0 && addr < map[at]!.start + map[at]!.size ? map[at]!.name : null;
}

/**
 * Self cost by function of a callgrind profile written with `--dump-instr=yes` (positions
 * `instr line`, events starting `Ir Dr Dw I1mr D1mr D1mw`). An address in the map is named by it
 * (JIT code); any other by callgrind's own object and function names. A call's inclusive cost
 * (the line after `calls=`) is not self cost and is skipped.
 */
export function selfCosts(callgrind: string, map: CodeRange[]): Map<string, Cost> {
  const names = new Map<string, string>();
  const named = (spec: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1]!, m[2]);
    return names.get(m[1]!) ?? spec;
  };
  const costs = new Map<string, Cost>();
  let events: string[] = [];
  let addr = 0, fn = '', ob = '', afterCall = false;
  for (const line of callgrind.split('\n')) {
    if (line.startsWith('events:')) { events = line.slice(7).trim().split(/\s+/); continue; }
    if (line.startsWith('fn=')) { fn = named(line.slice(3)); continue; }
    if (line.startsWith('ob=')) { ob = named(line.slice(3)); continue; }
    if (line.startsWith('cfn=') || line.startsWith('cob=')) { named(line.slice(4)); continue; }
    if (line.startsWith('calls=')) { afterCall = true; continue; }
    const c = line.charCodeAt(0);
    if (c !== 48 && c !== 43 && c !== 45 && c !== 42) continue; // '0x..', '+', '-', '*'
    const f = line.split(' ');
    const a = f[0]!;
    if (a.startsWith('0x')) addr = parseInt(a, 16);
    else if (a[0] === '+') addr += parseInt(a.slice(1), 16);
    else if (a[0] === '-') addr -= parseInt(a.slice(1), 16);
    if (afterCall) { afterCall = false; continue; }
    const name = lookup(map, addr) ?? `${ob.split('/').pop()} ${fn}`;
    let e = costs.get(name);
    if (!e) costs.set(name, (e = {}));
    // Positions are `instr line`, then one count per event (trailing zeros left out).
    for (let i = 0; i < events.length; i++) e[events[i]!] = (e[events[i]!] ?? 0) + Number(f[2 + i] ?? 0);
  }
  return costs;
}

/** Cost per event of one more event: (b - a) / (eventsB - eventsA), by function. */
export function perEventDiff(a: Map<string, Cost>, eventsA: number, b: Map<string, Cost>, eventsB: number): Map<string, Cost> {
  const d = eventsB - eventsA;
  const out = new Map<string, Cost>();
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k) ?? {}, y = b.get(k) ?? {};
    const e: Cost = {};
    for (const n of new Set([...Object.keys(x), ...Object.keys(y)])) e[n] = ((y[n] ?? 0) - (x[n] ?? 0)) / d;
    out.set(k, e);
  }
  return out;
}

function print(costs: Map<string, Cost>, per: number, rows: number, perEvent: boolean): void {
  const total: Cost = {};
  for (const c of costs.values()) for (const [n, v] of Object.entries(c)) total[n] = (total[n] ?? 0) + v;
  const cols = SHOWN.filter((n) => n in total);
  const f = (v: number | undefined, n: string) => ((v ?? 0) / per).toFixed(n === 'Ir' || n === 'Bc' ? 0 : 2);
  console.log(`total${perEvent ? ' per event' : ''}: ${cols.map((n) => `${n} ${f(total[n], n)}`).join(', ')}`);
  console.log(`${cols.map((n) => n.padStart(10)).join(' ')}  function`);
  const sorted = [...costs].sort((p, q) => (q[1]['Ir'] ?? 0) - (p[1]['Ir'] ?? 0)).slice(0, rows);
  for (const [k, c] of sorted) console.log(`${cols.map((n) => f(c[n], n).padStart(10)).join(' ')}  ${k}`);
}

function main(argv: string[]): void {
  const load = (out: string, map: string) => selfCosts(readFileSync(out, 'utf8'), parsePerfMap(readFileSync(map, 'utf8')));
  if (argv[0] === 'profile' && argv.length >= 3) {
    print(load(argv[1]!, argv[2]!), Number(argv[3] ?? 1), Number(argv[4] ?? 40), argv[3] !== undefined);
  } else if (argv[0] === 'diff' && argv.length >= 7) {
    print(perEventDiff(load(argv[1]!, argv[2]!), Number(argv[3]), load(argv[4]!, argv[5]!), Number(argv[6])), 1, Number(argv[7] ?? 40), true);
  } else {
    console.error('usage: instructions.ts profile OUT MAP [events] [rows] | diff OUT_A MAP_A EVENTS_A OUT_B MAP_B EVENTS_B [rows]');
    process.exitCode = 2;
  }
}

if (process.argv[1]?.endsWith('instructions.ts')) main(process.argv.slice(2));
