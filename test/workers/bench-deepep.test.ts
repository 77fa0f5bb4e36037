/**
 * `expertmesh bench deepep`: the JSON contract, DeepEP's bandwidth counting, and usage errors.
 * Spawns host worker threads, so it lives in the workers project.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import type { CliIo } from '../../src/cli/command.js';
import { runDeepepBenchmark } from '../../src/ep/deepep-benchmark.js';
import { benchmarkRowBytes } from '../../src/ep/records.js';
import { deepepTopk } from '../../src/ep/deepep-inputs.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  return { code: await runCli(argv, io), out, err };
}

describe('expertmesh bench deepep', () => {
  it('--json prints exactly one object with the schema fields; RDMA is null within one node', async () => {
    const r = await cli('bench', 'deepep', '--mode', 'normal', '--ranks', '8', '--tokens', '64', '--workers', '1', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    for (const k of ['schemaVersion', 'mode', 'ranks', 'nodes', 'sms', 'notifyUs', 'dispatch', 'combine', 'wallMs']) expect(j).toHaveProperty(k);
    expect(j).toMatchObject({ schemaVersion: 1, mode: 'normal', ranks: 8, nodes: 1, sms: 24 });
    for (const k of ['dispatch', 'combine']) {
      expect(j[k].rdmaGBps).toBeNull();
      expect(j[k].timeUs).toBeGreaterThan(0);
      expect(j[k].nvlGBps).toBeGreaterThan(0);
    }
    expect(j.notifyUs).toBeGreaterThan(0);
  });

  it("counts bandwidth as DeepEP's test does: token copies to nodes (own node included) and rows received, per kernel time", async () => {
    const o = { ranks: 16, tokens: 48, hidden: 256, workers: 2, seed: 3 };
    const r = await runDeepepBenchmark(o);
    expect(r.nodes).toBe(2);
    // Rank 0's counts, recomputed from the same inputs.
    const topk = deepepTopk({ numRanks: 16, gpusPerNode: 8, tokens: 48, experts: 256, topk: 8 }, 0, 3);
    let nodeCopies = 0;
    for (let t = 0; t < 48; t++) {
      const nodes = new Set<number>();
      for (let j = 0; j < 8; j++) nodes.add(Math.floor(topk[t * 8 + j]! / 16 / 8));
      nodeCopies += nodes.size;
    }
    const row = benchmarkRowBytes(256, 'fp8');
    expect(r.dispatch.rdmaGBps).toBeCloseTo((nodeCopies * row) / (r.dispatch.timeUs * 1e3), 9);
    expect(r.combine.rdmaGBps).toBeCloseTo((nodeCopies * 256 * 2) / (r.combine.timeUs * 1e3), 9);
    expect(r.dispatch.minTimeUs).toBeLessThanOrEqual(r.dispatch.timeUs);
    expect(r.dispatch.maxTimeUs).toBeGreaterThanOrEqual(r.dispatch.timeUs);
  });

  it('bad arguments exit 2 with a one-line message naming the option', async () => {
    for (const [args, word] of [
      [['--ranks', '12'], 'ranks'], [['--ranks', '8', '--sms', '5'], 'sms'], [['--ranks', '8', '--dtype', 'int4'], 'dtype'],
      [['--ranks', '8', '--mode', 'low-latency'], 'mode'], [[], 'ranks'], [['--ranks', '8', '--bogus'], 'bogus'],
    ] as const) {
      const r = await cli('bench', 'deepep', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n').at(-1)).toContain(word);
    }
  });
});
