/**
 * @module
 * `--dry-run`: print a run's estimate (text, or one JSON object with --json) and exit 0 when it
 * fits, 2 when it is over a limit, without starting anything.
 */
import { estimateProblems, formatEstimate, type RunEstimate } from '../cluster/host-limits.js';
import type { CliIo, ParsedArgs } from './command.js';

export function printDryRun(e: RunEstimate, args: ParsedArgs, io: CliIo): number {
  const problems = estimateProblems(e);
  if (args.values['json']) io.stdout.write(`${JSON.stringify({ schemaVersion: 1, dryRun: true, fits: problems.length === 0, problems, estimate: e })}\n`);
  else io.stdout.write(formatEstimate(e));
  return problems.length === 0 ? 0 : 2;
}
