/**
 * The per-function attribution of a callgrind profile (bench/instructions.ts), on a hand-written
 * fragment in callgrind's format: JIT addresses named by V8's perf map, others by callgrind's
 * names, a call's inclusive cost not counted as the caller's own.
 */
import { describe, expect, it } from 'vitest';
import { parsePerfMap, perEventDiff, selfCosts } from '../../../bench/instructions.js';

const MAP = ['1000 100 JS:*runUntil file:///x/engine.js:1:1', '1100 80 JS:^step file:///x/engine.js:9:1', ''].join('\n');

// events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
const PROFILE = [
  'positions: instr line',
  'events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw',
  'ob=(1) /usr/bin/node',
  'fn=(1) 0x0000000000001000',
  '0x1000 0 10 4 1 0 2 0 0 1 0',
  '+8 0 5 0 3 0 0 1 0 0 1',
  'cfn=(2) Builtins_LoadIC',
  'calls=1 0x9000 0',
  '+4 0 999 0 0 0 99 0',
  '+70 0 7 1 0 0 1 0 0 1', // (hexadecimal) 0x100c + 0x70 = 0x107c: still runUntil
  '+84 0 6 0 0 0 0 0', // 0x1100: step
  'fn=(2)',
  '0x9000 0 40 10 0 0 4 0 0 2',
  '',
].join('\n');

describe('instructions per JavaScript function', () => {
  it('names JIT addresses from the perf map and skips a call line inclusive cost', () => {
    const c = selfCosts(PROFILE, parsePerfMap(MAP));
    expect(c.get('JS:*runUntil file:///x/engine.js:1:1')).toEqual({ ir: 22, d1r: 3, d1w: 1, llr: 2, llw: 1 });
    expect(c.get('JS:^step file:///x/engine.js:9:1')).toEqual({ ir: 6, d1r: 0, d1w: 0, llr: 0, llw: 0 });
    expect(c.get('node Builtins_LoadIC')).toEqual({ ir: 40, d1r: 4, d1w: 0, llr: 2, llw: 0 });
    expect([...c.keys()].length).toBe(3);
  });

  it('the cost of one more event is the difference over the difference of events', () => {
    const a = new Map([['f', { ir: 1000, d1r: 10, d1w: 4, llr: 3, llw: 0 }]]);
    const b = new Map([['f', { ir: 1600, d1r: 16, d1w: 4, llr: 6, llw: 0 }], ['g', { ir: 30, d1r: 0, d1w: 3, llr: 0, llw: 3 }]]);
    const d = perEventDiff(a, 100, b, 400);
    expect(d.get('f')).toEqual({ ir: 2, d1r: 0.02, d1w: 0, llr: 0.01, llw: 0 });
    expect(d.get('g')).toEqual({ ir: 0.1, d1r: 0, d1w: 0.01, llr: 0, llw: 0.01 });
  });
});
