/** Assert that `fn` throws an ExpertmeshError with `code` whose message mentions every `parts` entry. */
import { expect } from 'vitest';
import { isExpertmeshError } from '../../../src/errors.js';

export function expectError(fn: () => unknown, code: string, ...parts: string[]): Record<string, unknown> {
  let caught: unknown = undefined;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isExpertmeshError(caught), `expected an ExpertmeshError, got ${String(caught)}`).toBe(true);
  const err = caught as { code: string; message: string; data: Record<string, unknown> };
  expect(err.code).toBe(code);
  for (const p of parts) expect(err.message).toContain(p);
  return err.data;
}
