import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli.js';
import { registerBenchMode } from '../../../src/cli/bench-registry.js';
import { runCommand } from '../../../src/cli/run-command.js';
import { reportCommand } from '../../../src/cli/report-command.js';
import { traceSummarizeCommand } from '../../../src/cli/trace-command.js';
import { hardwareShowCommand } from '../../../src/cli/hardware-command.js';
import type { CliIo } from '../../../src/cli/command.js';
import { validateTrace } from '../../../src/trace/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = join(dir, 'tiny.json');
writeFileSync(tiny, JSON.stringify({
  name: 'tiny',
  cluster: { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 1 },
  model: { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 256, moeIntermediateSize: 128, tokensPerRank: 32 },
  check: { hidden: 128, tokensPerRank: 8, moeIntermediateSize: 32 },
}));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('expertmesh help', () => {
  it('lists every command and, per command, every option', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    for (const w of ['run', 'report <trace.json>', 'trace summarize', 'hardware show', 'bench <mode>', '--help', '--version']) expect(top.out).toContain(w);
    for (const cmd of [runCommand, reportCommand, traceSummarizeCommand, hardwareShowCommand]) {
      const h = await cli(...cmd.name.split(' '), '--help');
      expect(h.code).toBe(0);
      for (const o of [...Object.keys(cmd.options), 'help']) expect(h.out).toContain(`--${o}`);
    }
    expect((await cli('trace', '--help')).out).toContain('summarize');
    // Every column of the run summary is defined in run --help.
    const run = (await cli('run', '--help')).out;
    for (const col of ['virtual us', 'RDMA GB/s', 'NVL GB/s', 'IB avg', 'NVLink avg', 'IB MB', 'NVLink MB', 'link transfers', 'expert pairs', 'GPU pairs', 'GPU tokens', 'max/mean'])
      expect(run).toContain(col);
    expect((await cli('bench', '--help')).out).toContain('Modes:');
  });

  it('prints usage on stderr and exits 2 with no command', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('Usage: expertmesh');
  });

  it('prints the version', async () => {
    const r = await cli('--version');
    expect(r.out.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });
});

describe('bad input exits 2 with one line naming the problem', () => {
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['run', '--bogus'], /run: Unknown option '--bogus'/],
    [['run', '--workers', 'two'], /--workers must be an integer >= 1, got "two"/],
    [['run', '--seed=-1'], /--seed must be an integer >= 0/],
    [['run', 'a.json', 'b.json'], /unexpected argument 'b.json'/],
    [['run', join(dir, 'missing.json')], /cannot read scenario file .*missing\.json: ENOENT/],
    [['run', tiny, '--workers', '9'], /cluster\.workers: got 9; allowed: at most one worker per rank \(4 ranks\)/],
    [['run', tiny, '--trace', join(dir, 'nodir', 't.json')], /cannot write trace file .*nodir.*ENOENT/],
    [['run', tiny, '--report', join(dir, 'nodir', 'r.html')], /run: cannot write report .*nodir/],
    [['report'], /report: missing argument <trace.json>/],
    [['report', join(dir, 'missing.trace.json')], /cannot read trace file .*missing\.trace\.json: ENOENT/],
    [['run', tiny, '--trace', join(dir, 't.json'), '--trace-detail', 'all'], /--trace-detail must be 'sampled' or 'full', got "all"/],
    [['run', tiny, '--trace-detail', 'full'], /--trace-detail needs --trace/],
    [['trace', 'summarize'], /missing argument <trace\.json>/],
    [['trace', 'explain'], /unknown subcommand 'explain'/],
    [['bench', 'nope'], /bench: unknown mode 'nope'/],
  ])('%j', async (argv, re) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(re);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
  });

  it('with --json, stdout still holds exactly one JSON object', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ cluster: { nodes: 1, gpusPerNode: 4, colour: 'red' } }));
    const r = await cli('run', bad, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ schemaVersion: 1, error: { code: 'E_SCENARIO', message: expect.stringMatching(/unknown field cluster\.colour/) } });
  });
});

describe('expertmesh run', () => {
  it('prints a summary table with every phase, loads, tokens and digests', async () => {
    const r = await cli('run', tiny);
    expect(r.code).toBe(0);
    for (const w of ['notify', 'dispatch', 'experts', 'combine', 'RDMA GB/s', 'NVL GB/s', 'IB avg', 'NVLink avg', 'link transfers', 'GPU pairs', 'max/mean', 'conserved', 'outputDigest', 'timelineDigest', 'wall time', 'check run'])
      expect(r.out).toContain(w);
    expect(r.err).toMatch(/\[1\/4\] main step 1\/1 notify done at/);
  });

  it('--json prints one object with schemaVersion and digests, overrides apply, and --trace writes a valid trace', async () => {
    const trace = join(dir, 'run.trace.json');
    const a = await cli('run', tiny, '--json', '--seed', '5', '--workers', '2', '--trace', trace);
    expect(a.code).toBe(0);
    const j = JSON.parse(a.out);
    expect(j).toMatchObject({ schemaVersion: 1, scenario: 'tiny', cluster: { workers: 2 }, tokens: { conserved: true }, trace: { path: trace } });
    expect(j).toMatchObject({ verified: null, check: { payload: 'real', verified: true, tokens: { conserved: true } } });
    expect(j.phases.dispatch.bandwidthGBps).toHaveProperty('ib');
    const b = JSON.parse((await cli('run', tiny, '--json', '--seed', '5')).out);
    expect(b.timelineDigest).toBe(j.timelineDigest);
    expect(b.outputDigest).toBe(j.outputDigest);
    const doc = JSON.parse(readFileSync(trace, 'utf8'));
    expect(validateTrace(doc.traceEvents)).toEqual([]);
    // The summary's link transfers add up to the trace's total; the old all-transfers field stays.
    const phases = Object.values(j.phases) as Array<{ linkTransfers: number; transfers: number }>;
    expect(phases.reduce((a, p) => a + p.linkTransfers, 0)).toBe(doc.otherData.transfers);
    expect(phases.every((p) => p.transfers >= p.linkTransfers)).toBe(true);
    expect(j.phases.dispatch.deepep).toMatchObject({ rank: 0 });
    expect(j.totalWallMs).toBeGreaterThanOrEqual(j.wallMs);

    // The report of that trace: the plots the trace holds, named by id, in one HTML file.
    const rep = await cli('report', trace);
    expect(rep.code).toBe(0);
    const html = readFileSync(trace.replace(/\.json$/, '.html'), 'utf8');
    for (const id of ['phase-timeline', 'expert-load', 'gpu-load', 'utilisation']) expect(html).toContain(`data-plot="${id}"`);
    expect(html).toContain('<svg');

    const s = await cli('trace', 'summarize', trace);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/rank 0 ib\.out/);
    expect(s.out).toContain('utilisation');
    const sj = JSON.parse((await cli('trace', 'summarize', trace, '--json')).out);
    expect(sj.schemaVersion).toBe(1);
    expect(sj.ranks).toHaveLength(4);
  });

  it('--hardware overrides the scenario profile; the configs run are in the summary with their source', async () => {
    const h = JSON.parse((await cli('run', tiny, '--json', '--hardware', 'H100')).out);
    expect(h.cluster.hardware).toBe('H100');
    // 2 nodes x 2 GPUs: internode, so the 16-rank entry (reference §1), marked nearest.
    expect(h.configs.dispatch).toMatchObject({ nvlChunk: 36, nvlBuffer: 288, rdmaChunk: 20, rdmaBuffer: 140, source: 'nearest', entryRanks: 16 });
    const t = await cli('run', tiny, '--hardware', 'H100');
    expect(t.out).toContain("configs: dispatch (sms 24, nvl 36/288, rdma 20/140, nearest: EP16's entry)");
    const bad = await cli('run', tiny, '--hardware', 'A100');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/cluster\.hardware: got "A100"/);
  });

  it('--trace-detail full draws every transfer and samples counters at every change', async () => {
    const trace = join(dir, 'full.trace.json');
    const r = await cli('run', tiny, '--json', '--trace', trace, '--trace-detail', 'full');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(trace, 'utf8'));
    expect(doc.otherData).toMatchObject({ incomplete: false, sampled: false, sampling: { detail: 'full', counterBuckets: 0 }, counters: { mode: 'exact' } });
    expect(doc.otherData.transfersDrawn).toBe(doc.otherData.transfers);
    expect(validateTrace(doc.traceEvents)).toEqual([]);
  });
});

describe('bench registry', () => {
  it('dispatches to a registered mode, with its own help and options', async () => {
    let got: unknown;
    registerBenchMode({
      name: 'bench fake', summary: 'a fake mode', maxPositionals: 0,
      options: { tokens: { type: 'string', value: 'N', help: 'tokens per rank' } },
      async run(args, io) {
        got = args.values['tokens'];
        io.stdout.write('ran\n');
        return 0;
      },
    });
    expect((await cli('bench', '--help')).out).toMatch(/fake\s+a fake mode/);
    expect((await cli('bench', 'fake', '--help')).out).toContain('--tokens N');
    expect(await cli('bench', 'fake', '--tokens', '7')).toMatchObject({ code: 0, out: 'ran\n' });
    expect(got).toBe('7');
  });
});

describe('the executable', () => {
  it('runs as a subprocess: exit codes and a JSON-only stdout', async () => {
    const run = promisify(execFile);
    const r = await run('npx', ['tsx', 'src/cli/main.ts', 'run', tiny, '--json'], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout).schemaVersion).toBe(1);
    const bad = await run('npx', ['tsx', 'src/cli/main.ts', 'run', '--nope']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--nope'/) });
  }, 60_000);
});
