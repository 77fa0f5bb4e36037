/** Running one fuzz input: what counts as a pass. */
import { isExpertmeshError } from '../src/errors.js';
import type { FuzzTarget } from './targets.js';

/** 'ok' or the code thrown; throws (with the input) on anything uncoded or a code the target may not throw. */
export function runInput(t: FuzzTarget, input: unknown): string {
  try {
    t.run(input);
    return 'ok';
  } catch (e) {
    if (isExpertmeshError(e) && t.codes.includes(e.code)) return e.code;
    const what = isExpertmeshError(e) ? `unexpected code ${e.code}: ${e.message}` : `uncoded ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    throw new Error(`${t.name}: ${what}`, { cause: e });
  }
}
