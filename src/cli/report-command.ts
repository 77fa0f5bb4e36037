/**
 * @module
 * `expertmesh report <trace.json> [--out out.html]`: the HTML report of an existing trace.
 */
import { basename } from 'node:path';
import { readTraceFile, traceReport } from '../report/index.js';
import { summarizeTrace } from '../trace/summarize.js';
import type { CliIo, Command, ParsedArgs } from './command.js';
import { emitReport, reportPath } from './report-output.js';
import { formatTraceSummary } from './table.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'Write the HTML report (phase timeline, loads, utilisation, ring occupancy) of a trace written by `expertmesh run --trace`.',
  args: '<trace.json>',
  minPositionals: 1,
  maxPositionals: 1,
  options: {
    out: { type: 'string', value: 'out.html', help: 'where to write the report (default: the trace\'s name with .html instead of .json)' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const tracePath = args.positionals[0]!;
    const out = reportPath('report', { ...args, values: { report: (args.values['out'] as string | undefined) ?? tracePath.replace(/(\.json)?$/, '.html') } })!;
    const doc = readTraceFile(tracePath);
    const summary = [{ heading: 'Trace summary (expertmesh trace summarize)', text: formatTraceSummary(summarizeTrace(doc)) }];
    await emitReport(io, out, traceReport(doc, basename(tracePath), summary));
    return 0;
  },
};
