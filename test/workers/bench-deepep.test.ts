/**
 * `expertmesh bench deepep`: the JSON contract, DeepEP's bandwidth counting, and usage errors.
 * Spawns host worker threads, so it lives in the workers project.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import type { CliIo } from '../../src/cli/command.js';
import { estimateDeepepBenchmark, runDeepepBenchmark, sweepCombine, sweepDispatch } from '../../src/ep/normal/deepep-benchmark.js';
import { defaultEpConfigs } from '../../src/ep/normal/ep-config.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchmarkRowBytes } from '../../src/ep/records.js';
import { deepepTopk } from '../../src/ep/deepep-inputs.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  return { code: await runCli(argv, io), out, err };
}

describe('the events estimate follows the measured count', () => {
  // Small shapes on one, two and four nodes: the estimate (made before the run) within 1.5x of the
  // events the run counts, so a change in the engine's events or in the estimate that drifts fails.
  const FACTOR = 1.5;
  it.each([[8, 128], [16, 128], [32, 64]])('%i ranks x %i tokens: within %sx', { timeout: 120_000 }, async (ranks, tokens) => {
    const o = { ranks, tokens, workers: 1 };
    const est = estimateDeepepBenchmark(o).events;
    const { events } = await runDeepepBenchmark(o);
    expect(est / events, `estimated ${est}, counted ${events}`).toBeLessThan(FACTOR);
    expect(events / est, `estimated ${est}, counted ${events}`).toBeLessThan(FACTOR);
  });
});

describe('the same timeline whatever the number of workers', () => {
  // 32 ranks on four nodes: a receiver port gets news at one instant from senders on its own worker
  // and from the other one; applied in the order the batch happened to fill (local news as sent,
  // remote ones when their packets were drained), one and two workers gave different timelines
  // (digests 5ad79db6... and 6d1b0427..., same kernel times) before news were applied by send key.
  it('32 ranks x 128 tokens: 1 and 2 workers give one digest and the same kernel times', { timeout: 120_000 }, async () => {
    const one = await runDeepepBenchmark({ ranks: 32, tokens: 128, workers: 1 });
    const two = await runDeepepBenchmark({ ranks: 32, tokens: 128, workers: 2 });
    expect(two.timelineDigest).toBe(one.timelineDigest);
    expect(two.dispatch.timeUs).toBe(one.dispatch.timeUs);
    expect(two.combine.timeUs).toBe(one.combine.timeUs);
  });
});

describe('expertmesh bench deepep', () => {
  it('--json prints exactly one object with the schema fields; RDMA is null within one node', async () => {
    const r = await cli('bench', 'deepep', '--mode', 'normal', '--ranks', '8', '--tokens', '64', '--workers', '1', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    for (const k of ['schemaVersion', 'mode', 'ranks', 'nodes', 'sms', 'notifyUs', 'dispatch', 'combine', 'wallMs']) expect(j).toHaveProperty(k);
    expect(j).toMatchObject({ schemaVersion: 1, mode: 'normal', ranks: 8, nodes: 1, sms: 24, hardware: 'H800', tuned: false });
    // DeepEP's EP8 entry (reference §1), with the benchmark's 24 SMs.
    expect(j.dispatch.config).toEqual({ numSms: 24, nvlChunk: 6, nvlBuffer: 256, rdmaChunk: 6, rdmaBuffer: 128, source: 'deepep' });
    expect(j.combine.config).toEqual({ numSms: 24, nvlChunk: 4, nvlBuffer: 256, rdmaChunk: 6, rdmaBuffer: 128, source: 'deepep' });
    for (const k of ['dispatch', 'combine']) {
      expect(j[k].rdmaGBps).toBeNull();
      expect(j[k].timeUs).toBeGreaterThan(0);
      expect(j[k].nvlGBps).toBeGreaterThan(0);
    }
    expect(j.notifyUs).toBeGreaterThan(0);
    expect(j).toMatchObject({ workers: 1, timelineDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(j.windows).toBeGreaterThan(0);
    expect(j.events).toBeGreaterThan(0);
    expect(j.hostStats.dispatch).toHaveLength(1);
    expect(j.hostStats.combine).toHaveLength(1);
    expect(j.hostStats.dispatch[0].busyMs).toBeGreaterThan(0);
    // Where the wall time went, in run order: the phases add up to wallMs.
    expect(Object.keys(j.phasesMs)).toEqual(['inputs', 'startupWait', 'layer', 'dispatch', 'combine', 'tail']);
    for (const v of Object.values(j.phasesMs)) expect(v).toBeGreaterThanOrEqual(0);
    expect(j.phasesMs.dispatch).toBeGreaterThan(0);
    expect((Object.values(j.phasesMs) as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(j.wallMs, 6);
    expect(j.peakRssBytes).toBeGreaterThan(10 << 20);
    expect(j.simulatedHbmBytes).toBeGreaterThan(0);
    expect(j.simulatedHbmBytes).toBeLessThanOrEqual(j.hbmCapacityBytes);
  });

  it('--no-timeline-digest records no timeline (digest null, same figures); simulated HBM is the same sized with or without payload', async () => {
    const base = ['bench', 'deepep', '--ranks', '16', '--tokens', '32', '--hidden', '256', '--workers', '2', '--json'];
    const a = JSON.parse((await cli(...base)).out);
    const b = JSON.parse((await cli(...base, '--no-timeline-digest')).out);
    const p = JSON.parse((await cli(...base, '--payload')).out);
    expect(a.timelineDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.timelineDigest).toBeNull();
    expect(p.timelineDigest).toBe(a.timelineDigest);
    expect(b.dispatch).toEqual(a.dispatch);
    expect(b.combine).toEqual(a.combine);
    expect(p.simulatedHbmBytes).toBe(a.simulatedHbmBytes);
    expect(b.simulatedHbmBytes).toBe(a.simulatedHbmBytes);
    // Where each of the two hosts' time went, per kernel.
    const fields = ['cpuMs', 'busyMs', 'waitMs', 'sleeps', 'emptyWindows', 'onCpuMs', 'runQueueMs'];
    for (const k of ['dispatch', 'combine']) {
      const hs = b.hostStats[k] as Array<Record<string, number | null>>;
      expect(hs).toHaveLength(2);
      for (const h of hs) {
        expect(Object.keys(h).sort()).toEqual([...fields].sort());
        expect(h.busyMs).toBeGreaterThan(0);
        expect(h.waitMs).toBeGreaterThanOrEqual(0);
        expect(Number.isInteger(h.sleeps) && Number.isInteger(h.emptyWindows)).toBe(true);
        // Each host runs at most one window per round: no more empty ones than windows.
        expect(h.emptyWindows).toBeLessThanOrEqual(b.windows);
        if (process.platform === 'linux') {
          expect(h.cpuMs).toBeGreaterThan(0);
          expect(h.onCpuMs).toBeGreaterThan(0);
          expect(h.runQueueMs).toBeGreaterThanOrEqual(0);
        }
      }
    }
    // The notify step's own run: its events apart from the kernels', and each host's figures.
    expect(b.notifyEvents).toBeGreaterThan(0);
    expect(b.notifyEvents).toBeLessThan(b.events);
    expect(b.hostStats.notify).toHaveLength(2);
    for (const h of b.hostStats.notify as Array<Record<string, number | null>>) {
      expect(Object.keys(h).sort()).toEqual([...fields].sort());
      expect(h.busyMs).toBeGreaterThan(0);
    }
  }, 120_000);

  it('the timeline digest is the same with 1, 2 and 4 workers (and changes with the seed)', async () => {
    const o = { ranks: 16, tokens: 16, hidden: 128 };
    const r1 = await runDeepepBenchmark({ ...o, workers: 1 });
    const r2 = await runDeepepBenchmark({ ...o, workers: 2 });
    const r4 = await runDeepepBenchmark({ ...o, workers: 4 });
    expect(r2.timelineDigest).toBe(r1.timelineDigest);
    expect(r4.timelineDigest).toBe(r1.timelineDigest);
    expect([r1.workers, r2.workers, r4.workers]).toEqual([1, 2, 4]);
    expect(r2.windows).toBeGreaterThan(r1.windows);
    const other = await runDeepepBenchmark({ ...o, workers: 2, seed: 1 });
    expect(other.timelineDigest).not.toBe(r1.timelineDigest);
  }, 120_000);

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

  it("EP256 is refused before running, naming the combine assert; EP40's nearest combine entry is refused, and runs with the combine ring the error suggests", async () => {
    const r = await cli('bench', 'deepep', '--ranks', '256', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error.message).toContain('num_rdma_ranks <= kNumCombineForwarderWarps');
    const bad = await cli('bench', 'deepep', '--ranks', '40', '--experts', '320', '--json');
    expect(bad.code).toBe(2);
    const err = JSON.parse(bad.out).error;
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain('num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0');
    expect(err.message).toContain('NVLink receive ring (288) % 5 nodes = 3');
    expect(err.message).toContain(`--combine-config '{"nvlBuffer":290}'`);
    const e40 = JSON.parse((await cli('bench', 'deepep', '--ranks', '40', '--experts', '320', '--tokens', '8', '--hidden', '256', '--workers', '2', '--combine-config', '{"nvlBuffer":290}', '--json')).out);
    expect(e40.dispatch.config).toMatchObject({ nvlChunk: 32, nvlBuffer: 288, rdmaChunk: 8, rdmaBuffer: 128, source: 'nearest', entryRanks: 32 });
    expect(e40.combine.config).toEqual({ numSms: 24, nvlChunk: 1, nvlBuffer: 290, rdmaChunk: 8, rdmaBuffer: 128, source: 'given' });
    const notJson = await cli('bench', 'deepep', '--ranks', '40', '--combine-config', 'nvlBuffer=290');
    expect(notJson.code).toBe(2);
    expect(notJson.err).toContain('--combine-config must be a JSON object');
  });

  it("--tune sweeps DeepEP's ranges (reference §2) and reports the best with the defaults", async () => {
    // Intranode: dispatch chunk 4..32 step 2 (15, the default 6 among them), combine 1..16; ring 256.
    const def8 = defaultEpConfigs(8, 24);
    const d1 = [...sweepDispatch(8, 1, def8.dispatch)];
    expect(d1.map((c) => c.nvlChunk)).toEqual([4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32]);
    expect([...sweepCombine(8, 1, def8.combine)].map((c) => c.nvlChunk)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(new Set(d1.map((c) => c.nvlBuffer))).toEqual(new Set([256]));
    // Internode: 11 x 8 dispatch configs, NVLink ring 512 (720 at 24 ranks), RDMA ring 128 aligned to the chunk.
    const d16 = [...sweepDispatch(16, 2, defaultEpConfigs(16, 24, 2).dispatch)];
    expect(d16).toHaveLength(88);
    expect(d16[0]).toEqual({ nvlChunk: 4, nvlBuffer: 512, rdmaChunk: 4, rdmaBuffer: 128 });
    expect(d16.find((c) => c.rdmaChunk === 12)!.rdmaBuffer).toBe(132);
    expect([...sweepDispatch(24, 3, defaultEpConfigs(24, 24, 3).dispatch)][0]!.nvlBuffer).toBe(720);
    // Combine: NVLink chunk 1..7 x RDMA chunk 12..32 step 4 on 2 nodes, 8..32 otherwise.
    const c16 = [...sweepCombine(16, 2, defaultEpConfigs(16, 24, 2).combine)];
    expect(c16).toHaveLength(42);
    expect(new Set(c16.map((c) => c.rdmaChunk))).toEqual(new Set([12, 16, 20, 24, 28, 32]));
    expect([...sweepCombine(32, 4, defaultEpConfigs(32, 24, 4).combine)]).toHaveLength(49);

    const r = await runDeepepBenchmark({ ranks: 8, tokens: 32, hidden: 256, workers: 1, tune: true });
    expect(r.tuned).toBe(true);
    expect(r.sweep).toEqual({ dispatchRuns: 15, combineRuns: 16, refused: 0 });
    expect(r.dispatch.config.source).toBe('tuned');
    expect(r.dispatch.config.nvlBuffer).toBe(256);
    expect(r.defaults!.dispatch.config.source).toBe('deepep');
    expect(r.dispatch.timeUs).toBeLessThanOrEqual(r.defaults!.dispatch.timeUs);
    expect(r.combine.timeUs).toBeLessThanOrEqual(r.defaults!.combine.timeUs);
  });

  it('--sms 8,16 runs one row per SM count in one JSON object; --hardware takes a profile file', async () => {
    const r = await cli('bench', 'deepep', '--ranks', '8', '--tokens', '32', '--hidden', '256', '--workers', '1', '--sms', '8,16', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ schemaVersion: 1, sweep: 'sms', ranks: 8 });
    expect(j.rows.map((x: { sms: number }) => x.sms)).toEqual([8, 16]);
    expect(j.rows[0].dispatch.config.numSms).toBe(8);
    expect(j.rows[0].dispatch.timeUs).toBeGreaterThan(j.rows[1].dispatch.timeUs);
    const dir = mkdtempSync(join(tmpdir(), 'expertmesh-bench-'));
    const p = join(dir, 'slow.json');
    writeFileSync(p, JSON.stringify({ extends: 'H800', name: 'H800-slowNVL', nvlinkGBps: { value: 20, source: 'what if' } }));
    const slow = JSON.parse((await cli('bench', 'deepep', '--ranks', '8', '--tokens', '32', '--hidden', '256', '--workers', '1', '--sms', '16', '--hardware', p, '--json')).out);
    expect(slow.hardware).toBe('H800-slowNVL');
    expect(slow.dispatch.timeUs).toBeGreaterThan(j.rows[1].dispatch.timeUs);
  });

  it('bad arguments exit 2 with a one-line message naming the option', async () => {
    for (const [args, word] of [
      [['--ranks', '12'], 'ranks'], [['--ranks', '8', '--sms', '5'], 'sms'], [['--ranks', '8', '--dtype', 'int4'], 'dtype'],
      [['--ranks', '8', '--mode', 'fast'], 'mode'], [['--ranks', '8', '--sms', '8,x'], 'sms'], [['--ranks', '8', '--hardware', 'A100'], 'A100'], [[], 'ranks'], [['--ranks', '8', '--bogus'], 'bogus'],
    ] as const) {
      const r = await cli('bench', 'deepep', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n').at(-1)).toContain(word);
    }
  });
});
