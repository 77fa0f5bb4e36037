/**
 * @module
 * The command model of the CLI: a command declares its options once (parseArgs config plus help
 * text); parsing, `--help` and usage errors are derived from that declaration.
 */
import { parseArgs } from 'node:util';
import { ExpertmeshError, isExpertmeshError, showValue } from '../errors.js';
import { normalizeValueArgs } from './arg-checks.js';

/** Where a command writes. `stdout` carries results only; progress and messages go to `stderr`. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** True when stderr is a terminal (progress bar instead of lines). */
  isTTY: boolean;
  /** Aborts a running command (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/** One option: parseArgs' fields plus its help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help, e.g. `N` for `--workers N`. */
  value?: string;
  help: string;
}

/** Parsed arguments of a command. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** A (sub)command. */
export interface Command {
  /** Words that select it, e.g. `run` or `trace summarize`. */
  name: string;
  summary: string;
  /** Positional part of the usage line, e.g. `[scenario.json]`. */
  args?: string;
  /** Longest number of positionals accepted. */
  maxPositionals: number;
  minPositionals?: number;
  options: Record<string, OptionSpec>;
  /** Printed after the options by `--help` (e.g. what each output column means). */
  details?: string;
  /** Returns the exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help and exit' };

/** Usage error: exit code 2 with a one-line message. */
export function usageError(message: string, data: Record<string, unknown> = {}): ExpertmeshError {
  return new ExpertmeshError('E_ARGUMENT', message, data);
}

/** Codes that mean the input was bad (exit 2): nothing ran, or nothing could have run. */
const USAGE_CODES: ReadonlySet<string> = new Set(['E_ARGUMENT', 'E_SCENARIO', 'E_CONFIG', 'E_LIMIT']);

/** Exit code of a failure: 2 for bad input or usage, 1 for a run that failed. */
export function exitCodeOf(e: unknown): 1 | 2 {
  return isExpertmeshError(e) && USAGE_CODES.has(e.code) ? 2 : 1;
}

/** The help text of a command: usage line and every option. */
export function formatHelp(cmd: Command, prog = 'expertmesh'): string {
  const opts = { ...cmd.options, help: HELP_OPTION };
  const rows = Object.entries(opts).map(([name, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`, o.help] as const);
  const w = Math.max(...rows.map((r) => r[0].length));
  return [
    `Usage: ${prog} ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''} [options]`,
    '',
    cmd.summary,
    '',
    'Options:',
    ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`),
    '',
    ...(cmd.details ? [cmd.details] : []),
  ].join('\n');
}

/** Parse `argv` for `cmd`; throws a usage error naming the bad option. */
export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs & { help: boolean } {
  const options = Object.fromEntries(
    Object.entries({ ...cmd.options, help: HELP_OPTION }).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: normalizeValueArgs(cmd.name, cmd.options, argv), options, allowPositionals: true, strict: true });
  } catch (e) {
    if (isExpertmeshError(e)) throw e;
    throw usageError(`${cmd.name}: ${(e as Error).message.split('\n')[0]} (see expertmesh ${cmd.name} --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help']) return { values, positionals: parsed.positionals, help: true };
  if (parsed.positionals.length > cmd.maxPositionals)
    throw usageError(`${cmd.name}: unexpected argument '${parsed.positionals[cmd.maxPositionals]}' (usage: expertmesh ${cmd.name} ${cmd.args ?? ''})`.trimEnd());
  if (parsed.positionals.length < (cmd.minPositionals ?? 0))
    throw usageError(`${cmd.name}: missing argument ${cmd.args ?? ''} (see expertmesh ${cmd.name} --help)`);
  return { values, positionals: parsed.positionals, help: false };
}

/** A non-negative integer option, or undefined when absent. */
export function intOption(cmd: string, args: ParsedArgs, name: string, min: number): number | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min)
    throw usageError(`${cmd}: --${name} must be an integer >= ${min}, got ${showValue(v)}`, { option: name, value: v });
  return n;
}
