import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, loadScenario, parseScenario } from '../../../src/scenario/index.js';
import { isExpertmeshError } from '../../../src/errors.js';
import { scenarioEpConfigs } from '../../../src/scenario/moe-steps.js';

const small = { cluster: { nodes: 1, gpusPerNode: 4 }, model: { numExperts: 16, numGroups: 4, topkGroups: 2, topk: 4 } };

function message(input: unknown): string {
  try {
    parseScenario(input);
  } catch (e) {
    expect(isExpertmeshError(e) && e.code).toBe('E_SCENARIO');
    const m = (e as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('expected a scenario error');
}

describe('scenario schema', () => {
  it('fills in defaults', () => {
    const s = parseScenario({ cluster: { nodes: 4 } });
    expect(s.cluster).toMatchObject({ nodes: 4, gpusPerNode: 8, hardware: 'H800', transport: 'worker' });
    expect(s.model).toMatchObject({ numExperts: 256, topk: 8, hidden: 7168, tokensPerRank: 4096 });
    // Ring fields left out take DeepEP's defaults for the rank count (EP32: reference §1).
    expect(s.dispatchConfig).toEqual({ numSms: 24 });
    expect(scenarioEpConfigs(s).dispatch).toEqual({ numSms: 24, nvlChunk: 32, nvlBuffer: 288, rdmaChunk: 8, rdmaBuffer: 128, source: 'deepep' });
    expect(scenarioEpConfigs(s).combine).toEqual({ numSms: 24, nvlChunk: 1, nvlBuffer: 288, rdmaChunk: 8, rdmaBuffer: 128, source: 'deepep' });
    expect(scenarioEpConfigs(parseScenario({ cluster: { nodes: 4 }, combineConfig: { nvlChunk: 2 } })).combine).toMatchObject({ nvlChunk: 2, nvlBuffer: 288, source: 'given' });
    // EP40: EP32's entry as it is; its combine ring (288) fails DeepEP's divisibility assert on 5 nodes.
    expect(() => scenarioEpConfigs(parseScenario({ cluster: { nodes: 5 }, model: { numExperts: 320 } }))).toThrow(/% num_rdma_ranks == 0.*"combineConfig": \{ "nvlBuffer": 290 \}/);
    const e40 = scenarioEpConfigs(parseScenario({ cluster: { nodes: 5 }, model: { numExperts: 320 }, combineConfig: { nvlBuffer: 290 } }));
    expect(e40.dispatch).toMatchObject({ nvlChunk: 32, source: 'nearest', entryRanks: 32 });
    expect(e40.combine).toMatchObject({ nvlChunk: 1, nvlBuffer: 290, source: 'given' });
    expect(s.payload).toBe('sizes-only');
    expect(s.steps).toBe(1);
    expect(s.trace).toBeUndefined();
  });

  it('the embedded default is DeepSeek-V3 prefill EP32 with a reduced real-payload check', () => {
    const s = parseScenario(structuredClone(DEFAULT_SCENARIO));
    expect(s.cluster.nodes * s.cluster.gpusPerNode).toBe(32);
    expect(s.model).toMatchObject({ hidden: 7168, tokensPerRank: 4096, numExperts: 256, topk: 8 });
    expect(s.payload).toBe('sizes-only');
    expect(s.check).toEqual({ hidden: 512, tokensPerRank: 256, moeIntermediateSize: 64 });
  });

  it('rejects unknown fields, naming them and the allowed ones', () => {
    expect(message({ ...small, color: 'red' })).toMatch(/unknown field color; allowed fields: name, .*cluster/);
    expect(message({ cluster: { nodes: 1, gpu: 8 } })).toMatch(/unknown field cluster\.gpu; allowed fields of cluster: nodes, gpusPerNode/);
    expect(message({ ...small, dispatchConfig: { num_sms: 20 } })).toMatch(/dispatchConfig\.num_sms; allowed fields of dispatchConfig: numSms, nvlChunk/);
  });

  it('names the field, the bad value and what is allowed', () => {
    expect(message({ cluster: { nodes: 0 } })).toBe('scenario: cluster.nodes: got 0; allowed: >= 1');
    expect(message({ cluster: { nodes: 1.5 } })).toMatch(/cluster\.nodes: got 1\.5 .*integer/);
    expect(message({ cluster: { nodes: '2' } })).toMatch(/cluster\.nodes: got "2" \(string\); allowed: a number/);
    expect(message({ cluster: {} })).toMatch(/cluster\.nodes is required/);
    expect(message({ ...small, payload: 'full' })).toBe('scenario: payload: got "full"; allowed: "real", "sizes-only"');
    expect(message({ ...small, routing: { mode: 'random' } })).toMatch(/routing\.mode: got "random"; allowed: "gate", "synthetic"/);
    expect(message([])).toMatch(/must be a JSON object/);
  });

  it('checks fields against each other', () => {
    expect(message({ cluster: { nodes: 3 } })).toMatch(/model\.numExperts: got 256; .*multiple of the 24 ranks/);
    expect(message({ ...small, model: { ...small.model, topkGroups: 5 } })).toMatch(/model\.topkGroups: got 5; allowed: at most model\.numGroups \(4\)/);
    expect(message({ ...small, model: { ...small.model, numGroups: 3 } })).toMatch(/model\.numGroups: got 3; allowed: a divisor/);
    expect(message({ ...small, model: { ...small.model, topk: 9 } })).toMatch(/model\.topk: got 9; allowed: at most/);
    expect(message({ ...small, balancing: { numRedundantExperts: 4 } })).toMatch(/need balancing\.enableEplb/);
    expect(message({ ...small, balancing: { enableEplb: true, numRedundantExperts: 3 } })).toMatch(/balancing\.numRedundantExperts: got 3; .*\(19\) must be a multiple of the 4 ranks/);
    expect(message({ ...small, cluster: { nodes: 1, gpusPerNode: 4, hardware: 'A100' } })).toMatch(/cluster\.hardware: got "A100"; allowed: "H800", "H100", "H200"/);
    expect(message({ ...small, cluster: { nodes: 1, gpusPerNode: 4, workers: 5 } })).toMatch(/cluster\.workers: got 5/);
    expect(message({ ...small, dispatchConfig: { numSms: 21 } })).toMatch(/dispatchConfig\.numSms: got 21; allowed: an even number/);
    expect(message({ ...small, combineConfig: { nvlChunk: 300, nvlBuffer: 256 } })).toMatch(/combineConfig\.nvlChunk: got 300; DeepEP's assert `num_max_nvl_chunked_send_tokens < num_max_nvl_chunked_recv_tokens` fails: NVLink send chunk \(300\) vs NVLink receive ring \(256\)/);
    expect(message({ ...small, dispatchConfig: { numSms: 20 }, combineConfig: { numSms: 24 } })).toMatch(/combineConfig\.numSms: got 24; allowed: dispatchConfig\.numSms \(20\)/);
    // Internode rings: the EP layer's deadlock rules, on the config as DeepEP aligns it (RDMA ring up to a multiple of the chunk).
    const two = { ...small, cluster: { nodes: 2, gpusPerNode: 2 } };
    expect(message({ ...two, combineConfig: { nvlBuffer: 255 } })).toMatch(/combineConfig\.nvlBuffer: got 255; DeepEP's assert `num_max_nvl_chunked_recv_tokens % num_rdma_ranks == 0` fails: NVLink receive ring \(255\) % 2 nodes = 1/);
    expect(() => parseScenario({ ...two, dispatchConfig: { nvlBuffer: 255 } })).not.toThrow();
    expect(message({ ...two, dispatchConfig: { rdmaChunk: 130, rdmaBuffer: 128 } })).toMatch(/dispatchConfig\.rdmaChunk: got 130; DeepEP's assert `num_max_rdma_chunked_send_tokens <= num_max_rdma_chunked_recv_tokens \/ 2` fails: RDMA send chunk \(130\), RDMA receive ring \(130\)/);
    expect(() => parseScenario({ ...two, dispatchConfig: { rdmaChunk: 28, rdmaBuffer: 128 } })).not.toThrow();
    expect(message({ ...small, model: { ...small.model, hidden: 200 } })).toMatch(/model\.hidden: got 200; allowed: a multiple of 128 with model\.dispatchFormat 'fp8'/);
    expect(message({ ...small, check: { hidden: 64 } })).toMatch(/check\.hidden: got 64; allowed: a multiple of 128/);
    expect(() => parseScenario({ ...small, model: { ...small.model, hidden: 200, dispatchFormat: 'bf16' }, check: { hidden: 64 } })).not.toThrow();
    expect(message({ ...small, routing: { mode: 'gate', maxNodesPerToken: 2 } })).toMatch(/routing\.maxNodesPerToken: got 2; allowed: at most cluster\.nodes \(1\)/);
    expect(message({ ...small, trace: { path: 'x.json', sampling: { ranks: [9] } } })).toMatch(/trace\.sampling\.ranks\.0: got 9/);
  });

  it('loads files and reports unreadable or malformed ones', () => {
    expect(() => loadScenario('/nonexistent/s.json')).toThrow(/cannot read scenario file \/nonexistent\/s\.json: ENOENT/);
    expect(() => loadScenario('package.json')).toThrow(/package\.json: unknown field/);
    expect(() => loadScenario('README.md')).toThrow(/README\.md is not valid JSON/);
  });

  it('validates every example, including EP64 training and EP32 prefill with 32 redundant experts', () => {
    const dir = 'examples';
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const loaded = files.map((f) => loadScenario(join(dir, f)));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const ep = loaded.map((s) => s.cluster.nodes * s.cluster.gpusPerNode);
    expect(ep).toContain(64);
    const prefill = loaded.find((s) => s.balancing.numRedundantExperts === 32)!;
    expect(prefill.cluster.nodes * prefill.cluster.gpusPerNode).toBe(32);
    expect(prefill.balancing.enableEplb).toBe(true);
  });
});
