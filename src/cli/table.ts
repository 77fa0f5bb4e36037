/**
 * @module
 * Plain-text tables for the end of a run and for `trace summarize`.
 */
import type { EpConfig } from '../ep/normal/ep-config.js';
import { PHASES } from '../scenario/moe-steps.js';
import type { BiasRange, RoutingFigures, RunFigures, ScenarioResult } from '../scenario/result.js';
import type { TraceSummary } from '../trace/summarize.js';
import { formatBytes } from '../cluster/host-limits.js';

/** Left-aligned first column, right-aligned others. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const w = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

const f1 = (v: number) => v.toFixed(1);

/** One kernel config on a line: `(sms 24, nvl 32/288, rdma 8/128, deepep)`. */
export function formatEpConfig(c: EpConfig): string {
  const src = c.source === 'nearest' ? `nearest: EP${c.entryRanks}'s entry` : (c.source ?? 'given');
  return `(sms ${c.numSms}, nvl ${c.nvlChunk}/${c.nvlBuffer}, rdma ${c.rdmaChunk}/${c.rdmaBuffer}, ${src})`;
}
const f2 = (v: number) => v.toFixed(2);
const f1n = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(1));

/**
 * What every column of the run summary means (printed by `expertmesh run --help`; docs/getting-started.md
 * says the same).
 */
export const RUN_SUMMARY_COLUMNS = `Summary columns (per phase of the MoE layer, summed over steps):
  virtual us           simulated time of the phase
  RDMA GB/s, NVL GB/s  dispatch and combine bandwidth as DeepEP's test and \`bench deepep\` print it, for
                       rank 0: RDMA = (token, node) pairs the rank sends x row bytes / its kernel time;
                       NVL = tokens it receives x row bytes / the same time (row: hidden x 1.03 FP8, x 2 BF16)
  IB avg, NVLink avg   per-GPU average, GB/s: bytes moved on that link type / ranks / phase time
                       (every GPU, whole phase: lower than DeepEP's figures)
  IB MB, NVLink MB     payload bytes moved on that link type (all ranks)
  link transfers       puts and signals crossing NVLink or IB (local copies excluded); over all phases
                       they add up to the trace's otherData.transfers
Load rows (per step, over all steps):
  expert pairs         (token, k) pairs routed to each logical expert: max, mean, max/mean
  GPU pairs            (token, k) pairs each GPU computes (its experts' pairs, EPLB replicas included)
  GPU tokens           distinct tokens each GPU receives (a token counts once per GPU)
  max/mean             1.00 is perfect balance
Routing rows (per simulated step; see docs/routing.md):
  expert max/mean, GPU max/mean  that step's load balance (as above)
  inter-node tokens    tokens sent between distinct nodes (the off-diagonal sum of tokens per node pair)
  node pair max/mean   the busiest node pair's tokens over the mean of all pairs of distinct nodes
  bias                 range of the gate's balancing bias after the step (- without bias balancing)
wall time is the main run's own; total wall time adds the cluster start, the check run and the trace.
`;

function figuresTable(r: RunFigures): string {
  const head = `${r.scenario}: ${r.cluster.ranks} ranks (${r.cluster.nodes} x ${r.cluster.gpusPerNode} ${r.cluster.hardware}), ${r.payload}, ${r.steps} step(s), ${r.cluster.workers} worker(s)`;
  const phases = table(
    ['phase', 'virtual us', 'RDMA GB/s', 'NVL GB/s', 'IB avg', 'NVLink avg', 'IB MB', 'NVLink MB', 'link transfers'],
    [...PHASES, ...(r.phases.schedule ? (['schedule'] as const) : [])].map((p) => {
      const s = r.phases[p]!;
      const d = s.deepep ?? null;
      return [p, f1(s.timeUs), f1n(d?.rdmaGBps), f1n(d?.nvlGBps), f1(s.bandwidthGBps.ib), f1(s.bandwidthGBps.nvlink), f1(s.bytes.ib / 1e6), f1(s.bytes.nvlink / 1e6), String(s.linkTransfers ?? s.transfers)];
    }),
  );
  const loads = table(
    ['load', 'max', 'mean', 'max/mean'],
    ([['expert pairs', r.load.expert], ['GPU pairs', r.load.gpu], ['GPU tokens', r.load.gpuTokens]] as const).map(([n, l]) => [n, f1(l.max), f1(l.mean), f2(l.maxOverMean)]),
  );
  const routing = routingTables(r.routing);
  const sc = r.schedule;
  const schedule = sc
    ? [
      `schedule ${sc.kind} (${sc.commSms} comm SMs), ${sc.layersSimulated} MoE layers simulated, scaled to ${sc.layersPerStep} layers:`,
      table(
        ['per step', 'value'],
        [
          ['step ms', f2(sc.stepUs / 1000)],
          ['communication ms', f2(sc.commUs / 1000)],
          ['exposed communication ms', f2(sc.exposedCommUs / 1000)],
          ['hidden share', `${(sc.hiddenShare * 100).toFixed(1)}%`],
          ...Object.entries(sc.simulated.smBusyShare).map(([k, v]) => [`SM busy share, stream ${k}`, `${(v * 100).toFixed(1)}%`]),
          ['input tokens/s per node (cache hits counted)', sc.throughputPerNode.inputTokensPerSec.toFixed(0)],
          ['computed tokens/s per node', sc.throughputPerNode.computedTokensPerSec.toFixed(0)],
        ],
      ),
    ].join('\n')
    : null;
  const verified = r.verified === null ? 'not checked' : r.verified ? 'match the dense reference' : 'DO NOT match the dense reference';
  return [
    `${head}\nconfigs: dispatch ${formatEpConfig(r.configs.dispatch)}; combine ${formatEpConfig(r.configs.combine)}`,
    phases,
    ...(schedule ? [schedule] : []),
    loads,
    ...routing,
    `tokens: ${r.tokens.dispatched} dispatched, ${r.tokens.received} received, ${r.tokens.conserved ? 'conserved' : 'NOT conserved'}; outputs: ${verified}`,
    `virtual time ${f1(r.virtualTimeUs)} us; wall time ${(r.wallMs / 1000).toFixed(2)} s (this run alone)`,
    ...(r.peakRssBytes !== undefined
      ? [`memory: host peak RSS ${formatBytes(r.peakRssBytes)}${r.simulatedHbmBytes !== undefined ? `; simulated HBM ${formatBytes(r.simulatedHbmBytes)} per rank of ${formatBytes(r.hbmCapacityBytes ?? NaN)}` : ''}`]
      : []),
    `outputDigest   ${r.outputDigest}`,
    `timelineDigest ${r.timelineDigest}`,
  ].join('\n\n');
}

const range = (b: BiasRange | null) => (b === null ? '-' : `${b.min.toFixed(3)}..${b.max.toFixed(3)}`);

/** Tokens between distinct nodes, and the busiest such node pair over their mean. */
function interNode(m: readonly (readonly number[])[]): { total: number; maxOverMean: number } {
  const off = m.flatMap((row, i) => row.filter((_, j) => j !== i));
  const total = off.reduce((a, b) => a + b, 0);
  return { total, maxOverMean: total > 0 ? (Math.max(...off) * off.length) / total : 0 };
}

/** Warm-up line, per-step routing table, and the last step's tokens per node pair. */
function routingTables(g: RoutingFigures): string[] {
  const w = g.warmup;
  const head = `routing: ${g.mode}${g.mode === 'gate' ? (g.biasUpdateRate > 0 ? `, bias update rate ${g.biasUpdateRate}` : ', no bias') : ''}; ` +
    (w.steps === 0 ? 'no warm-up' : `warm-up ${w.steps} step(s), the last at expert max/mean ${f2(w.load!.expert.maxOverMean)}, GPU max/mean ${f2(w.load!.gpu.maxOverMean)}, bias left ${range(w.bias)}`);
  const steps = table(
    ['step', 'expert max/mean', 'GPU max/mean', 'inter-node tokens', 'node pair max/mean', 'bias'],
    g.steps.map((st) => {
      const n = interNode(st.nodeTokens);
      return [String(st.step), f2(st.load.expert.maxOverMean), f2(st.load.gpu.maxOverMean), String(n.total), f2(n.maxOverMean), range(st.bias)];
    }),
  );
  const last = g.steps[g.steps.length - 1];
  if (!last || last.nodeTokens.length < 2 || last.nodeTokens.length > 16) return [head, steps];
  const pairs = table(['src/dst', ...last.nodeTokens.map((_, j) => `node ${j}`)], last.nodeTokens.map((row, i) => [`node ${i}`, ...row.map(String)]));
  return [head, steps, `tokens per node pair, step ${last.step}:\n${pairs}`];
}

/** The summary printed at the end of `expertmesh run`. */
export function formatRunSummary(r: ScenarioResult): string {
  const parts = [figuresTable(r)];
  if (r.check) parts.push(`check run (real payload, reduced shape):\n\n${figuresTable(r.check)}`);
  if (r.trace) parts.push(`trace: ${r.trace.path} (${r.trace.events} events, ${r.trace.transfersDrawn} transfers drawn, ${r.trace.transfersNotDrawn} not drawn); open it in https://ui.perfetto.dev`);
  parts.push(`total wall time ${((r.totalWallMs ?? r.wallMs) / 1000).toFixed(2)} s (cluster start, runs, trace)`);
  parts.push('RDMA/NVL GB/s: rank 0 as DeepEP prints it; IB/NVLink avg: GB/s per GPU over the phase (see expertmesh run --help)');
  return `${parts.join('\n\n')}\n`;
}

/** The table of `expertmesh trace summarize`. */
export function formatTraceSummary(s: TraceSummary): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return [
    `span ${f1(s.spanUs)} us, ${s.events} events${s.incomplete ? ', INCOMPLETE (the run failed before the end)' : ''}`,
    table(['rank', 'node', 'busy us', 'utilisation'], s.ranks.map((r) => [String(r.rank), String(r.node), f1(r.busyUs), pct(r.utilisation)])),
    table(['link', 'busy us', 'utilisation', 'transfers', 'MB', 'GB/s avg'], s.links.map((l) => [`rank ${l.rank} ${l.port}`, f1(l.busyUs), pct(l.utilisation), String(l.transfers), f1(l.bytes / 1e6), f1(l.avgGBps ?? 0)])),
    'GB/s avg: bytes over the trace span (busyGBps in --json: bytes over busy time, about the link rate when the link is the bottleneck)',
  ].join('\n\n') + '\n';
}
