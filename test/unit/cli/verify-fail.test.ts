/**
 * A run whose outputs differ from the dense reference finishes, prints its figures and exits 1,
 * naming the first difference. The reference check is forced to fail here (module mock), since the
 * EP layer itself gets it right.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { runCli } from '../../../src/cli/cli.js';
import type { CliIo } from '../../../src/cli/command.js';

vi.mock('../../../src/scenario/payload.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../../src/scenario/payload.js')>();
  return {
    ...orig,
    checkAgainstReference: () => ({ ok: false, mismatches: 3, maxRelErr: 0.5, first: { rank: 2, token: 1, col: 7, got: 1.5, want: 1, tol: 0.01 } }),
  };
});

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('exits 1 when the outputs differ from the dense reference', async () => {
  const file = join(dir, 'real.json');
  writeFileSync(file, JSON.stringify({
    cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 1 }, payload: 'real',
    model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 128, moeIntermediateSize: 32, tokensPerRank: 8 },
  }));
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  const code = await runCli(['run', file, '--json'], io);
  expect(code).toBe(1);
  const j = JSON.parse(out);
  expect(j).toMatchObject({ verified: false, tokens: { conserved: true } });
  expect(j.mismatch).toMatch(/3 output values differ from the dense reference \(first: rank 2 token 1 column 7/);
  expect(err).toMatch(/failed its checks/);
  expect(err).toMatch(/rank 2 token 1 column 7: got 1\.5, want 1/);
});
