/**
 * Hardware profiles from files and objects: extends, per-field sources, notes for unknown fields and
 * values without a source, refusal of non-positive values naming the field; scenarios and the CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveHardware } from '../../../src/hardware/profile-file.js';
import { H100, H800 } from '../../../src/hardware/profile.js';
import { loadScenario } from '../../../src/scenario/load.js';
import { planScenario } from '../../../src/scenario/plan.js';
import { runCli } from '../../../src/cli/cli.js';
import type { CliIo } from '../../../src/cli/command.js';
import { expectError } from '../cluster/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-hw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, obj: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(obj));
  return p;
};

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  return { code: await runCli(argv, io), out, err };
}

describe('hardware profiles from files', () => {
  it('built-ins carry a source for every field', () => {
    const h = resolveHardware('h800');
    expect(h.profile).toBe(H800);
    expect(h.origin).toBe('built-in');
    expect(Object.keys(h.sources)).toHaveLength(22);
    // The NIC's posting cost on the issuing warp and its doorbell: two estimates, each with its reason.
    expect(h.sources.ibMessageUs).toMatch(/^estimate: .*issuing warp/);
    expect(h.sources.ibDoorbellUs).toMatch(/^estimate: .*doorbell/);
    for (const s of Object.values(h.sources)) expect(s.length).toBeGreaterThan(10);
    expect(h.sources.nvlinkGBps).toContain('NCCL');
    expect(h.sources.smBytesInFlightPerWarp).toMatch(/^fitted to /);
    expect(h.sources.kernelLaunchUs).toMatch(/^estimate: /);
    // The NIC's queue pair rates (deepep-details §5): one QP ~365 Gb/s, two ~392 Gb/s.
    expect([h.profile.ibQpGBps, h.profile.ibGBps]).toEqual([45.625, 49]);
    expect(h.sources.ibQpGBps).toContain('365 Gb/s');
    expect(h.sources.ibGBps).toContain('392 Gb/s');
  });

  it('a file extends a built-in: given values with their sources, the rest inherited', () => {
    const p = file('roce.json', { extends: 'H100', name: 'H100-RoCE200', ibGBps: { value: 25, source: '200 Gb/s RoCE NIC' }, peakTflops: { fp8: 1000 } });
    const h = resolveHardware(p);
    expect(h.profile.name).toBe('H100-RoCE200');
    expect(h.profile.ibGBps).toBe(25);
    expect(h.profile.nvlinkGBps).toBe(334);
    expect(h.profile.peakTflops).toEqual({ fp8: 1000, bf16: 989, fp32: 67 });
    expect(h.sources.ibGBps).toBe('200 Gb/s RoCE NIC');
    expect(h.sources.nvlinkGBps).toContain('(from H100)');
    expect(h.extends).toBe('H100');
    expect(h.notes).toEqual(['peakTflops.fp8: value 1000 given without a source']);
    // A file may extend another file (relative to itself).
    const q = file('roce2.json', { extends: 'roce.json', name: 'x', sources: { hostSyncUs: 'measured' }, hostSyncUs: 9 });
    const h2 = resolveHardware(q);
    expect([h2.profile.ibGBps, h2.profile.hostSyncUs, h2.sources.hostSyncUs]).toEqual([25, 9, 'measured']);
    // A field the file does not give is inherited with its source, ibQpGBps too.
    expect(h2.profile.ibQpGBps).toBe(H100.ibQpGBps);
    expect(h2.sources.ibQpGBps).toContain('365 Gb/s');
    const qp = resolveHardware(file('qp.json', { extends: 'H800', ibQpGBps: { value: 24, source: 'one QP on a 200 Gb/s NIC' } }));
    expect([qp.profile.ibQpGBps, qp.sources.ibQpGBps]).toEqual([24, 'one QP on a 200 Gb/s NIC']);
    expectError(() => resolveHardware(file('qp0.json', { extends: 'H800', ibQpGBps: 0 })), 'E_CONFIG', 'ibQpGBps must be a positive finite number');
    expect(h2.sources.ibGBps).toBe('200 Gb/s RoCE NIC (from H100-RoCE200)');
  });

  it('unknown fields are allowed and reported; non-positive values are refused naming the field', () => {
    const h = resolveHardware(file('u.json', { extends: 'H800', nicCount: 2 }));
    expect(h.notes[0]).toContain("unknown field 'nicCount' ignored");
    expect(h.profile.ibGBps).toBe(H800.ibGBps);
    for (const [v, f] of [[{ ibGBps: -25 }, 'ibGBps'], [{ ibGBps: 0 }, 'ibGBps'], [{ peakTflops: { bf16: -1 } }, 'peakTflops.bf16']] as const) {
      const data = expectError(() => resolveHardware(file('bad.json', { extends: 'H800', ...v })), 'E_CONFIG', `${f} must be a positive finite number`);
      expect(data.field).toBe(f);
    }
    expectError(() => resolveHardware(file('s.json', { extends: 'H800', ibGBps: 'fast' })), 'E_CONFIG', 'ibGBps must be a number');
    expectError(() => resolveHardware(file('n.json', { name: 'bare', ibGBps: 25 })), 'E_CONFIG', "without 'extends' must give every field", 'smCount');
    expectError(() => resolveHardware(join(dir, 'missing.json')), 'E_CONFIG', 'cannot read hardware profile', 'ENOENT');
    expectError(() => resolveHardware('A100'), 'E_CONFIG', "unknown hardware profile 'A100'", 'H800, H100, H200');
  });

  it('scenarios take a name, a path relative to the scenario file, or an inline object', () => {
    file('slow-ib.json', { extends: 'H800', name: 'H800-slowIB', ibGBps: { value: 12.5, source: '100 Gb/s NIC' } });
    const base = { cluster: { nodes: 2, gpusPerNode: 2 }, model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 256, tokensPerRank: 8 } };
    const sp = file('scen.json', { ...base, cluster: { ...base.cluster, hardware: 'slow-ib.json' } });
    expect(planScenario(loadScenario(sp)).hardware.ibGBps).toBe(12.5);
    const inline = loadScenario({ ...base, cluster: { ...base.cluster, hardware: { extends: 'H100', name: 'H100-fat', ibGBps: 100 } } });
    expect(planScenario(inline).hardware).toMatchObject({ name: 'H100-fat', ibGBps: 100, nvlinkGBps: H100.nvlinkGBps });
    expect(() => loadScenario({ ...base, cluster: { ...base.cluster, hardware: { extends: 'H800', ibGBps: -1 } } })).toThrow(/cluster\.hardware\.ibGBps.*positive/);
  });

  it('expertmesh hardware show prints every value with its source; --json one object', async () => {
    const p = file('show.json', { extends: 'H800', name: 'H800-x', ibGBps: { value: 25, source: 'half a NIC' }, bogus: 1 });
    const t = await cli('hardware', 'show', p);
    expect(t.code).toBe(0);
    expect(t.out).toContain('H800-x');
    expect(t.out).toMatch(/ibGBps\s+25\s+half a NIC/);
    expect(t.out).toMatch(/nvlinkGBps\s+148.5\s+NCCL/);
    expect(t.out).toMatch(/ibQpGBps\s+45\.625\s+deepep-details/);
    expect(t.out).toContain("note: unknown field 'bogus' ignored");
    const j = await cli('hardware', 'show', 'H200', '--json');
    const o = JSON.parse(j.out);
    expect(o).toMatchObject({ schemaVersion: 1, origin: 'built-in', profile: { name: 'H200', hbmBytes: 141e9 } });
    expect(o.sources.hbmGBps).toContain('4.8 TB/s');
    const bad = await cli('hardware', 'show', file('neg.json', { extends: 'H800', hostSyncUs: -3 }), '--json');
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.message).toContain('hostSyncUs must be a positive finite number, got -3');
  });
});
