import { describe, expect, it } from 'vitest';
import { contiguousPlacement, gateFromLogits, isExpertmeshError } from '../../../src/index.js';
import { parseScenario, planScenario, runScenario, type ScenarioInput } from '../../../src/scenario/index.js';
import { routingFigures } from '../../../src/scenario/result.js';
import { nodeLimit } from '../../../src/scenario/route-steps.js';
import { formatRunSummary } from '../../../src/cli/table.js';

const input = (routing: ScenarioInput['routing'] = {}, over: Partial<ScenarioInput> = {}): ScenarioInput => ({
  name: 'warm',
  cluster: { nodes: 4, gpusPerNode: 2, transport: 'in-process', workers: 1 },
  model: { numExperts: 32, numGroups: 8, topkGroups: 4, topk: 4, hidden: 128, moeIntermediateSize: 64, tokensPerRank: 32 },
  routing: { mode: 'gate', zipf: 0.8, seed: 5, maxNodesPerToken: 2, biasUpdateRate: 0.01, ...routing },
  ...over,
});

describe('gate bias across steps and the routing-only warm-up', () => {
  it('a warm-up of N steps leaves the routing state of N full steps', () => {
    const N = 6;
    const warm = planScenario(parseScenario(input({ warmupSteps: N }, { steps: 2 })));
    const full = planScenario(parseScenario(input({ warmupSteps: 0 }, { steps: N + 2 })));
    expect(warm.warmup.steps).toBe(N);
    expect(full.warmup).toEqual({ steps: 0, last: null, bias: new Float64Array(32) });
    // the bias the warm-up left is the one full step N was routed with, and so is every later choice
    expect(warm.warmup.bias).toEqual(full.steps[N]!.bias);
    expect(warm.warmup.last!.expertLoad).toEqual(full.steps[N - 1]!.expertLoad);
    for (const i of [0, 1]) {
      expect(warm.steps[i]!.slots).toEqual(full.steps[N + i]!.slots);
      expect(warm.steps[i]!.bias).toEqual(full.steps[N + i]!.bias);
      expect(warm.steps[i]!.nodeTokens).toEqual(full.steps[N + i]!.nodeTokens);
    }
    // and the bias did move: step 0 starts at zero, step N does not
    expect(Array.from(full.steps[0]!.bias!).every((b) => b === 0)).toBe(true);
    expect(full.steps[N]!.bias!.some((b) => b !== 0)).toBe(true);
  });

  it('moves every expert’s bias by exactly ±γ (or 0) between steps, against its load', () => {
    const p = planScenario(parseScenario(input({}, { steps: 3 })));
    for (const i of [0, 1]) {
      const a = p.steps[i]!;
      const b = p.steps[i + 1]!;
      const meanLoad = 4 * 2 * 32 * 4 / 32; // tokens x topk / experts
      a.expertLoad.forEach((load, e) => {
        const want = load > meanLoad ? -0.01 : load < meanLoad ? 0.01 : 0;
        expect(b.bias![e]! - a.bias![e]!).toBeCloseTo(want, 15);
      });
    }
  });

  it('biasUpdateRate 0 is a gate with no bias; synthetic routing has none either', () => {
    for (const routing of [{ biasUpdateRate: 0 }, { mode: 'synthetic' as const, maxNodesPerToken: undefined }]) {
      const p = planScenario(parseScenario(input(routing, { steps: 2 })));
      expect(p.steps.map((st) => st.bias)).toEqual([null, null]);
      const f = routingFigures(p);
      expect(f.steps.map((st) => st.bias)).toEqual([null, null]);
      expect(f.warmup).toEqual({ steps: 0, load: null, bias: null });
    }
  });

  it('rejects a warm-up without the gate, and a bias on one-expert groups, naming the field', () => {
    const code = (i: ScenarioInput) => {
      try {
        parseScenario(i);
        return 'ok';
      } catch (e) {
        return isExpertmeshError(e) ? `${e.code} ${e.message}` : 'other';
      }
    };
    expect(code(input({ mode: 'synthetic', maxNodesPerToken: undefined, warmupSteps: 3 }))).toMatch(/^E_SCENARIO .*routing\.warmupSteps: got 3; .*routing\.mode 'gate'/);
    expect(code(input({ maxNodesPerToken: undefined }, { model: { numExperts: 8, numGroups: 8, topkGroups: 8, topk: 2 }, cluster: { nodes: 1, gpusPerNode: 2 } })))
      .toMatch(/^E_SCENARIO .*routing\.biasUpdateRate: got 0\.01; .*1 per group/);
    expect(code(input({ biasUpdateRate: 2 }))).toMatch(/routing\.biasUpdateRate: got 2; allowed: <= 1/);
    expect(code(input({ warmupSteps: -1 }))).toMatch(/routing\.warmupSteps: got -1; allowed: >= 0/);
    expect(parseScenario(input({ biasUpdateRate: undefined })).routing.biasUpdateRate).toBe(0.001);
  });

  it('skips the node limit only where the group limit implies it, choosing the same experts', () => {
    const v3 = parseScenario({ cluster: { nodes: 8, gpusPerNode: 8 }, routing: { mode: 'gate', maxNodesPerToken: 4 } });
    expect(nodeLimit(v3, 64)).toBeUndefined();
    expect(nodeLimit(parseScenario({ cluster: { nodes: 8, gpusPerNode: 8 }, routing: { mode: 'gate', maxNodesPerToken: 3 } }), 64)?.maxNodes).toBe(3);
    expect(nodeLimit(parseScenario({ cluster: { nodes: 4, gpusPerNode: 8 }, model: { numGroups: 16, topkGroups: 8 }, routing: { mode: 'gate', maxNodesPerToken: 4 } }), 32)?.maxNodes).toBe(4);
    // V3's shape: the node limit, applied, changes nothing
    const E = 256;
    const tokens = 256;
    const logits = Float64Array.from({ length: tokens * E }, (_, i) => Math.sin(i * 1.7) * 2);
    const bias = Float64Array.from({ length: E }, (_, e) => Math.cos(e * 3) * 0.05);
    const config = { scoreFunc: 'sigmoid', numExperts: E, topk: 8, numGroups: 8, topkGroups: 4, routeScale: 2.5 } as const;
    expect(gateFromLogits(logits, bias, tokens, config, { placement: contiguousPlacement(E, 64, 8), maxNodes: 4 })).toEqual(gateFromLogits(logits, bias, tokens, config));
  });

  it('reports the warm-up and every step: load, tokens per node pair, bias range, in the result and the summary', async () => {
    const r = await runScenario(parseScenario(input({ warmupSteps: 3 }, { steps: 2 })));
    const g = r.routing;
    expect(g.mode).toBe('gate');
    expect(g.biasUpdateRate).toBe(0.01);
    expect(g.warmup.steps).toBe(3);
    expect(g.warmup.load!.expert.mean).toBe(4 * 2 * 32 * 4 / 32);
    expect(g.warmup.load!.gpu.mean).toBe(4 * 2 * 32 * 4 / 8);
    // after 3 updates of ±0.01 the bias lies within ±0.03
    expect(g.warmup.bias!.min).toBeGreaterThanOrEqual(-0.03 - 1e-12);
    expect(g.warmup.bias!.max).toBeLessThanOrEqual(0.03 + 1e-12);
    expect(g.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(g.steps[0]!.bias).toEqual(g.warmup.bias);
    for (const st of g.steps) {
      expect(st.nodeTokens).toHaveLength(4);
      // every token of a node reaches 1 or 2 of the 4 nodes (node limit M = 2)
      for (const row of st.nodeTokens) {
        const sum = row.reduce((a, b) => a + b, 0);
        expect(sum).toBeGreaterThanOrEqual(2 * 32);
        expect(sum).toBeLessThanOrEqual(2 * 2 * 32);
      }
      expect(st.load.expert.mean).toBe(32);
    }
    // the per-step expert load also makes up the run's expert load figures
    expect(r.load.expert.max).toBe(Math.max(...g.steps.map((s) => s.load.expert.max)));
    const text = formatRunSummary(r);
    expect(text).toMatch(/routing: gate, bias update rate 0\.01; warm-up 3 step\(s\), the last at expert max\/mean \d+\.\d\d, GPU max\/mean \d+\.\d\d, bias left -0\.0\d\d\.\.0\.0\d\d/);
    expect(text).toMatch(/step +expert max\/mean +GPU max\/mean +inter-node tokens +node pair max\/mean +bias/);
    expect(text).toMatch(/tokens per node pair, step 2:\nsrc\/dst +node 0 +node 1 +node 2 +node 3/);
    expect(JSON.parse(JSON.stringify(r)).routing.steps[1].nodeTokens).toEqual(g.steps[1]!.nodeTokens);
  });

  it('a run aborts during its warm-up, between routing steps', async () => {
    const c = new AbortController();
    c.abort();
    const err = await runScenario(parseScenario(input({ warmupSteps: 50 })), { signal: c.signal }).catch((e: unknown) => e);
    expect(isExpertmeshError(err) && err.code).toBe('E_ABORTED');
    expect((err as Error).message).toBe('run aborted while routing, after warm-up step 1 of 50');
  });
});
