/**
 * @module
 * `expertmesh run [scenario.json] [--trace out.json] [--trace-detail sampled|full] [--workers N] [--seed S] [--hardware NAME|path.json] [--json]`.
 */
import { DEFAULT_SCENARIO } from '../scenario/defaults.js';
import { resolveHardware } from '../hardware/profile-file.js';
import { loadScenario, parseScenario } from '../scenario/load.js';
import { runScenario } from '../scenario/run.js';
import { estimateScenarioRun } from '../scenario/estimate.js';
import { printDryRun } from './dry-run.js';
import type { Scenario } from '../scenario/schema.js';
import { intOption, usageError, type CliIo, type Command, type ParsedArgs } from './command.js';
import { progressReporter } from './progress.js';
import { readTraceFile, runReport } from '../report/index.js';
import { emitReport, REPORT_OPTION, reportPath, scratchDir } from './report-output.js';
import { join } from 'node:path';
import { formatRunSummary, RUN_SUMMARY_COLUMNS } from './table.js';

/** The scenario a `run` invocation describes: file (or the default) plus command-line overrides. */
export function scenarioFromArgs(args: ParsedArgs): Scenario {
  const file = args.positionals[0];
  const base = file === undefined ? parseScenario(structuredClone(DEFAULT_SCENARIO), 'default scenario') : loadScenario(file);
  const workers = intOption('run', args, 'workers', 1);
  const seed = intOption('run', args, 'seed', 0);
  const trace = args.values['trace'];
  const detail = args.values['trace-detail'];
  const hardware = args.values['hardware'];
  if (detail !== undefined && detail !== 'sampled' && detail !== 'full')
    throw usageError(`run: --trace-detail must be 'sampled' or 'full', got ${JSON.stringify(detail)}`, { option: 'trace-detail', value: detail });
  if (typeof detail === 'string' && typeof trace !== 'string' && !base.trace)
    throw usageError('run: --trace-detail needs --trace out.json (or a scenario with a trace)', { option: 'trace-detail' });
  if (workers === undefined && seed === undefined && typeof trace !== 'string' && detail === undefined && typeof hardware !== 'string') return base;
  // Re-validate with the overrides so that, e.g., too many workers is reported like a file error.
  const { trace: t, ...rest } = base;
  const sampling = { ...(t?.sampling ?? {}), ...(typeof detail === 'string' ? { detail } : {}) };
  return parseScenario({
    ...rest,
    cluster: { ...base.cluster, ...(workers !== undefined ? { workers } : {}), ...(typeof hardware === 'string' ? { hardware } : {}) },
    routing: { ...base.routing, ...(seed !== undefined ? { seed } : {}) },
    ...(typeof trace === 'string' || t ? { trace: { path: typeof trace === 'string' ? trace : t!.path, sampling } } : {}),
  }, file ?? 'default scenario');
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run a scenario file (default: the embedded DeepSeek-V3 prefill EP32 scenario plus its real-payload check) and print a summary.',
  args: '[scenario.json]',
  maxPositionals: 1,
  details: RUN_SUMMARY_COLUMNS,
  options: {
    trace: { type: 'string', value: 'out.json', help: 'write a Chrome Trace Event JSON file (open it in https://ui.perfetto.dev)' },
    'trace-detail': { type: 'string', value: 'sampled|full', help: 'trace detail: sampled (default: at most 5000 transfer slices per phase, counters as 200 time-bucket means per phase) or full (every transfer and counter change; for small runs)' },
    workers: { type: 'string', value: 'N', help: 'host worker threads (default: the scenario\'s, else the cores available)' },
    seed: { type: 'string', value: 'S', help: 'routing seed (overrides routing.seed)' },
    hardware: { type: 'string', value: 'NAME|path.json', help: "hardware profile: a built-in name (H800, H100, H200) or a JSON profile file (overrides cluster.hardware; see expertmesh hardware show)" },
    report: REPORT_OPTION,
    'dry-run': { type: 'boolean', help: 'print the estimate (host memory, simulated HBM per rank, events) and exit: 0 if it fits, 2 if over a limit' },
    json: { type: 'boolean', help: 'print one JSON object (schemaVersion, figures, digests) on stdout and nothing else' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const scenario = scenarioFromArgs(args);
    if (args.values['dry-run']) return printDryRun(estimateScenarioRun(scenario), args, io);
    for (const n of resolveHardware(scenario.cluster.hardware, 'cluster.hardware').notes) io.stderr.write(`expertmesh run: hardware: ${n}\n`);
    const report = reportPath('run', args);
    // The report's plots come from the trace: write one to a scratch directory when none was asked for.
    const scratch = report !== undefined && !scenario.trace ? scratchDir() : null;
    const progress = progressReporter(io);
    try {
      const r = await runScenario(scenario, {
        onProgress: progress.onProgress, ...(io.signal ? { signal: io.signal } : {}),
        ...(scratch ? { trace: join(scratch.path, 'run.trace.json') } : {}),
      });
      progress.done();
      const summary = formatRunSummary(scratch ? { ...r, trace: null } : r);
      if (args.values['json']) io.stdout.write(`${JSON.stringify(scratch ? { ...r, trace: null } : r)}\n`);
      else io.stdout.write(summary);
      if (report !== undefined && r.trace) await emitReport(io, report, runReport(r, readTraceFile(r.trace.path), [{ heading: 'Run summary', text: summary }]));
      const ok = r.tokens.conserved && r.verified !== false && (r.check === null || (r.check.tokens.conserved && r.check.verified !== false));
      if (!ok) {
        io.stderr.write('expertmesh run: the run finished but failed its checks (tokens not conserved or outputs differ from the reference)\n');
        for (const m of [r.mismatch, r.check?.mismatch]) if (m) io.stderr.write(`expertmesh run: ${m}\n`);
      }
      return ok ? 0 : 1;
    } finally {
      progress.done();
      scratch?.dispose();
    }
  },
};
