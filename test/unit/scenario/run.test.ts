import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario, planScenario, runMoeSteps, runScenario, type ScenarioInput } from '../../../src/scenario/index.js';
import { validateTrace } from '../../../src/trace/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = (over: Partial<ScenarioInput> = {}): ScenarioInput => ({
  name: 'tiny',
  cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 1 },
  model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 256, moeIntermediateSize: 128, tokensPerRank: 64 },
  routing: { mode: 'gate', zipf: 0.5, seed: 3 },
  steps: 2,
  ...over,
});

describe('planScenario', () => {
  it('routes deterministically and counts every (token, k) once', () => {
    const s = parseScenario(input());
    const a = planScenario(s);
    const b = planScenario(s);
    expect(a.steps[0]!.sendTokens).toEqual(b.steps[0]!.sendTokens);
    for (const st of a.steps) {
      expect(st.slotLoad.reduce((x, y) => x + y, 0)).toBe(4 * 64 * 2);
      expect(st.expertLoad.reduce((x, y) => x + y, 0)).toBe(4 * 64 * 2);
    }
  });

  it('places redundant experts with EPLB', () => {
    const s = parseScenario(input({ balancing: { enableEplb: true, numRedundantExperts: 4 }, routing: { mode: 'synthetic', zipf: 1.5, seed: 1 } }));
    const p = planScenario(s);
    expect(p.layout.phy2log.length).toBe(12);
    expect(p.layout.slotsPerGpu).toBe(3);
    expect(p.steps[0]!.slotLoad.reduce((x, y) => x + y, 0)).toBe(4 * 64 * 2);
  });
});

describe('runScenario', () => {
  it('returns per-phase figures, conserved tokens and digests', async () => {
    const r = await runScenario(parseScenario(input()));
    expect(r.schemaVersion).toBe(1);
    expect(r.phases.dispatch.timeUs).toBeGreaterThan(0);
    expect(r.phases.combine.timeUs).toBeGreaterThan(0);
    expect(r.phases.experts.timeUs).toBeGreaterThan(0);
    expect(r.phases.dispatch.bytes.ib).toBeGreaterThan(0);
    expect(r.phases.dispatch.bandwidthGBps.nvlink).toBeGreaterThan(0);
    expect(r.tokens.conserved).toBe(true);
    expect(r.tokens.received).toBe(r.tokens.dispatched);
    expect(r.load.gpu.maxOverMean).toBeGreaterThanOrEqual(1);
    expect(r.outputDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.timelineDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.check).toBeNull();
    expect(r.trace).toBeNull();
  });

  it('gives the same digests whatever the workers and with or without a trace', async () => {
    const base = await runScenario(parseScenario(input()));
    const two = await runScenario(parseScenario(input({ cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 2 } })));
    const path = join(dir, 'digest.trace.json');
    const traced = await runScenario(parseScenario(input({ cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 4 } })), { trace: path });
    for (const r of [two, traced]) {
      expect(r.outputDigest).toBe(base.outputDigest);
      expect(r.timelineDigest).toBe(base.timelineDigest);
    }
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(validateTrace(doc.traceEvents)).toEqual([]);
    expect(doc.otherData.incomplete).toBe(false);
    expect(traced.trace?.events).toBe(doc.traceEvents.length);
  });

  it('changes the digests with the seed', async () => {
    const a = await runScenario(parseScenario(input({ steps: 1 })));
    const b = await runScenario(parseScenario(input({ steps: 1, routing: { mode: 'gate', zipf: 0.5, seed: 4 } })));
    expect(b.outputDigest).not.toBe(a.outputDigest);
  });

  it('runs the reduced real-payload check after the main run and reports progress', async () => {
    const seen: string[] = [];
    const r = await runScenario(parseScenario(input({ steps: 1, check: { hidden: 128, tokensPerRank: 16, moeIntermediateSize: 64 } })), {
      onProgress: (p) => seen.push(`${p.run}:${p.phase}:${p.done}/${p.total}`),
    });
    expect(r.check?.payload).toBe('real');
    expect(r.check?.tokens.conserved).toBe(true);
    expect(seen).toContain('main:combine:4/4');
    expect(seen).toContain('check:combine:4/4');
  });

  it('writes the trace it has, marked incomplete, when the run fails midway', async () => {
    const path = join(dir, 'failed.trace.json');
    const boom = new Error('link 3 exploded');
    await expect(runScenario(parseScenario(input()), {
      trace: path,
      moeSteps: async (cluster, plan, opts) => {
        await runMoeSteps(cluster, { ...plan, steps: plan.steps.slice(0, 1) }, opts);
        throw boom;
      },
    })).rejects.toBe(boom);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.otherData.incomplete).toBe(true);
    expect(doc.otherData.error).toBe('link 3 exploded');
    expect(doc.traceEvents.some((e: { cat?: string }) => e.cat === 'transfer')).toBe(true);
    expect(validateTrace(doc.traceEvents)).toEqual([]);
  });

  it('aborts through its signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runScenario(parseScenario(input()), { signal: ac.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('refuses an unwritable trace path before running', async () => {
    await expect(runScenario(parseScenario(input()), { trace: join(dir, 'no', 'such', 'dir.json') })).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});
