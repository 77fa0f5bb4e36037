/**
 * @module
 * HTML reports of runs: `runReport` for a scenario run (from its result and its trace),
 * `traceReport` for an existing trace file, `benchReport` for `bench deepep` results (one per SM
 * count of a sweep). Each gives {@link ReportData}; {@link writeReport} renders and writes it.
 */
import type { DeepepBenchResult } from '../ep/normal/deepep-benchmark.js';
import type { ScenarioResult } from '../scenario/result.js';
import { reportRowsFromTrace, type KernelRow, type ReportData, type ReportText, type SmSweepRow } from './data.js';
import type { TraceDocument } from '../trace/read.js';
import { fail } from '../errors.js';
import { checkArray, checkMade, checkNumber, checkObject, checkString } from '../validate.js';
import { checkTraceEvents } from '../trace/summarize.js';
import { RESULT } from '../scenario/run.js';


export { reportRowsFromTrace } from './data.js';
export { readTraceFile, type TraceDocument } from '../trace/read.js';
export type { KernelRow, PhaseRow, ReportData, ReportText, RingRow, SmSweepRow, UtilisationRow } from './data.js';
export { renderReportHtml, writeReport, plotSvg } from './html.js';
export { reportPlots, type PlotSpec } from './specs.js';

/** Throw unless `summary` is a list of `{ heading, text }` strings. */
function checkSummary(summary: unknown): void {
  const a = checkArray(summary, 'summary');
  for (let i = 0; i < a.length; i++) {
    const t = checkObject(a[i], `summary[${i}]`);
    checkString(t['heading'], `summary[${i}].heading`, true);
    checkString(t['text'], `summary[${i}].text`, true);
  }
}

/**
 * Throw unless `results` is a non-empty list of benchmark results (as runDeepepBenchmark returns
 * them, or their JSON): the figures a report reads, each a number (RDMA ones may be null).
 */
function checkBenchResults(results: unknown): void {
  const a = checkArray(results, 'results');
  if (a.length === 0) fail('E_ARGUMENT', 'results must hold at least one benchmark result', { argument: 'results' });
  for (let i = 0; i < a.length; i++) {
    const r = checkObject(a[i], `results[${i}]`);
    for (const k of ['ranks', 'nodes', 'sms', 'tokens', 'hidden'] as const) checkNumber(r[k], `results[${i}].${k}`);
    checkString(r['dtype'], `results[${i}].dtype`);
    for (const kernel of ['dispatch', 'combine'] as const) {
      const f = checkObject(r[kernel], `results[${i}].${kernel}`);
      for (const k of ['timeUs', 'nvlGBps', 'nvlGBpsMin', 'nvlGBpsMax'] as const) checkNumber(f[k], `results[${i}].${kernel}.${k}`);
      for (const k of ['rdmaGBps', 'rdmaGBpsMin', 'rdmaGBpsMax'] as const)
        if (f[k] !== null && f[k] !== undefined) checkNumber(f[k], `results[${i}].${kernel}.${k}`);
    }
  }
}

/** The report of a scenario run: its summary (`summary`, preformatted) and the plots its trace holds. */
export function runReport(r: ScenarioResult, trace: TraceDocument, summary: ReportText[]): ReportData {
  checkMade(r, 'result', RESULT, 'runScenario()');
  checkTraceEvents(trace);
  checkSummary(summary);
  const c = r.cluster;
  return ({
    title: `expertmesh run: ${r.scenario}`,
    subtitle: `${c.ranks} ranks (${c.nodes} x ${c.gpusPerNode} ${c.hardware}), ${r.payload}, ${r.steps} step(s); virtual time ${r.virtualTimeUs.toFixed(1)} us`,
    summary,
    ...reportRowsFromTrace(trace),
    smSweep: [],
    kernels: [],
  });
}

/** The report of an existing trace file (`expertmesh report trace.json`). */
export function traceReport(trace: TraceDocument, name: string, summary: ReportText[]): ReportData {
  checkTraceEvents(trace);
  checkString(name, 'name');
  checkSummary(summary);
  const scenario = trace.otherData?.['scenario'];
  return ({
    title: `expertmesh trace: ${typeof scenario === 'string' ? scenario : name}`,
    subtitle: `from ${name}${trace.otherData?.['incomplete'] === true ? ' (INCOMPLETE: the run failed before the end)' : ''}`,
    summary,
    ...reportRowsFromTrace(trace),
    smSweep: [],
    kernels: [],
  });
}

/** The SM sweep rows of `bench deepep` results (one result per SM count). */
export function smSweepRows(results: readonly DeepepBenchResult[]): SmSweepRow[] {
  checkBenchResults(results);
  return results.flatMap((r) => (['dispatch', 'combine'] as const).map((kernel) => ({
    sms: r.sms, kernel, timeUs: r[kernel].timeUs, rdmaGBps: r[kernel].rdmaGBps, nvlGBps: r[kernel].nvlGBps,
  })));
}

/** The report of `bench deepep`: the kernels of the first result, and the SM sweep when there are several. */
export function benchReport(results: readonly DeepepBenchResult[], summary: ReportText[]): ReportData {
  checkBenchResults(results);
  checkSummary(summary);
  const r = results[0]!;
  const kernels: KernelRow[] = (['dispatch', 'combine'] as const).flatMap((kernel) => {
    const k = r[kernel];
    return [
      ...(k.rdmaGBps === null ? [] : [{ kernel, link: 'RDMA' as const, gbps: k.rdmaGBps, min: k.rdmaGBpsMin ?? k.rdmaGBps, max: k.rdmaGBpsMax ?? k.rdmaGBps }]),
      { kernel, link: 'NVL' as const, gbps: k.nvlGBps, min: k.nvlGBpsMin, max: k.nvlGBpsMax },
    ];
  });
  return ({
    title: `expertmesh bench deepep: ${r.ranks} ranks`,
    subtitle: `DeepEP normal kernels, ${r.ranks} ranks (${r.nodes} node(s)), ${results.map((x) => x.sms).join(', ')} SMs, ${r.tokens} tokens x hidden ${r.hidden}, dispatch ${r.dtype}`,
    summary,
    phases: [], utilisation: [], rings: [], loads: null,
    smSweep: smSweepRows(results),
    kernels,
  });
}
