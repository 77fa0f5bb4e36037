/**
 * @module
 * `expertmesh trace summarize trace.json [--json]`.
 */
import { summarizeTrace } from '../trace/summarize.js';
import type { CliIo, Command, ParsedArgs } from './command.js';
import { formatTraceSummary } from './table.js';

export const traceSummarizeCommand: Command = {
  name: 'trace summarize',
  summary: 'Print per-rank and per-link utilisation from a trace file written by `expertmesh run --trace`.',
  args: '<trace.json>',
  minPositionals: 1,
  maxPositionals: 1,
  options: {
    json: { type: 'boolean', help: 'print one JSON object (schemaVersion, ranks, links) on stdout and nothing else' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const s = summarizeTrace(args.positionals[0]!);
    io.stdout.write(args.values['json'] ? `${JSON.stringify(s)}\n` : formatTraceSummary(s));
    return 0;
  },
};
