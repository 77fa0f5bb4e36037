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
    expect(c.get('JS:*runUntil file:///x/engine.js:1:1')).toEqual({ Ir: 22, Dr: 5, Dw: 4, I1mr: 0, D1mr: 3, D1mw: 1, ILmr: 0, DLmr: 2, DLmw: 1 });
    expect(c.get('JS:^step file:///x/engine.js:9:1')).toEqual({ Ir: 6, Dr: 0, Dw: 0, I1mr: 0, D1mr: 0, D1mw: 0, ILmr: 0, DLmr: 0, DLmw: 0 });
    expect(c.get('node Builtins_LoadIC')).toEqual({ Ir: 40, Dr: 10, Dw: 0, I1mr: 0, D1mr: 4, D1mw: 0, ILmr: 0, DLmr: 2, DLmw: 0 });
    expect([...c.keys()].length).toBe(3);
  });

  it('the cost of one more event is the difference over the difference of events', () => {
    const a = new Map([['f', { Ir: 1000, D1mr: 10, D1mw: 4, DLmr: 3 }]]);
    const b = new Map([['f', { Ir: 1600, D1mr: 16, D1mw: 4, DLmr: 6 }], ['g', { Ir: 30, D1mw: 3, DLmw: 3 }]]);
    const d = perEventDiff(a, 100, b, 400);
    expect(d.get('f')).toEqual({ Ir: 2, D1mr: 0.02, D1mw: 0, DLmr: 0.01 });
    expect(d.get('g')).toEqual({ Ir: 0.1, D1mw: 0.01, DLmw: 0.01 });
  });

  it('reads the columns from the events line: a branch simulation\'s mispredictions', () => {
    const branches = ['positions: instr line', 'events: Ir Bc Bcm Bi Bim', 'ob=(1) /usr/bin/node', 'fn=(1) 0x1000', '0x1000 0 12 4 3', '+4 0 8 2 0 1 1', ''].join('\n');
    expect(selfCosts(branches, parsePerfMap(MAP)).get('JS:*runUntil file:///x/engine.js:1:1')).toEqual({ Ir: 20, Bc: 6, Bcm: 3, Bi: 1, Bim: 1 });
  });
});
