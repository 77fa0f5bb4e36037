/**
 * The link model against SimGrid 3.32 (CM02 pure max-min) on the same flow sets
 * (test/fixtures/simgrid-flows.json, a copy of the team's SimGrid run: flow sizes and SimGrid's times).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCluster, runTraffic, H800, type HardwareProfile } from '../../../src/index.js';

/** The link parameters SimGrid ran with: NVLink 160 GB/s / 2 us, IB 50 GB/s / 4 us. */
const SG: HardwareProfile = { ...H800, name: 'simgrid', nvlinkGBps: 160, nvlinkLatencyUs: 2, ibGBps: 50, ibLatencyUs: 4 };

interface Case { name: string; nodes: number; gpusPerNode: number; simgridUs: number; boundUs: number; flows: [number, number, number][] }
const file = new URL('../../fixtures/simgrid-flows.json', import.meta.url);
const cases: Case[] = (JSON.parse(readFileSync(file, 'utf8')) as { cases: Case[] }).cases;

async function run(c: { nodes: number; gpusPerNode: number; flows: [number, number, number][] }) {
  const cluster = await createCluster({ nodes: c.nodes, gpusPerNode: c.gpusPerNode, hardware: SG, workers: 1, transport: 'in-process' });
  try {
    return await runTraffic(cluster, c.flows.map(([src, dst, bytes]) => ({ src, dst, bytes })));
  } finally {
    await cluster.close();
  }
}

describe('link model vs SimGrid max-min', () => {
  it('skew: two hot flows into rank 0 whose senders also feed three others each: within 5% of 72.16 us', async () => {
    const r = await run({
      nodes: 4, gpusPerNode: 8,
      flows: [[8, 0, 1310720], [16, 0, 1310720], [8, 24, 393216], [8, 25, 393216], [8, 26, 393216], [16, 27, 393216], [16, 28, 393216], [16, 29, 393216]],
    });
    // SimGrid: 4 + 2.6 x 1,310,720 B / 50 GB/s = 72.16 us; the per-port bound (56.43 us) is not reachable.
    expect(Math.abs(r.timeUs - 72.1574) / 72.1574).toBeLessThan(0.05);
    expect(r.timeUs).toBeGreaterThan(56.4288 * 1.1);
    // Rank 8 shares its NIC four ways (12.5 GB/s each); once its small flows end, the hot flow is
    // held at rank 0's credit, half of rank 0's NIC (25 GB/s), not the 50 GB/s its own NIC could give.
    const hot = r.rates.filter((g) => g.src === 8 && g.dst === 0);
    expect(hot[0]!.GBps).toBeCloseTo(12.5, 6);
    expect(hot[hot.length - 1]!.GBps).toBeCloseTo(25, 6);
    const nic0 = r.ports.find((p) => p.rank === 0 && p.port === 'ib.in')!;
    // The two counter adds are control messages: they take no share of the port, nor count in its bytes.
    expect(nic0.bytes).toBe(2 * 1310720);
  });

  it('incast: 7 NVLink and 8 IB senders into rank 0 take latency + bytes / ingress bandwidth (within 1%)', async () => {
    const flows: [number, number, number][] = [];
    for (let s = 1; s < 16; s++) flows.push([s, 0, 1 << 20]);
    const r = await run({ nodes: 2, gpusPerNode: 8, flows });
    // NVLink ingress: 7 MiB / 160 GB/s + 2 us = 47.87 us; IB ingress: 8 MiB / 50 GB/s + 4 us = 171.77 us.
    expect(Math.abs(r.timeUs - 171.7722) / 171.7722).toBeLessThan(0.01);
  });

  // Events per transfer before the credit model (issue 11): 3.8 at 16 ranks, 3.6 at 32; at most 1.5x of them.
  const beforeCredits: Record<number, number> = { 16: 3.8, 32: 3.6 };
  for (const c of cases.filter((k) => k.name.startsWith('uniform') || (k.name.startsWith('deepep') && k.nodes <= 4)))
    it(`${c.name}: within 1% of SimGrid (${c.simgridUs} us)`, async () => {
      const r = await run(c);
      expect(Math.abs(r.timeUs - c.simgridUs) / c.simgridUs).toBeLessThan(0.01);
      const before = beforeCredits[c.nodes * c.gpusPerNode];
      if (c.name.startsWith('deepep') && before !== undefined) expect(r.events / r.transfers).toBeLessThanOrEqual(1.5 * before);
    });
});
