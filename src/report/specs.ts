/**
 * @module
 * The report's plots as Vega-Lite specs, one function per plot, data inline. Each plot has a stable
 * id (the browser test and readers find it by `data-plot`), a title and axis titles.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReportData } from './data.js';
import { checkReportData } from './data.js';

/** One plot of a report. */
export interface PlotSpec {
  id: string;
  title: string;
  /** What the plot shows and how to read it (printed under it). */
  caption: string;
  spec: TopLevelSpec;
}

const WIDTH = 900;
const PHASE_COLORS = { domain: ['notify', 'dispatch', 'experts', 'combine'], range: ['#9e9e9e', '#1f77b4', '#2ca02c', '#ff7f0e'] };

function base(title: string): Pick<TopLevelSpec, '$schema' | 'title' | 'config'> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    config: { font: 'sans-serif', view: { stroke: '#ccc' } },
  };
}

function phaseTimeline(d: ReportData): PlotSpec | null {
  if (d.phases.length === 0) return null;
  const ranks = new Set(d.phases.map((p) => p.rank)).size;
  const title = 'Phase timeline per rank';
  return {
    id: 'phase-timeline', title,
    caption: 'Each bar is one phase of one step on one rank, in virtual time; a rank whose bar ends early waits for the slowest rank before the next phase.',
    spec: {
      ...base(title),
      width: WIDTH,
      height: Math.min(1200, Math.max(120, ranks * 10)),
      data: { values: d.phases },
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'startUs', type: 'quantitative', title: 'virtual time (us)' },
        x2: { field: 'endUs' },
        y: { field: 'rank', type: 'ordinal', title: 'rank', axis: { labelOverlap: true } },
        color: { field: 'phase', type: 'nominal', title: 'phase', scale: PHASE_COLORS },
        tooltip: [{ field: 'rank' }, { field: 'node' }, { field: 'step' }, { field: 'phase' }, { field: 'startUs' }, { field: 'endUs' }],
      },
    } as TopLevelSpec,
  };
}

function heatmap(id: string, title: string, caption: string, rows: Array<{ x: number; row: string; pairs: number }>, xTitle: string, yTitle: string): PlotSpec {
  const rowNames = new Set(rows.map((r) => r.row)).size;
  return {
    id, title, caption,
    spec: {
      ...base(title),
      width: WIDTH,
      height: Math.max(40, rowNames * 24),
      data: { values: rows },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'x', type: 'ordinal', title: xTitle, axis: { labelOverlap: true, labelAngle: 0 } },
        y: { field: 'row', type: 'nominal', title: yTitle, sort: null },
        color: { field: 'pairs', type: 'quantitative', title: '(token, k) pairs', scale: { scheme: 'viridis' } },
        tooltip: [{ field: 'row' }, { field: 'x', title: xTitle }, { field: 'pairs' }],
      },
    } as TopLevelSpec,
  };
}

function loadHeatmaps(d: ReportData): PlotSpec[] {
  if (!d.loads) return [];
  const { experts, gpuBefore, gpuAfter } = d.loads;
  const out: PlotSpec[] = [];
  out.push(heatmap(
    'expert-load', 'Expert load',
    '(token, k) pairs routed to each logical expert, per step (1-based).',
    experts.flatMap((row, s) => row.map((pairs, x) => ({ x, row: `step ${s + 1}`, pairs }))), 'logical expert', 'step',
  ));
  const gpuRows = gpuBefore.flatMap((row, s) => row.map((pairs, x) => ({ x, row: gpuAfter ? `step ${s + 1} before EPLB` : `step ${s + 1}`, pairs })));
  if (gpuAfter) gpuRows.push(...gpuAfter.flatMap((row, s) => row.map((pairs, x) => ({ x, row: `step ${s + 1} after EPLB`, pairs }))));
  out.push(heatmap(
    'gpu-load', gpuAfter ? 'GPU load before and after EPLB' : 'GPU load',
    gpuAfter
      ? '(token, k) pairs each GPU computes: before EPLB with each GPU holding its contiguous block of experts, after EPLB with the replica layout the run used.'
      : '(token, k) pairs each GPU computes (contiguous blocks of experts per GPU; EPLB off).',
    gpuRows, 'GPU (rank)', 'step',
  ));
  return out;
}

function utilisation(d: ReportData): PlotSpec | null {
  if (d.utilisation.length === 0) return null;
  const title = 'NVLink, IB and SM utilisation over virtual time';
  return {
    id: 'utilisation', title,
    caption: 'Percent of the cluster busy, per time bucket: NVLink and IB as the busy time of every rank\'s in and out ports over all ports; SM as the busy time of the kernels\' SM roles active in the phase. Exact (every transfer), not the trace\'s drawn sample.',
    spec: {
      ...base(title),
      width: WIDTH,
      height: 220,
      data: { values: d.utilisation },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'tUs', type: 'quantitative', title: 'virtual time (us)' },
        y: { field: 'percent', type: 'quantitative', title: 'busy (%)', scale: { domain: [0, 100] } },
        color: { field: 'series', type: 'nominal', title: 'resource', scale: { domain: ['NVLink', 'IB', 'SM'], range: ['#1f77b4', '#d62728', '#2ca02c'] } },
      },
    } as TopLevelSpec,
  };
}

function rings(d: ReportData): PlotSpec | null {
  if (d.rings.length === 0) return null;
  const title = 'Receive ring occupancy';
  return {
    id: 'ring-occupancy', title,
    caption: 'Tokens buffered in every rank\'s receive rings together (NVLink and RDMA rings), over virtual time: a full ring stalls its sender.',
    spec: {
      ...base(title),
      width: WIDTH,
      height: 220,
      data: { values: d.rings },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'tUs', type: 'quantitative', title: 'virtual time (us)' },
        y: { field: 'tokens', type: 'quantitative', title: 'tokens buffered (all ranks)' },
        color: { field: 'series', type: 'nominal', title: 'ring' },
      },
    } as TopLevelSpec,
  };
}

function smSweep(d: ReportData): PlotSpec | null {
  if (new Set(d.smSweep.map((r) => r.sms)).size < 2) return null;
  const rows = d.smSweep.flatMap((r) => [
    { sms: r.sms, series: `${r.kernel} NVL`, gbps: r.nvlGBps },
    ...(r.rdmaGBps === null ? [] : [{ sms: r.sms, series: `${r.kernel} RDMA`, gbps: r.rdmaGBps }]),
  ]);
  const title = 'SM sweep: bandwidth by SM count';
  return {
    id: 'sm-sweep', title,
    caption: 'Rank 0\'s bandwidth per kernel as DeepEP\'s test prints it (RDMA and NVL GB/s), for each SM count of the sweep.',
    spec: {
      ...base(title),
      width: WIDTH,
      height: 260,
      data: { values: rows },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'sms', type: 'quantitative', title: 'SMs per kernel' },
        y: { field: 'gbps', type: 'quantitative', title: 'bandwidth (GB/s)' },
        color: { field: 'series', type: 'nominal', title: 'kernel, link' },
      },
    } as TopLevelSpec,
  };
}

function kernels(d: ReportData): PlotSpec | null {
  if (d.kernels.length === 0) return null;
  const title = 'DeepEP kernels: bandwidth per link';
  const rows = d.kernels.map((k) => ({ ...k, bar: `${k.kernel} ${k.link}` }));
  return {
    id: 'deepep-kernels', title,
    caption: 'Bandwidth as DeepEP\'s test prints it: rank 0\'s bytes over rank 0\'s kernel time (bar), with the range over ranks (line).',
    spec: {
      ...base(title),
      width: 600,
      height: 220,
      data: { values: rows },
      layer: [
        { mark: { type: 'bar' }, encoding: { x: { field: 'bar', type: 'nominal', title: 'kernel and link', axis: { labelAngle: 0 } }, y: { field: 'gbps', type: 'quantitative', title: 'bandwidth (GB/s)' }, color: { field: 'link', type: 'nominal', title: 'link' } } },
        { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'bar', type: 'nominal' }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
      ],
    } as TopLevelSpec,
  };
}

/** The plots of a report, in page order (parts without data left out). */
export function reportPlots(d: ReportData): PlotSpec[] {
  checkReportData(d);
  return [phaseTimeline(d), ...loadHeatmaps(d), utilisation(d), rings(d), kernels(d), smSweep(d)].filter((p): p is PlotSpec => p !== null);
}
