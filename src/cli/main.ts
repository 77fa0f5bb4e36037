#!/usr/bin/env node
/**
 * @module
 * The `expertmesh` executable: wires the process to {@link runCli} (stdout, stderr, Ctrl-C).
 */
import { runCli } from './cli.js';

const controller = new AbortController();
// First SIGINT/SIGTERM: abort the run, which then writes its files whole and marked incomplete.
// A second one exits at once; files still being written are removed (never left partial).
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
  process.on(sig, () => {
    if (controller.signal.aborted) process.exit(code);
    controller.abort();
  });
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY === true,
  signal: controller.signal,
});
