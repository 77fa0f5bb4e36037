#!/usr/bin/env node
/**
 * @module
 * The `expertmesh` executable: wires the process to {@link runCli} (stdout, stderr, Ctrl-C).
 */
import { runCli } from './cli.js';

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY === true,
  signal: controller.signal,
});
