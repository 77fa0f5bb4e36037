/**
 * @module
 * Cross-field rules of a scenario: what no single field can check (divisibility, limits that
 * depend on other fields, the hardware name).
 */
import { checkDeepepGpusPerNode, checkRowBytes } from '../hardware/shape-rules.js';
import { fail, isExpertmeshError, showValue } from '../errors.js';
import { hardwareProfileNames } from '../hardware/profile.js';
import { resolveHardware } from '../hardware/profile-file.js';
import { MAX_RANKS } from '../cluster/config.js';
import { scenarioEpConfigs, withCommSms } from './moe-steps.js';
import type { Scenario } from './schema.js';

/** Throws `E_SCENARIO` naming the first rule a validated scenario breaks. */
export function checkScenario(s: Scenario, source = 'scenario'): void {
  const bad = (field: string, value: unknown, message: string): never =>
    fail('E_SCENARIO', `${source}: ${field}: got ${showValue(value)}; ${message}`, { source, field, value });
  const { cluster: c, model: m, balancing: b, routing: r } = s;
  const ranks = c.nodes * c.gpusPerNode;
  const rule = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!isExpertmeshError(e)) throw e;
      fail('E_SCENARIO', `${source}: ${e.message}`, { source, ...e.data });
    }
  };
  rule(() => checkDeepepGpusPerNode(c.gpusPerNode, 'cluster.gpusPerNode', 'gpusPerNode'));
  if (ranks > MAX_RANKS) bad('cluster.nodes', c.nodes, `nodes x gpusPerNode must be at most ${MAX_RANKS} ranks, this is ${ranks}`);
  try {
    resolveHardware(c.hardware, 'cluster.hardware');
  } catch (e) {
    if (!isExpertmeshError(e) || e.code !== 'E_CONFIG') throw e;
    bad(typeof e.data['field'] === 'string' ? `cluster.hardware.${e.data['field']}` : 'cluster.hardware', c.hardware,
      `allowed: ${hardwareProfileNames().map((n) => JSON.stringify(n)).join(', ')}, a profile file or object (${e.message})`);
  }
  if (c.workers !== undefined && c.workers > ranks) bad('cluster.workers', c.workers, `allowed: at most one worker per rank (${ranks} ranks)`);
  if (m.numExperts % m.numGroups !== 0) bad('model.numGroups', m.numGroups, `allowed: a divisor of model.numExperts (${m.numExperts})`);
  if (m.topkGroups > m.numGroups) bad('model.topkGroups', m.topkGroups, `allowed: at most model.numGroups (${m.numGroups})`);
  const reachable = m.topkGroups * (m.numExperts / m.numGroups);
  if (m.topk > reachable) bad('model.topk', m.topk, `allowed: at most topkGroups x experts per group = ${reachable}`);
  if (b.numRedundantExperts > 0 && !b.enableEplb) bad('balancing.numRedundantExperts', b.numRedundantExperts, 'redundant experts need balancing.enableEplb: true');
  const slots = m.numExperts + b.numRedundantExperts;
  if (slots % ranks !== 0)
    bad(b.numRedundantExperts > 0 ? 'balancing.numRedundantExperts' : 'model.numExperts', b.numRedundantExperts > 0 ? b.numRedundantExperts : m.numExperts,
      `numExperts + numRedundantExperts (${slots}) must be a multiple of the ${ranks} ranks (nodes ${c.nodes} x gpusPerNode ${c.gpusPerNode}); rule 'experts-divisible-by-ranks'`);
  if (r.maxNodesPerToken !== undefined) {
    if (r.maxNodesPerToken > c.nodes) bad('routing.maxNodesPerToken', r.maxNodesPerToken, `allowed: at most cluster.nodes (${c.nodes})`);
    if (r.mode !== 'gate') bad('routing.maxNodesPerToken', r.maxNodesPerToken, "node-limited routing needs routing.mode 'gate'");
  }
  if (r.mode === 'gate' && r.biasUpdateRate > 0 && m.numGroups > 1 && m.numExperts / m.numGroups < 2)
    bad('routing.biasUpdateRate', r.biasUpdateRate, `a biased gate scores each group by its 2 best experts, and model.numGroups ${m.numGroups} leaves 1 per group; use 0 (no bias) or fewer groups`);
  if (r.warmupSteps > 0 && r.mode !== 'gate') bad('routing.warmupSteps', r.warmupSteps, "a warm-up balances the gate's bias; it needs routing.mode 'gate'");
  for (const [field, h] of [['model.hidden', m.hidden], ['check.hidden', s.check?.hidden]] as const) {
    if (h !== undefined && m.dispatchFormat === 'fp8' && h % 128 !== 0)
      bad(field, h, "allowed: a multiple of 128 with model.dispatchFormat 'fp8' (one scale per 128 values); or use dispatchFormat 'bf16'");
    if (h !== undefined) rule(() => checkRowBytes(h, m.dispatchFormat, field, 'hidden'));
  }
  for (const k of ['dispatchConfig', 'combineConfig'] as const)
    if (s[k].numSms % 2 !== 0) bad(`${k}.numSms`, s[k].numSms, 'allowed: an even number (DeepEP runs numSms / 2 channels)');
  // DeepEP's asserts on the configs as they will run (its defaults for the rank count where not given).
  try {
    scenarioEpConfigs(s);
  } catch (e) {
    if (!isExpertmeshError(e) || e.code !== 'E_CONFIG') throw e;
    const f = typeof e.data['field'] === 'string' ? e.data['field'] : 'dispatchConfig';
    const k = f.startsWith('combine') ? 'combineConfig' : 'dispatchConfig';
    bad(f, (s[k] as Record<string, unknown>)[f.slice(k.length + 1)] ?? e.data['value'] ?? s[k], e.message.replace(/^\w+Config[.:]?\s*/, ''));
  }
  if (s.combineConfig.numSms !== s.dispatchConfig.numSms)
    bad('combineConfig.numSms', s.combineConfig.numSms, `allowed: dispatchConfig.numSms (${s.dispatchConfig.numSms}); combine walks the dispatch's channels`);
  if (s.schedule) {
    const sc = s.schedule;
    if (s.payload !== 'sizes-only') bad('schedule', sc.kind, "a scheduled run needs payload 'sizes-only'");
    if (sc.commSms % 2 !== 0) bad('schedule.commSms', sc.commSms, 'allowed: an even number (DeepEP runs numSms / 2 channels)');
    if (sc.kind === 'two-batch-overlap' && m.tokensPerRank < 2) bad('model.tokensPerRank', m.tokensPerRank, 'two micro-batches need at least 2 tokens per rank');
    try {
      scenarioEpConfigs(withCommSms(s));
    } catch (e) {
      if (!isExpertmeshError(e) || e.code !== 'E_CONFIG') throw e;
      bad('schedule.commSms', sc.commSms, e.message);
    }
  }
  if (s.trace?.sampling.ranks) for (const [i, rk] of s.trace.sampling.ranks.entries())
    if (rk >= ranks) bad(`trace.sampling.ranks.${i}`, rk, `allowed: a rank in [0, ${ranks - 1}]`);
}
