/**
 * Every exported function of the library under wrong-typed, NaN, negative, huge and missing values:
 * each call returns or throws a coded ExpertmeshError, never a TypeError, RangeError, an uncoded
 * throw or an out-of-memory crash (sizes are checked before anything is allocated).
 *
 * The functions are enumerated from the module's exports: a new export fails the coverage test
 * until it has a case here (valid arguments, which the arbitraries then break one value at a time)
 * or an entry in NOT_USER_INPUT saying why it takes none.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as api from '../../src/index.js';
import { CASES, checkCase, oddArg, setUpFixtures, tearDownFixtures } from './api-cases.js';

/** Exports that are not functions of user input (each says why); everything else has a case. */
const NOT_USER_INPUT: Record<string, string> = {
  isExpertmeshError: 'a predicate over any value: total by design (checked below to never throw)',
  toWireError: 'turns any thrown value into its wire form: total by design (checked below to never throw)',
};


beforeAll(async () => {
  vi.stubEnv('EXPERTMESH_HOST_MEMORY_LIMIT', String(4e9));
  await setUpFixtures();
}, 120_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await tearDownFixtures();
});

/** The exported functions (and classes) of the module. */
const exportedFunctions = Object.entries(api).filter(([, v]) => typeof v === 'function').map(([k]) => k);

describe('public API: only coded errors under bad input', () => {
  it('every exported function has a case or a stated reason to have none', () => {
    const missing = exportedFunctions.filter((k) => !(k in CASES) && !(k in NOT_USER_INPUT));
    expect(missing, 'exports without a bad-input case').toEqual([]);
    const stale = [...Object.keys(CASES), ...Object.keys(NOT_USER_INPUT)].filter((k) => !k.includes('#') && !exportedFunctions.includes(k));
    expect(stale, 'cases for functions that are not exported').toEqual([]);
  });

  it('the total functions never throw', () => {
    fc.assert(fc.property(oddArg, (v) => {
      expect(typeof api.isExpertmeshError(v)).toBe('boolean');
      expect(api.ERROR_CODES).toContain(api.toWireError(v).code);
    }), { numRuns: 200, seed: 19 });
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(name, { timeout: 120_000 }, () => checkCase(name, c));
  }
});
