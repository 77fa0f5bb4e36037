/**
 * The public API under wrong-typed, NaN, negative, huge and missing values: every call returns or
 * throws a coded ExpertmeshError, never a TypeError, RangeError or an uncoded throw. Arguments are
 * valid ones with one field replaced or removed (to get past the first checks), or odd values.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as api from '../../src/index.js';
import { oddValue } from '../../fuzz/targets.js';

/** A valid value with one field replaced by an odd value or removed. */
function mutated(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(base);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...keys), oddValue, fc.boolean()).map(([k, v, drop]) => {
      const o: Record<string, unknown> = { ...base };
      if (drop) delete o[k];
      else o[k] = v;
      return o;
    }),
    oddValue,
  );
}

const tinyScenario = {
  cluster: { nodes: 1, gpusPerNode: 2, transport: 'in-process', workers: 1 },
  model: { numExperts: 4, numGroups: 2, topkGroups: 1, topk: 2, hidden: 128, moeIntermediateSize: 32, tokensPerRank: 4 },
};
const scenarioArb = fc.oneof(
  mutated(tinyScenario),
  mutated(tinyScenario.cluster).map((cluster) => ({ ...tinyScenario, cluster })),
  mutated(tinyScenario.model).map((model) => ({ ...tinyScenario, model })),
);

let cluster: api.Cluster;
beforeAll(async () => {
  vi.stubEnv('EXPERTMESH_HOST_MEMORY_LIMIT', String(4e9));
  cluster = await api.createCluster({ nodes: 1, gpusPerNode: 4, hardware: 'H800', transport: 'in-process', workers: 1 });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await cluster?.close();
});

/** Functions of the public API and how to call them with arguments drawn from an arbitrary. */
const CALLS: Array<[string, fc.Arbitrary<unknown[]>, (args: unknown[]) => unknown]> = [
  ['createCluster', fc.tuple(mutated({ nodes: 1, gpusPerNode: 2, hardware: 'H800', transport: 'in-process', workers: 1 })), (a) => api.createCluster(a[0] as never)],
  ['allToAll', fc.tuple(mutated({ bytesPerPair: 64, seed: 1, sizesOnly: true })), (a) => api.allToAll(cluster, a[0] as never)],
  ['allToAll (cluster)', fc.tuple(oddValue), (a) => api.allToAll(a[0] as never, { bytesPerPair: 8 })],
  ['runTraffic', fc.tuple(fc.oneof(fc.array(mutated({ src: 0, dst: 1, bytes: 64, atUs: 0 }), { maxLength: 3 }), oddValue)), (a) => api.runTraffic(cluster, a[0] as never)],
  ['createExpertParallel', fc.tuple(mutated({ numExperts: 8, hidden: 128, topk: 2, dtype: 'bf16', numSms: 4, sizesOnly: true })), (a) => api.createExpertParallel(cluster, a[0] as never)],
  ['estimateDeepepBenchmark', fc.tuple(mutated({ ranks: 2, tokens: 8, hidden: 128, topk: 2, experts: 8, sms: 4, dtype: 'bf16' })), (a) => api.estimateDeepepBenchmark(a[0] as never)],
  ['runDeepepBenchmark', fc.tuple(mutated({ ranks: 2, tokens: 4, hidden: 128, topk: 2, experts: 4, sms: 2, dtype: 'bf16', transport: 'in-process', workers: 1 })), (a) => api.runDeepepBenchmark(a[0] as never)],
  ['parseScenario', fc.tuple(scenarioArb), (a) => api.parseScenario(a[0])],
  ['loadScenario', fc.tuple(fc.oneof(scenarioArb, fc.string({ maxLength: 6 }))), (a) => api.loadScenario(a[0] as never)],
  ['planScenario', fc.tuple(scenarioArb), (a) => api.planScenario(a[0] as never)],
  ['estimateScenario', fc.tuple(scenarioArb), (a) => api.estimateScenario(a[0] as never)],
  ['runScenario', fc.tuple(scenarioArb), (a) => api.runScenario(a[0] as never)],
  ['checkScenarioOf', fc.tuple(scenarioArb), (a) => api.checkScenarioOf(a[0] as never)],
  ['dispatchBytesPerToken', fc.tuple(scenarioArb), (a) => api.dispatchBytesPerToken(a[0] as never)],
  ['summarizeTrace', fc.tuple(fc.oneof(oddValue, fc.record({ traceEvents: fc.array(oddValue, { maxLength: 3 }) }))), (a) => api.summarizeTrace(a[0] as never)],
  ['resolveTraceOptions', fc.tuple(mutated({ detail: 'full', every: 2, maxLanes: 4, ranks: [0] })), (a) => api.resolveTraceOptions(a[0] as never)],
  ['timelineDigest', fc.tuple(oddValue), (a) => api.timelineDigest(a[0] as never)],
  ['timelineRecords', fc.tuple(oddValue), (a) => api.timelineRecords(a[0] as never)],
  ['getHardwareProfile', fc.tuple(oddValue), (a) => api.getHardwareProfile(a[0] as never)],
  ['validateHardwareProfile', fc.tuple(mutated({ ...api.H800 })), (a) => api.validateHardwareProfile(a[0] as never)],
  ['validateEpConfig', fc.tuple(mutated({ numSms: 4, nvlChunk: 2, nvlBuffer: 8, rdmaChunk: 2, rdmaBuffer: 8 }), fc.oneof(fc.constant(2), oddValue), oddValue), (a) => api.validateEpConfig(a[0] as never, a[1] as never, a[2] as never)],
  ['cluster.register', fc.tuple(oddValue, oddValue, oddValue), (a) => cluster.register(a[0] as never, a[1] as never, a[2] as never)],
  ['cluster.snapshot', fc.tuple(oddValue), (a) => cluster.snapshot(a[0] as never)],
];

describe('public API: only coded errors under bad input', () => {
  for (const [name, args, call] of CALLS) {
    it(name, { timeout: 60_000 }, async () => {
      await fc.assert(fc.asyncProperty(args, async (a) => {
        let r: unknown;
        try {
          r = await call(a);
        } catch (e) {
          if (!api.isExpertmeshError(e)) throw new Error(`${name}(${a.map((x) => api.isExpertmeshError(x) ? '' : String(JSON.stringify(x)).slice(0, 80)).join(', ')}) threw an uncoded ${String(e)}`);
          expect(api.ERROR_CODES).toContain(e.code);
          return;
        }
        if (r instanceof api.Cluster) await r.close();
        if (name === 'cluster.register' && typeof a[0] === 'number' && typeof a[1] === 'string') cluster.unregister(a[0], a[1]);
      }), { numRuns: 40, seed: 19 });
    });
  }
});
