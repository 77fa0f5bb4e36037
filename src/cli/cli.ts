/**
 * @module
 * `runCli(argv, io)`: the whole `expertmesh` command, testable in-process. Returns the exit code:
 * 0 success, 1 a run that failed, 2 bad input or usage.
 */
import { isExpertmeshError } from '../errors.js';
import { benchModes, getBenchMode } from './bench-registry.js';
import './bench-modes.js';
import { exitCodeOf, formatHelp, parseCommandArgs, usageError, type CliIo, type Command } from './command.js';
import { reportCommand } from './report-command.js';
import { runCommand } from './run-command.js';
import { traceSummarizeCommand } from './trace-command.js';
import { hardwareShowCommand } from './hardware-command.js';

const COMMANDS: Command[] = [runCommand, reportCommand, traceSummarizeCommand, hardwareShowCommand];

function topHelp(): string {
  const modes = benchModes();
  const rows = [
    ...COMMANDS.map((c) => [`${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary] as const),
    ['bench <mode>', `run a benchmark mode (${modes.length ? modes.map((m) => m.name).join(', ') : 'none registered yet'})`] as const,
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return [
    'Usage: expertmesh <command> [options]',
    '',
    'Simulate expert-parallel Mixture-of-Experts clusters with a deterministic virtual clock.',
    '',
    'Commands:',
    ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`),
    '',
    'Options:',
    '  -h, --help     show this help (every command also takes --help)',
    '  -v, --version  print the version',
    '',
    'Exit codes: 0 success, 1 a run that failed, 2 bad input or usage.',
    '',
  ].join('\n');
}

function benchHelp(): string {
  const modes = benchModes();
  return [
    'Usage: expertmesh bench <mode> [options]',
    '',
    'Run a benchmark mode. `expertmesh bench <mode> --help` lists its options.',
    '',
    'Modes:',
    ...(modes.length ? modes.map((m) => `  ${m.name}  ${m.summary}`) : ['  (none registered yet)']),
    '',
    'Options:',
    '  -h, --help  show this help and exit',
    '',
  ].join('\n');
}

async function version(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Find the command `argv` names; returns it with the remaining arguments. */
async function resolve(argv: string[]): Promise<{ cmd: Command; rest: string[] } | { help: string }> {
  const [first, second, ...more] = argv;
  if (first === 'trace') {
    if (second === 'summarize') return { cmd: traceSummarizeCommand, rest: more };
    if (second === undefined) throw usageError('trace: a subcommand is required; known: summarize (see expertmesh trace --help)');
    if (second === '--help' || second === '-h')
      return { help: `Usage: expertmesh trace summarize <trace.json> [--json]\n\nSubcommands:\n  summarize  ${traceSummarizeCommand.summary}\n\nOptions:\n  -h, --help  show this help and exit\n` };
    throw usageError(`trace: unknown subcommand '${second}'; known: summarize`);
  }
  if (first === 'hardware') {
    if (second === 'show') return { cmd: hardwareShowCommand, rest: more };
    if (second === undefined || second === '--help' || second === '-h')
      return { help: `Usage: expertmesh hardware show <NAME|profile.json> [--json]\n\nSubcommands:\n  show  ${hardwareShowCommand.summary}\n\nOptions:\n  -h, --help  show this help and exit\n` };
    throw usageError(`hardware: unknown subcommand '${second}'; known: show`);
  }
  if (first === 'bench') {
    if (second === undefined)
      throw usageError(`bench: a mode is required; known: ${benchModes().map((m) => m.name).join(', ') || 'none registered yet'} (see expertmesh bench --help)`);
    if (second === '--help' || second === '-h') return { help: benchHelp() };
    const mode = await getBenchMode(second);
    if (!mode) throw usageError(`bench: unknown mode '${second}'; known: ${benchModes().map((m) => m.name).join(', ') || 'none registered yet'}`);
    return { cmd: mode, rest: more };
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) throw usageError(`unknown command '${first}'; known: run, report, trace summarize, hardware show, bench (see expertmesh --help)`);
  return { cmd, rest: argv.slice(1) };
}

/**
 * Run the `expertmesh` command line.
 * @example
 * const code = await runCli(['trace', 'summarize', 'run.trace.json', '--json'], { stdout: process.stdout, stderr: process.stderr, isTTY: false });
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
      (argv.length === 0 ? io.stderr : io.stdout).write(topHelp());
      return argv.length === 0 ? 2 : 0;
    }
    if (argv[0] === '--version' || argv[0] === '-v') {
      io.stdout.write(`${await version()}\n`);
      return 0;
    }
    const found = await resolve(argv);
    if ('help' in found) {
      io.stdout.write(found.help);
      return 0;
    }
    const args = parseCommandArgs(found.cmd, found.rest);
    if (args.help) {
      io.stdout.write(formatHelp(found.cmd));
      return 0;
    }
    return await found.cmd.run(args, io);
  } catch (e) {
    const code = exitCodeOf(e);
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    io.stderr.write(`expertmesh: ${message}\n`);
    if (json) {
      const err = isExpertmeshError(e) ? { code: e.code, message } : { code: 'E_TASK', message };
      io.stdout.write(`${JSON.stringify({ schemaVersion: 1, error: err })}\n`);
    }
    return code;
  }
}
