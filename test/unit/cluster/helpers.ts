/** Helpers shared by the runtime tests: typed-error assertions and tiny in-process clusters. */
import { expect } from 'vitest';
import { isExpertmeshError } from '../../../src/errors.js';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import type { ClusterConfig } from '../../../src/cluster/config.js';
import { H800, type HardwareProfile } from '../../../src/hardware/profile.js';

function check(caught: unknown, code: string, parts: string[]): Record<string, unknown> {
  expect(isExpertmeshError(caught), `expected an ExpertmeshError, got ${String(caught)}`).toBe(true);
  const err = caught as { code: string; message: string; data: Record<string, unknown> };
  expect(err.code, err.message).toBe(code);
  for (const p of parts) expect(err.message).toContain(p);
  return err.data;
}

/** `fn` throws an ExpertmeshError with `code` whose message mentions every entry of `parts`. */
export function expectError(fn: () => unknown, code: string, ...parts: string[]): Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return check(e, code, parts);
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** The promise rejects with an ExpertmeshError with `code` whose message mentions every `parts` entry. */
export async function expectReject(p: Promise<unknown>, code: string, ...parts: string[]): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return check(e, code, parts);
  }
  throw new Error(`expected ${code}, the promise resolved`);
}

/** A profile with round numbers, so expected times are easy to write down. */
export const ROUND: HardwareProfile = {
  ...H800,
  name: 'ROUND',
  nvlinkGBps: 100, // 1e5 B/us
  nvlinkLatencyUs: 1,
  ibGBps: 50, // 5e4 B/us
  ibLatencyUs: 2,
  peakTflops: H800.peakTflops,
};

/** Run `fn` on an in-process cluster and always close it. */
export async function withCluster<T>(config: Partial<ClusterConfig>, fn: (c: Cluster) => Promise<T>): Promise<T> {
  const c = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: ROUND, workers: 1, transport: 'in-process', ...config });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
