/**
 * Bad inputs, as a new user would try them, through the CLI (in-process) and the library: each one
 * ends with the exit code or error code listed and a message starting with the words listed.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../src/cli/cli.js';
import type { CliIo } from '../../../src/cli/command.js';
import {
  ExpertmeshError, expertLoad, fromWireError, gemmTimeUs, noRedundancyLayout, readTraceFile, simulateBiasBalancing, slotGpu, toBF16Bits,
  allToAll, createCluster, createExpertParallel, getHardwareProfile, H800, isExpertmeshError, loadScenario, parseScenario,
  planScenario, runDeepepBenchmark, runScenario, runTraffic, summarizeTrace, validateHardwareProfile, type Cluster,
} from '../../../src/index.js';
import { decodePackets } from '../../../src/transport/packets.js';

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-bad-'));
const file = (name: string, content: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};
const tinyCluster = { nodes: 2, gpusPerNode: 2, transport: 'in-process', workers: 1 };
const tinyModel = { numExperts: 8, numGroups: 4, topkGroups: 2, topk: 2, hidden: 256, moeIntermediateSize: 128, tokensPerRank: 32 };
const tiny = file('tiny.json', { name: 'tiny', cluster: tinyCluster, model: tinyModel });
const scenario = (name: string, patch: { cluster?: object; model?: object }) =>
  file(name, { name, cluster: { ...tinyCluster, ...patch.cluster }, model: { ...tinyModel, ...patch.model } });

beforeAll(() => {
  // The host-memory limit is the machine's free memory; fixed here so the cases do not depend on it.
  vi.stubEnv('EXPERTMESH_HOST_MEMORY_LIMIT', String(8e9));
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

// [argv, exit code, first words of the one stderr line after "expertmesh: "]
const CLI_CASES: Array<[string[], number, string]> = [
  [['frobnicate'], 2, "unknown command 'frobnicate'"],
  [['bench'], 2, 'bench: a mode is required; known: deepep'],
  [['trace'], 2, 'trace: a subcommand is required'],
  [['bench', 'nope'], 2, "bench: unknown mode 'nope'"],
  [['trace', 'explain'], 2, "trace: unknown subcommand 'explain'"],
  [['run', '--workers', '-3'], 2, 'run: --workers must be an integer >= 1, got "-3"'],
  [['run', '--workers'], 2, 'run: --workers needs a value (N:'],
  [['run', '--workers', '--seed', '1'], 2, "run: --workers needs a value (N: host worker threads (default: the scenario's, else the cores available)), got option '--seed'"],
  [['run', '--workers', 'two'], 2, 'run: --workers must be an integer >= 1, got "two"'],
  [['run', '--workers', 'NaN'], 2, 'run: --workers must be an integer >= 1, got "NaN"'],
  [['run', '--seed', '-1'], 2, 'run: --seed must be an integer >= 0, got "-1"'],
  [['run', '--seed', '1.5'], 2, 'run: --seed must be an integer >= 0, got "1.5"'],
  [['run', '--bogus'], 2, "run: Unknown option '--bogus'"],
  [['run', 'a.json', 'b.json'], 2, "run: unexpected argument 'b.json'"],
  [['run', join(dir, 'missing.json')], 2, 'cannot read scenario file'],
  [['run', file('bad.json', '{"cluster": ')], 2, `${join(dir, 'bad.json')} is not valid JSON`],
  [['run', file('array.json', [])], 2, `${join(dir, 'array.json')}: a scenario must be a JSON object, got []`],
  [['run', file('unknown.json', { cluster: tinyCluster, modle: {} })], 2, `${join(dir, 'unknown.json')}: unknown field modle`],
  [['run', scenario('nodes0.json', { cluster: { nodes: 0 } })], 2, `${join(dir, 'nodes0.json')}: cluster.nodes: got 0; allowed: >= 1`],
  [['run', scenario('a100.json', { cluster: { hardware: 'A100' } })], 2, `${join(dir, 'a100.json')}: cluster.hardware: got "${join(dir, 'A100')}"; allowed: "H800", "H100", "H200", a profile file or object`],
  [['run', scenario('huge.json', { model: { tokensPerRank: 1e9 } })], 2, "scenario 'huge.json': host memory estimate"],
  [['run', scenario('gpn.json', { cluster: { nodes: 1, gpusPerNode: 1000 }, model: { numExperts: 1000, numGroups: 1 } })], 2,
    `${join(dir, 'gpn.json')}: cluster.gpusPerNode: gpusPerNode 1000 is over 8; rule 'deepep-nvl-peers'`],
  [['run', scenario('h7.json', { model: { hidden: 7, dispatchFormat: 'bf16' } })], 2, `${join(dir, 'h7.json')}: model.hidden: hidden 7 makes BF16 rows of 14 bytes`],
  [['run', scenario('div.json', { model: { numExperts: 6, numGroups: 3, topkGroups: 2 } })], 2, `${join(dir, 'div.json')}: model.numExperts: got 6;`],
  [['run', tiny, '--workers', '9'], 2, `${tiny}: cluster.workers: got 9; allowed: at most one worker per rank`],
  [['run', tiny, '--trace', join(dir, 'nodir', 't.json')], 2, `cannot write trace file ${join(dir, 'nodir', 't.json')}: ENOENT`],
  [['run', tiny, '--trace', join(dir, 't.json'), '--trace-detail', 'all'], 2, "run: --trace-detail must be 'sampled' or 'full'"],
  [['run', tiny, '--trace-detail', 'full'], 2, 'run: --trace-detail needs --trace'],
  [['bench', 'deepep'], 2, 'bench deepep: --ranks R is required'],
  [['bench', 'deepep', '--ranks', '1'], 2, "bench deepep: ranks 1; rule 'bench-min-ranks'"],
  [['bench', 'deepep', '--ranks', '-3'], 2, 'bench deepep: --ranks must be an integer >= 1, got "-3"'],
  [['bench', 'deepep', '--ranks', '12'], 2, 'bench deepep: --ranks 12 must be below 8 or a multiple of 8'],
  [['bench', 'deepep', '--ranks', '8', '--tokens', '99999999'], 2, 'bench deepep: host memory estimate'],
  [['bench', 'deepep', '--ranks', '8', '--tokens', '0'], 2, 'bench deepep: --tokens must be an integer >= 1, got "0"'],
  [['bench', 'deepep', '--ranks', '8', '--mode', 'fast'], 2, "bench deepep: --mode must be 'normal' or 'low-latency'"],
  [['bench', 'deepep', '--ranks', '8', '--mode', 'low-latency', '--tokens', '300'], 2, 'bench deepep --mode low-latency: --tokens must be an integer in [1, 256]'],
  [['bench', 'deepep', '--ranks', '8', '--sms', '3'], 2, 'bench deepep: --sms must be an even integer >= 2 or a comma-separated list of them'],
  [['bench', 'deepep', '--ranks', '8', '--dtype', 'fp16'], 2, "bench deepep: --dtype must be fp8 or bf16, got 'fp16'"],
  [['bench', 'deepep', '--ranks', '8', '--hidden', '100'], 2, 'bench deepep: --hidden must be a multiple of 128 for fp8'],
  [['bench', 'deepep', '--ranks', '8', '--dtype', 'bf16', '--hidden', '7'], 2, "bench deepep: hidden 7 makes BF16 rows of 14 bytes (use a multiple of 8); rule 'row-bytes-16'"],
  [['bench', 'deepep', '--ranks', '8', '--experts', '100'], 2, "bench deepep: experts 100 is not divisible by the 8 ranks; rule 'experts-divisible-by-ranks'"],
  [['trace', 'summarize'], 2, 'trace summarize: missing argument <trace.json>'],
  [['trace', 'summarize', join(dir, 'none.json')], 2, `cannot read trace file ${join(dir, 'none.json')}: ENOENT`],
  [['trace', 'summarize', file('nottrace.json', { a: 1 })], 2, `trace file ${join(dir, 'nottrace.json')} is not a trace: expected an object with a traceEvents array`],
  [['trace', 'summarize', file('nullevent.json', { traceEvents: [null] })], 2, 'not a trace: event 0 is not an object, got null'],
];

describe('CLI: bad input gives its exit code and one line naming the problem', () => {
  it.each(CLI_CASES)('%j -> exit %i', async (argv, code, words) => {
    const r = await cli(argv);
    expect(r.code).toBe(code);
    expect(r.err.startsWith(`expertmesh: ${words}`), r.err).toBe(true);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
  });

  it('no command: usage on stderr, exit 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.err.startsWith('Usage: expertmesh <command>')).toBe(true);
  });

  it('--dry-run prints the estimate and exits 2 when it is over a limit, before anything runs', async () => {
    const r = await cli(['run', scenario('huge2.json', { model: { tokensPerRank: 1e9 } }), '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.out.startsWith("estimate for scenario 'huge2.json' (4 ranks), before any work:")).toBe(true);
    expect(r.out).toContain('over a limit: host memory estimate');
    expect(r.out).toContain('lower model.tokensPerRank');
    const fits = await cli(['bench', 'deepep', '--ranks', '8', '--tokens', '64', '--dry-run', '--json']);
    expect(fits.code).toBe(0);
    const j = JSON.parse(fits.out) as { schemaVersion: number; fits: boolean; estimate: { ranks: number; hostLimitBytes: number } };
    expect(j).toMatchObject({ schemaVersion: 1, fits: true, estimate: { ranks: 8, hostLimitBytes: 8e9 } });
  });
});

let a2a: Cluster;
let wide: Cluster;
beforeAll(async () => {
  a2a = await createCluster({ nodes: 4, gpusPerNode: 8, hardware: 'H800', transport: 'in-process', workers: 1 });
  wide = await createCluster({ nodes: 1, gpusPerNode: 16, hardware: 'H800', transport: 'in-process', workers: 1 });
});
afterAll(async () => {
  await a2a?.close();
  await wide?.close();
});

// [label, call, error code, first words of the message]
const API_CASES: Array<[string, () => unknown, string, string]> = [
  ['runScenario({})', () => runScenario({} as never), 'E_SCENARIO', 'runScenario: cluster is required'],
  ['runScenario(null)', () => runScenario(null as never), 'E_SCENARIO', 'runScenario: a scenario must be a JSON object, got null'],
  ['planScenario(null)', () => planScenario(null as never), 'E_SCENARIO', 'planScenario: a scenario must be a JSON object, got null'],
  ['planScenario(tokensPerRank 1e9)', () => planScenario(loadScenario({ cluster: tinyCluster, model: { ...tinyModel, tokensPerRank: 1e9 } })), 'E_LIMIT', "scenario 'scenario': host memory estimate 934.4 GB is over the limit of 8.0 GB"],
  ['parseScenario(tokensPerRank NaN)', () => parseScenario({ cluster: tinyCluster, model: { ...tinyModel, tokensPerRank: NaN } }), 'E_SCENARIO', 'scenario: model.tokensPerRank: got NaN'],
  ['loadScenario(missing file)', () => loadScenario(join(dir, 'nope.json')), 'E_SCENARIO', 'cannot read scenario file'],
  ['createCluster(null)', () => createCluster(null as never), 'E_CONFIG', 'cluster config must be an object'],
  ['createCluster({ nodes: NaN })', () => createCluster({ nodes: NaN, gpusPerNode: 8, hardware: 'H800' }), 'E_CONFIG', "cluster config: 'nodes' must be an integer in [1, 9007199254740991], got NaN"],
  ['createCluster({ gpusPerNode: 1000 })', () => createCluster({ nodes: 1, gpusPerNode: 1000, hardware: 'H800' }), 'E_CONFIG', "cluster config: gpusPerNode 1000 is over 72; rule 'nvlink-domain'"],
  ['createCluster({ hardware: "A100" })', () => createCluster({ nodes: 1, gpusPerNode: 8, hardware: 'A100' }), 'E_CONFIG', "unknown hardware profile 'A100'"],
  ['allToAll(null, ...)', () => allToAll(null as never, { bytesPerPair: 1 }), 'E_ARGUMENT', 'allToAll: the first argument must be a cluster from createCluster(), got null'],
  ['allToAll(bytesPerPair NaN)', () => allToAll(a2a, { bytesPerPair: NaN }), 'E_ARGUMENT', 'allToAll: bytesPerPair must be a positive integer, got NaN'],
  ['allToAll(256 MiB per pair, 32 ranks)', () => allToAll(a2a, { bytesPerPair: 256 * 2 ** 20 }), 'E_LIMIT', 'allToAll: host memory estimate 532.6 GB is over the limit of 8.0 GB'],
  ['allToAll(bytesPerPair 2**31)', () => allToAll(a2a, { bytesPerPair: 2 ** 31 }), 'E_LIMIT', 'allToAll: host memory estimate'],
  ['allToAll(options null)', () => allToAll(a2a, null as never), 'E_ARGUMENT', 'allToAll: options must be an object'],
  ['runTraffic(transfers null)', () => runTraffic(a2a, null as never), 'E_ARGUMENT', 'runTraffic: transfers must be an array'],
  ['runTraffic([null])', () => runTraffic(a2a, [null as never]), 'E_ARGUMENT', 'runTraffic: transfers[0] must be an object'],
  ['runTraffic(dst 99)', () => runTraffic(a2a, [{ src: 0, dst: 99, bytes: 1 }]), 'E_RANK', 'runTraffic: transfers[0].dst = 99 is not a rank of this 32-rank cluster'],
  ['runTraffic(bytes NaN)', () => runTraffic(a2a, [{ src: 0, dst: 1, bytes: NaN }]), 'E_ARGUMENT', 'runTraffic: transfers[0].bytes must be a whole number >= 0, got NaN'],
  ['createExpertParallel(16 GPUs per node)', () => createExpertParallel(wide, { numExperts: 16, hidden: 128 }), 'E_CONFIG', "createExpertParallel: cluster gpusPerNode 16 is over 8; rule 'deepep-nvl-peers'"],
  ['createExpertParallel(hidden 7 BF16)', () => createExpertParallel(a2a, { numExperts: 32, hidden: 7, dtype: 'bf16' }), 'E_CONFIG', "createExpertParallel: hidden 7 makes BF16 rows of 14 bytes (use a multiple of 8); rule 'row-bytes-16'"],
  ['createExpertParallel(33 experts)', () => createExpertParallel(a2a, { numExperts: 33, hidden: 128 }), 'E_CONFIG', "createExpertParallel: numExperts 33 is not divisible by the 32 ranks; rule 'experts-divisible-by-ranks'"],
  ['createExpertParallel(no cluster)', () => createExpertParallel(undefined as never, { numExperts: 8, hidden: 128 }), 'E_ARGUMENT', 'createExpertParallel: the first argument must be a cluster'],
  ['runDeepepBenchmark({ ranks: 1 })', () => runDeepepBenchmark({ ranks: 1 }), 'E_CONFIG', "bench deepep: ranks 1; rule 'bench-min-ranks'"],
  ['runDeepepBenchmark({ tokens: NaN })', () => runDeepepBenchmark({ ranks: 8, tokens: NaN }), 'E_ARGUMENT', 'bench deepep: --tokens must be an integer >= 1, got NaN'],
  ['runDeepepBenchmark({ tokens: 99999999 })', () => runDeepepBenchmark({ ranks: 8, tokens: 99_999_999 }), 'E_LIMIT', 'bench deepep: host memory estimate'],
  ['runDeepepBenchmark(null)', () => runDeepepBenchmark(null as never), 'E_ARGUMENT', 'bench deepep: options must be an object, got null'],
  ['summarizeTrace(42)', () => summarizeTrace(42 as never), 'E_ARGUMENT', 'not a trace: expected an object with a traceEvents array, got 42'],
  ['summarizeTrace(ts NaN)', () => summarizeTrace({ traceEvents: [{ ph: 'X', name: 'a', pid: 0, tid: 0, ts: NaN, dur: 1 }] }), 'E_ARGUMENT', 'not a trace: event 0 (ph "X") needs a finite ts, got NaN'],
  ['decodePackets(truncated array)', () => decodePackets(new Uint8Array([0xdc, 0x00]), { numRanks: 2, numRegions: 1 }), 'E_PACKET', 'packet batch is not valid msgpack'],
  ['getHardwareProfile("A100")', () => getHardwareProfile('A100'), 'E_CONFIG', "unknown hardware profile 'A100'; known: H800, H100, H200"],
  ['validateHardwareProfile(hbmBytes NaN)', () => validateHardwareProfile({ ...H800, hbmBytes: NaN }), 'E_CONFIG', 'hardware.hbmBytes must be a positive finite number, got NaN'],
  ['cluster.register(2**53 bytes)', () => a2a.register(0, 'big', 2 ** 53), 'E_MEMORY', "register: 'big' (9007199254740992 B) would take rank 0 to"],
  ['cluster.snapshot(rank 99)', () => a2a.snapshot(99), 'E_RANK', 'snapshot: rank 99 does not exist'],
  ['noRedundancyLayout(2**31 experts)', () => noRedundancyLayout(2 ** 31, 8, 1), 'E_LIMIT', 'noRedundancyLayout: the layout would take'],
  ['expertLoad(numExperts 2**40)', () => expertLoad(new Int32Array(4), 2 ** 40), 'E_LIMIT', 'expertLoad: the load would take'],
  ['simulateBiasBalancing(steps 2**40)', () => simulateBiasBalancing({ steps: 2 ** 40 }), 'E_LIMIT', 'simulateBiasBalancing: about'],
  ['slotGpu(null, 0)', () => slotGpu(null as never, 0), 'E_ARGUMENT', 'layout must be an object, got null'],
  ['toBF16Bits("1")', () => toBF16Bits('1' as never), 'E_ARGUMENT', 'toBF16Bits: x must be a number, got "1"'],
  ['gemmTimeUs(H800, null)', () => gemmTimeUs(H800, null as never), 'E_ARGUMENT', 'shape must be an object, got null'],
  ['fromWireError(null)', () => fromWireError(null as never), 'E_ARGUMENT', 'fromWireError: w must be a wire error'],
  ['new ExpertmeshError("E_NOPE")', () => new ExpertmeshError('E_NOPE' as never, 'x'), 'E_ARGUMENT', 'ExpertmeshError: code must be one of E_CONFIG'],
  ['readTraceFile(0)', () => readTraceFile(0 as never), 'E_ARGUMENT', 'cannot read trace file: the path must be a non-empty string, got 0'],
  ['createCluster({ maxVirtualUs: -1 })', () => createCluster({ nodes: 1, gpusPerNode: 2, hardware: 'H800', maxVirtualUs: -1 }), 'E_CONFIG', "cluster config: 'maxVirtualUs' must be a positive finite number of us, got -1"],
];

describe('API: bad input throws a coded ExpertmeshError naming the problem', () => {
  it.each(API_CASES)('%s -> %s', async (_label, call, code, words) => {
    let caught: unknown;
    try {
      await call();
    } catch (e) {
      caught = e;
    }
    expect(isExpertmeshError(caught), String(caught)).toBe(true);
    const e = caught as { code: string; message: string };
    expect(e.code, e.message).toBe(code);
    expect(e.message.startsWith(words), e.message).toBe(true);
  });

  it('limit errors carry the estimate, the limit and what to lower', async () => {
    const e = (await allToAll(a2a, { bytesPerPair: 2 ** 31 }).catch((x: unknown) => x)) as { data: Record<string, unknown>; message: string };
    expect(e.message).toContain('lower bytesPerPair');
    expect(e.data['estimate']).toMatchObject({ ranks: 32, hostLimitBytes: 8e9, hostLimitSource: 'EXPERTMESH_HOST_MEMORY_LIMIT' });
  });

  it('nothing was written by the failing CLI cases', () => {
    expect(readdirSync(dir).filter((f) => f.includes('.tmp') || f === 't.json')).toEqual([]);
  });

  it('covers at least 60 bad inputs', () => {
    expect(CLI_CASES.length + API_CASES.length).toBeGreaterThanOrEqual(60);
  });
});
