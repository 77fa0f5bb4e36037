/**
 * `expertmesh bench deepep --mode low-latency`: the JSON contract (DeepEP's byte counting, the
 * experts default, the hook-mode split) and its usage errors. Spawns host worker threads.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import type { CliIo } from '../../src/cli/command.js';
import { lowLatencyTopk } from '../../src/ep/low-latency/benchmark.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  return { code: await runCli(argv, io), out, err };
}

describe('expertmesh bench deepep --mode low-latency', () => {
  it('--json prints one object with the timing, bandwidth and hook-mode split of both kernels', async () => {
    const r = await cli('bench', 'deepep', '--mode', 'low-latency', '--ranks', '16', '--tokens', '8', '--hidden', '256', '--workers', '2', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(j).toMatchObject({ schemaVersion: 1, mode: 'low-latency', ranks: 16, nodes: 2, tokens: 8, experts: 288, expertsSource: 'default-288', dtype: 'fp8', hardware: 'H800', linkSharing: 'message' });
    expect(j.launch).toEqual({ numWarpGroups: 3, warpsPerGroup: 10, numSms: 96 });
    const pairs = lowLatencyTopk(8, 288, 8, 0, 0).filter((e) => e >= 0).length;
    expect(j.dispatch.bytes).toBe(pairs * (256 + 8 + 16));
    expect(j.combine.bytes).toBe(pairs * 512);
    for (const k of ['dispatch', 'combine']) {
      expect(j[k].timeUs).toBeGreaterThan(0);
      expect(j[k].GBps).toBeCloseTo(j[k].bytes / (j[k].timeUs * 1e3), 9);
      expect(j[k].sendUs).toBeGreaterThan(0);
      expect(j[k].recvUs).toBeGreaterThan(0);
      expect(j[k].minTimeUs).toBeLessThanOrEqual(j[k].maxTimeUs);
      expect(j[k].meanTimeUs).toBeGreaterThanOrEqual(j[k].minTimeUs);
      expect(j[k].meanTimeUs).toBeLessThanOrEqual(j[k].maxTimeUs);
      expect(j[k].firstTimeUs).toBeGreaterThan(0);
      // One entry per host thread for the reported launch: its CPU time and where its wall time went.
      expect(j.hostStats[k]).toHaveLength(2);
      for (const h of j.hostStats[k]) {
        expect(h.busyMs).toBeGreaterThan(0);
        expect(h.waitMs).toBeGreaterThanOrEqual(0);
        expect(Object.keys(h).sort()).toEqual(['busyMs', 'cpuMs', 'emptyWindows', 'onCpuMs', 'runQueueMs', 'sleeps', 'waitMs']);
      }
    }
    expect(j.cpuMs).toBeGreaterThan(0);
    expect(j.phasesMs.inputs).toBeGreaterThanOrEqual(0);
    expect(j.phasesMs.startupWait).toBeGreaterThanOrEqual(0);
    // Six calls: two iterations of dispatch + combine, then both in hook mode; their events and windows are the run's.
    expect(j.phasesMs.calls.map((c: { name: string }) => c.name)).toEqual(['dispatch 1', 'combine 1', 'dispatch 2', 'combine 2', 'dispatch hook', 'combine hook']);
    expect(j.phasesMs.calls.reduce((n: number, c: { events: number }) => n + c.events, 0)).toBe(j.events);
    expect(j.phasesMs.calls.reduce((n: number, c: { windows: number }) => n + c.windows, 0)).toBe(j.windows);
    for (const c of j.phasesMs.calls) {
      expect(c.runWallMs).toBeGreaterThan(0);
      expect(c.runWallMs).toBeLessThanOrEqual(c.wallMs);
      expect(c.hostCpuMs).toHaveLength(2);
      expect(c.hostRunQueueMs).toHaveLength(2);
      expect(c.hostWaitMs).toHaveLength(2);
    }
  }, 120_000);

  it('--link-sharing fluid: the same bytes, the option in the JSON, other kernel times than the default message sharing', async () => {
    const args = ['bench', 'deepep', '--mode', 'low-latency', '--ranks', '16', '--tokens', '8', '--hidden', '256', '--workers', '2', '--json'];
    const [m, f] = [JSON.parse((await cli(...args)).out), JSON.parse((await cli(...args, '--link-sharing', 'fluid')).out)];
    expect(m.linkSharing).toBe('message');
    expect(f.linkSharing).toBe('fluid');
    expect(m.dispatch.bytes).toBe(f.dispatch.bytes);
    expect(m.combine.bytes).toBe(f.combine.bytes);
    expect(m.dispatch.timeUs).toBeGreaterThan(0);
    expect(m.dispatch.timeUs).not.toBe(f.dispatch.timeUs);
  }, 120_000);

  it('refuses options that do not apply, and an unknown mode (exit 2)', async () => {
    for (const extra of [['--sms', '20'], ['--tune'], ['--payload']]) {
      const r = await cli('bench', 'deepep', '--mode', 'low-latency', '--ranks', '8', ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/does not apply to --mode low-latency/);
    }
    const m = await cli('bench', 'deepep', '--mode', 'fast', '--ranks', '8');
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/'normal' or 'low-latency'/);
    const t = await cli('bench', 'deepep', '--mode', 'low-latency', '--ranks', '8', '--tokens', '257');
    expect(t.code).toBe(2);
    const l = await cli('bench', 'deepep', '--mode', 'low-latency', '--ranks', '8', '--link-sharing', 'packet');
    expect(l.code).toBe(2);
    expect(l.err).toMatch(/--link-sharing must be 'fluid' or 'message', got 'packet'/);
  });
});
