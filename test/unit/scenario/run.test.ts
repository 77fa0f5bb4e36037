import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario, planScenario, runMoeSteps, runScenario, type RunProgress, type ScenarioInput } from '../../../src/scenario/index.js';
import { layoutDigest } from '../../../src/scenario/plan.js';
import { checkAgainstReference, expertWeights, rankInput } from '../../../src/scenario/payload.js';
import type { PhaseRun } from '../../../src/scenario/moe-steps.js';
import { createCluster } from '../../../src/cluster/cluster.js';
import { TIMELINE_STRIDE } from '../../../src/sim/timeline.js';
import { expertFfn } from '../../../src/kernels/ffn.js';
import { fromBF16Bits, toBF16Array, toBF16Bits } from '../../../src/kernels/bf16.js';
import { validateTrace } from '../../../src/trace/validate.js';
import { stamp } from '../../../src/validate.js';
import { PLAN } from '../../../src/scenario/plan.js';

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
    const all: RunProgress[] = [];
    const r = await runScenario(parseScenario(input({ steps: 2, check: { hidden: 128, tokensPerRank: 16, moeIntermediateSize: 64 } })), {
      onProgress: (p) => {
        seen.push(`${p.run}:${p.phase}:${p.done}/${p.total}`);
        all.push(p);
      },
    });
    // Steps are 1-based; within a run, virtual time, phases done and events never go down.
    expect([...new Set(all.filter((p) => p.run === 'main').map((p) => p.step))]).toEqual([1, 2]);
    expect([...new Set(all.filter((p) => p.run === 'check').map((p) => p.step))]).toEqual([1]);
    for (const run of ['main', 'check'] as const) {
      const xs = all.filter((p) => p.run === run);
      for (let i = 1; i < xs.length; i++) {
        expect(xs[i]!.virtualUs).toBeGreaterThanOrEqual(xs[i - 1]!.virtualUs);
        expect(xs[i]!.done).toBeGreaterThanOrEqual(xs[i - 1]!.done);
        expect(xs[i]!.events).toBeGreaterThanOrEqual(xs[i - 1]!.events);
      }
      expect(xs[xs.length - 1]!.events).toBeGreaterThan(0);
    }
    expect(r.totalWallMs).toBeGreaterThanOrEqual(r.wallMs + r.check!.wallMs);
    expect(r.check?.payload).toBe('real');
    expect(r.check?.tokens.conserved).toBe(true);
    expect(r.check?.verified).toBe(true);
    expect(r.verified).toBeNull();
    expect(seen).toContain('main:combine:8/8');
    expect(seen).toContain('check:combine:4/4');
  });

  it('streams phases in order with absolute times, each phase holding its own transfers', async () => {
    const s = parseScenario(input({ steps: 2 }));
    const plan = planScenario(s);
    const cluster = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1, recordTimeline: true });
    try {
      const seen: PhaseRun[] = [];
      const res = await runMoeSteps(cluster, plan, { onPhase: (p) => seen.push(p) });
      expect(seen.map((p) => `${p.step}:${p.phase}`)).toEqual(['1:notify', '1:dispatch', '1:experts', '1:combine', '2:notify', '2:dispatch', '2:experts', '2:combine']);
      let prevEnd = 0;
      let n = 0;
      for (const [i, p] of res.phases.entries()) {
        expect(p.startUs).toBeGreaterThanOrEqual(prevEnd);
        expect(p.endUs).toBeGreaterThanOrEqual(p.startUs);
        prevEnd = p.endUs;
        // A kernel ends with its last task; a trailing flag may land a little later, before the next phase.
        const next = res.phases[i + 1]?.startUs ?? Infinity;
        for (const r of p.records) {
          expect(r.issueT).toBeGreaterThanOrEqual(p.startUs);
          expect(r.deliverT).toBeLessThanOrEqual(next + 1e-9);
        }
        n += p.records.length;
        if (p.phase !== 'experts') expect(p.records.length).toBeGreaterThan(0);
        else expect(p.compute).toHaveLength(4);
      }
      expect(res.timeline.length).toBe(n * TIMELINE_STRIDE);
      expect(res.tokensConserved).toBe(true);
      expect(res.tokensReceived).toBe(plan.steps.reduce((a, st) => a + st.sendTokens.reduce((x, y) => x + y, 0), 0));
    } finally {
      await cluster.close();
    }
  });

  it('runs real payloads through dispatch, experts and combine, matching the dense reference whatever the workers', async () => {
    const real = (workers: number, over: Partial<ScenarioInput> = {}) => parseScenario(input({
      payload: 'real', steps: 1, cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers },
      model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 128, moeIntermediateSize: 64, tokensPerRank: 24, numSharedExperts: 1 }, ...over,
    }));
    const a = await runScenario(real(1));
    const b = await runScenario(real(2));
    expect(a.verified).toBe(true);
    expect(a.tokens.conserved).toBe(true);
    expect(b.outputDigest).toBe(a.outputDigest);
    expect(b.timelineDigest).toBe(a.timelineDigest);
    // BF16 dispatch, no shared expert, EPLB with redundant replicas (physical slots are the EP layer's experts).
    const c = await runScenario(real(2, {
      model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 96, moeIntermediateSize: 32, tokensPerRank: 24, numSharedExperts: 0, dispatchFormat: 'bf16' },
      balancing: { enableEplb: true, numRedundantExperts: 4 }, routing: { mode: 'synthetic', zipf: 1.2, seed: 5 },
    }));
    expect(c.verified).toBe(true);
    expect(c.tokens.conserved).toBe(true);
    expect(c.outputDigest).not.toBe(a.outputDigest);
  });

  it('sizes-only with redundant experts conserves tokens and digests the received layout', async () => {
    const s = parseScenario(input({ steps: 1, balancing: { enableEplb: true, numRedundantExperts: 4 }, routing: { mode: 'synthetic', zipf: 1.5, seed: 1 } }));
    const r = await runScenario(s);
    expect(r.tokens.conserved).toBe(true);
    expect(r.outputDigest).toBe(layoutDigest(planScenario(s)));
  });

  it('the reference check accepts BF16 rounding and catches a wrong value', () => {
    const s = parseScenario(input({ payload: 'real', steps: 1, model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 128, moeIntermediateSize: 32, tokensPerRank: 6, numSharedExperts: 1 } }));
    const plan = planScenario(s);
    const { hidden: H, topk: K } = s.model;
    const inputs = Array.from({ length: plan.numRanks }, (_, r) => rankInput(plan, 0, r));
    const shared = [expertWeights(plan, -1)];
    // An independent dense computation, token by token, rounded to BF16 once.
    const y = inputs.map((inp, r) => {
      const out = new Float32Array(6 * H);
      for (let t = 0; t < 6; t++) {
        const row = inp.xf.subarray(t * H, (t + 1) * H);
        const acc = Float64Array.from(expertFfn(row, 1, shared[0]!));
        for (let j = 0; j < K; j++) {
          const p = plan.steps[0]!.slots[r]![t * K + j]!;
          const e = expertFfn(row, 1, expertWeights(plan, plan.layout.phy2log[p]!));
          for (let h = 0; h < H; h++) acc[h]! += inp.weights[t * K + j]! * e[h]!;
        }
        out.set(acc, t * H);
      }
      return toBF16Array(out);
    });
    expect(checkAgainstReference(plan, 0, inputs, y, shared).ok).toBe(true);
    const v = fromBF16Bits(y[1]![2 * H + 5]!);
    y[1]![2 * H + 5] = toBF16Bits(v + 0.5);
    const bad = checkAgainstReference(plan, 0, inputs, y, shared);
    expect(bad.ok).toBe(false);
    expect(bad.mismatches).toBe(1);
    expect(bad.first).toMatchObject({ rank: 1, token: 2, col: 5 });
  });

  it('writes the trace it has, marked incomplete, when the run fails midway', async () => {
    const path = join(dir, 'failed.trace.json');
    const boom = new Error('link 3 exploded');
    await expect(runScenario(parseScenario(input()), {
      trace: path,
      moeSteps: async (cluster, plan, opts) => {
        await runMoeSteps(cluster, stamp({ ...plan, steps: plan.steps.slice(0, 1) }, PLAN), opts);
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
