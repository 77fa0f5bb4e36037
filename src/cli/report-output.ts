/**
 * @module
 * `--report out.html` of `run` and `bench deepep`, and `expertmesh report trace.json`: the option,
 * the early check that the file can be written, and the writing.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeReport, type ReportData } from '../report/index.js';
import { usageError, type CliIo, type OptionSpec, type ParsedArgs } from './command.js';

export const REPORT_OPTION: OptionSpec = {
  type: 'string', value: 'out.html',
  help: 'also write a self-contained HTML report (summary and plots; opens offline in any browser)',
};

/** The `--report` path of `args`, checked writable before anything runs; undefined when absent. */
export function reportPath(cmd: string, args: ParsedArgs): string | undefined {
  const v = args.values['report'];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw usageError(`${cmd}: --report needs a file name, e.g. --report out.html`, { option: 'report' });
  try {
    accessSync(dirname(v), constants.W_OK);
  } catch {
    throw usageError(`${cmd}: cannot write report ${v}: directory ${dirname(v)} does not exist or is not writable`, { option: 'report', value: v });
  }
  return v;
}

/** Write the report and say where on stderr. */
export async function emitReport(io: CliIo, path: string, data: ReportData): Promise<void> {
  const bytes = await writeReport(path, data);
  io.stderr.write(`report: ${path} (${(bytes / 1e6).toFixed(2)} MB); open it in a browser\n`);
}

/** A temporary directory for a trace the report needs when none was asked for; `dispose` removes it. */
export function scratchDir(): { path: string; dispose: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'expertmesh-report-'));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}
