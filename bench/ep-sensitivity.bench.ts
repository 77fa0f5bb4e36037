/**
 * The sensitivity table of docs/dispatch-combine.md (`npm run bench -- ep-sensitivity`): DeepEP's
 * normal benchmark, one axis at a time around the H800 / 24-SM default — SMs 8..32 at EP8, EP32,
 * EP64; NVLink x1/x2 at EP8; NIC x0.5/x1/x2 at EP16 and EP32; H800/H100/H200 at EP8 and EP16 — with
 * rank 0's measured utilisation per kernel and the resource that binds (>= 90% used over the steady
 * state: ports by bytes moved / (capacity x time), the busiest SM by the time its issue slots, its
 * HBM rates or its bytes in flight bound; 'flow control' when none is). `EP_SENS_TOKENS` sets tokens per rank (default 1024, below
 * DeepEP's 4096 to keep wall time down on a small machine); `EP_SENS_ONLY=EP8,EP16` picks rows.
 */
import { runDeepepBenchmark, type DeepepBenchResult } from '../src/ep/normal/deepep-benchmark.js';
import { getHardwareProfile, type HardwareProfile } from '../src/hardware/profile.js';

interface Cell { axis: string; value: string; ranks: number; sms: number; hw: HardwareProfile }

function cells(): Cell[] {
  const H800 = getHardwareProfile('H800');
  const out: Cell[] = [];
  for (const ranks of [8, 32, 64]) for (const sms of [8, 16, 20, 24, 32]) out.push({ axis: 'SMs', value: String(sms), ranks, sms, hw: H800 });
  for (const x of [1, 2]) out.push({ axis: 'NVLink', value: `x${x}`, ranks: 8, sms: 24, hw: { ...H800, name: `H800 nvl x${x}`, nvlinkGBps: H800.nvlinkGBps * x } });
  for (const ranks of [16, 32])
    for (const x of [0.5, 1, 2]) out.push({ axis: 'NIC', value: `x${x}`, ranks, sms: 24, hw: { ...H800, name: `H800 nic x${x}`, ibGBps: H800.ibGBps * x } });
  for (const ranks of [8, 16]) for (const n of ['H800', 'H100', 'H200']) out.push({ axis: 'GPU', value: n, ranks, sms: 24, hw: getHardwareProfile(n) });
  const only = process.env['EP_SENS_ONLY']?.split(',');
  return only ? out.filter((c) => only.includes(`EP${c.ranks}`)) : out;
}

const pct = (x: number) => `${Math.round(x * 100)}`;

export default async function (): Promise<void> {
  const tokens = Number(process.env['EP_SENS_TOKENS'] ?? 1024);
  const cache = new Map<string, DeepepBenchResult>();
  console.log(`tokens per rank: ${tokens}; bandwidth: RDMA (internode) or NVLink (EP8), GB/s as DeepEP counts it; % used of rank 0 (issue / HBM / in flight: busiest SM; NVL / NIC: busier direction, bytes / capacity)`);
  console.log('| axis | value | EP | SMs | dispatch GB/s | issue / HBM / in flight / NVL / NIC % | binds | combine GB/s | issue / HBM / in flight / NVL / NIC % | binds |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of cells()) {
    const key = JSON.stringify([c.ranks, c.sms, { ...c.hw, name: '' }]);
    let r = cache.get(key);
    if (!r) {
      r = await runDeepepBenchmark({ ranks: c.ranks, sms: c.sms, tokens, hardware: c.hw, utilisation: true, workers: 1, transport: 'in-process' });
      cache.set(key, r);
    }
    const u = r.utilisation!;
    const bw = (k: 'dispatch' | 'combine') => (r.nodes > 1 ? r[k].rdmaGBps! : r[k].nvlGBps).toFixed(1);
    const busy = (k: 'dispatch' | 'combine') =>
      `${pct(u[k].smIssue)} / ${pct(u[k].hbm)} / ${pct(u[k].smInFlight)} / ${pct(Math.max(u[k].nvlinkOut, u[k].nvlinkIn))} / ${pct(Math.max(u[k].nicOut, u[k].nicIn))}`;
    console.log(`| ${c.axis} | ${c.value} | ${c.ranks} | ${c.sms} | ${bw('dispatch')} | ${busy('dispatch')} | ${u.dispatch.binding} | ${bw('combine')} | ${busy('combine')} | ${u.combine.binding} |`);
  }
}
