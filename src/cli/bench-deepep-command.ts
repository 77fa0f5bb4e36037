/**
 * @module
 * `expertmesh bench deepep --mode normal --ranks R [...]`: DeepEP's normal-kernel benchmark on the
 * simulated cluster (see src/ep/normal/deepep-benchmark.ts).
 */
import { formatEpConfig } from './table.js';
import type { EpConfig } from '../ep/normal/ep-config.js';
import { usageError, intOption, type CliIo, type Command, type ParsedArgs } from './command.js';
import { estimateDeepepBenchmark, runDeepepBenchmark, runDeepepSmsSweep, type DeepepBenchResult, type KernelFigures } from '../ep/normal/deepep-benchmark.js';
import { benchReport } from '../report/index.js';
import { emitReport, REPORT_OPTION, reportPath } from './report-output.js';
import { printDryRun } from './dry-run.js';
import { formatBytes } from '../cluster/host-limits.js';
import { formatLowLatencyResult, runLowLatencyBenchmark } from '../ep/low-latency/benchmark.js';
import { LINK_SHARING_MODES, type LinkSharing } from '../sim/message-port.js';

const f1 = (v: number | null) => (v === null ? '-' : v.toFixed(1));

function formatKernel(name: string, k: KernelFigures): string {
  const rdma = k.rdmaGBps === null ? '' : `, RDMA ${f1(k.rdmaGBps)} GB/s (ranks ${f1(k.rdmaGBpsMin)}-${f1(k.rdmaGBpsMax)})`;
  return (
    `[${name}] rank 0: ${k.timeUs.toFixed(1)} us${rdma}, NVL ${f1(k.nvlGBps)} GB/s (ranks ${f1(k.nvlGBpsMin)}-${f1(k.nvlGBpsMax)}); ` +
    `time over ranks ${k.timeUs === k.minTimeUs && k.timeUs === k.maxTimeUs ? '' : `${k.minTimeUs.toFixed(1)}-`}${k.maxTimeUs.toFixed(1)} us; ` +
    `config ${formatEpConfig(k.config)}\n`
  );
}

export function formatDeepepResult(r: DeepepBenchResult): string {
  const sweep = r.sweep ? `tuned over DeepEP's sweep: ${r.sweep.dispatchRuns} dispatch and ${r.sweep.combineRuns} combine configs run, ${r.sweep.refused} refused by DeepEP's asserts\n` : '';
  return (
    `DeepEP normal kernels, ${r.ranks} ranks (${r.nodes} node${r.nodes > 1 ? 's' : ''}), ${r.sms} SMs, ${r.tokens} tokens x hidden ${r.hidden}, dispatch ${r.dtype}, ${r.hardware}\n` +
    `[notify] ${r.notifyUs.toFixed(1)} us (excluded from kernel times)\n` +
    (r.defaults ? formatKernel('dispatch, default', r.defaults.dispatch) + formatKernel('combine, default', r.defaults.combine) + sweep : '') +
    formatKernel(r.tuned ? 'dispatch, tuned' : 'dispatch', r.dispatch) +
    formatKernel(r.tuned ? 'combine, tuned' : 'combine', r.combine) +
    `simulated ${r.events} events in ${(r.wallMs / 1000).toFixed(1)} s wall\n` +
    `memory: host peak RSS ${formatBytes(r.peakRssBytes)}; simulated HBM ${formatBytes(r.simulatedHbmBytes)} per rank of ${formatBytes(r.hbmCapacityBytes)}\n`
  );
}

export const benchDeepepCommand: Command = {
  name: 'bench deepep',
  summary: "Reproduce DeepEP's dispatch/combine benchmarks, normal or low-latency (kernel time and bandwidth counted as DeepEP's tests count them).",
  maxPositionals: 0,
  options: {
    mode: { type: 'string', value: 'normal|low-latency', help: "kernel family: 'normal' (high-throughput, default) or 'low-latency' (decode: DeepEP's test_low_latency.py, 128 tokens, 288 experts where the rank count divides it, else 256; sizes-only)" },
    ranks: { type: 'string', value: 'R', help: 'ranks (EP size): below 8 on one node, else a multiple of 8 (8 GPUs per node); required' },
    sms: { type: 'string', value: 'N[,N...]', help: 'SMs per kernel, even (default 24, as DeepEP test uses); a list (8,16,20,24,32) runs one row per count' },
    tokens: { type: 'string', value: 'T', help: 'tokens per rank (default 4096; low-latency 128, at most 256)' },
    hidden: { type: 'string', value: 'H', help: 'hidden size (default 7168)' },
    topk: { type: 'string', value: 'K', help: 'experts per token (default 8)' },
    experts: { type: 'string', value: 'E', help: 'routed experts (default 256; low-latency 288 where --ranks divides it, else 256)' },
    dtype: { type: 'string', value: 'fp8|bf16', help: 'dispatch payload (default fp8; combine is always bf16)' },
    tune: { type: 'boolean', help: "sweep chunk sizes and ring sizes as DeepEP's tests do (up to 88 dispatch + 49 combine runs) and report the best with the defaults" },
    hardware: { type: 'string', value: 'NAME|path.json', help: 'hardware profile: a built-in name (default H800) or a JSON profile file (see expertmesh hardware show)' },
    'dispatch-config': { type: 'string', value: 'JSON', help: "dispatch config fields over DeepEP's default, e.g. '{\"nvlChunk\":16}' (numSms, nvlChunk, nvlBuffer, rdmaChunk, rdmaBuffer)" },
    'combine-config': { type: 'string', value: 'JSON', help: "combine config fields over DeepEP's default, e.g. '{\"nvlBuffer\":290}' where DeepEP has no entry for the rank count" },
    payload: { type: 'boolean', help: 'move real payload bytes (default: sizes only, same timeline)' },
    'no-timeline-digest': { type: 'boolean', help: 'record no timeline and report timelineDigest null (less memory and time; the figures are the same)' },
    workers: { type: 'string', value: 'N', help: 'host worker threads (default: cores available)' },
    'link-sharing': { type: 'string', value: 'fluid|message', help: "how a link port shares its bandwidth: 'fluid' (max-min fair shares under receiver credits; the default with --mode normal) or 'message' (one transfer at a time per sender port, streams in turn, no credits: packet arbitration at message granularity, for the low-latency kernels' small messages; the default with --mode low-latency; on the normal kernels its kernel times are within 2% of fluid's up to EP128 (one seed, measured), in under half the wall time at EP128: docs/runtime.md; see docs/hardware.md)" },
    seed: { type: 'string', value: 'S', help: 'seed of the routing inputs (default 0)' },
    report: REPORT_OPTION,
    'dry-run': { type: 'boolean', help: 'print the estimate (host memory, simulated HBM per rank, events) and exit: 0 if it fits, 2 if over a limit' },
    json: { type: 'boolean', help: 'print one JSON object (schemaVersion, mode, ranks, nodes, sms, hardware, linkSharing, notifyUs, tuned, dispatch, combine, defaults, events, transfers, wallMs, cpuMs, timelineDigest, windows, workers, hostStats, phasesMs, peakRssBytes, simulatedHbmBytes, hbmCapacityBytes; with an --sms list: rows; with --mode low-latency: schemaVersion, mode, ranks, nodes, tokens, hidden, topk, experts, expertsSource, dtype, hardware, linkSharing, launch, rdmaBytes, dispatch, combine, events, windows, wallMs, cpuMs, workers, hostStats, phasesMs, peakRssBytes) and nothing else' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const cmd = 'bench deepep';
    const mode = (args.values['mode'] as string | undefined) ?? 'normal';
    if (mode !== 'normal' && mode !== 'low-latency') throw usageError(`${cmd}: --mode must be 'normal' or 'low-latency', got '${mode}'`, { option: 'mode', value: mode });
    const linkSharing = linkSharingOption(cmd, args, mode === 'low-latency' ? 'message' : 'fluid');
    if (mode === 'low-latency') return runLowLatencyCli(cmd, args, io, linkSharing);
    const report = reportPath(cmd, args);
    const ranks = intOption(cmd, args, 'ranks', 1);
    if (ranks === undefined) throw usageError(`${cmd}: --ranks R is required (see expertmesh bench deepep --help)`, { option: 'ranks' });
    const smsText = args.values['sms'];
    const smsList = typeof smsText === 'string' ? smsText.split(',').map((t) => t.trim()) : [];
    for (const t of smsList)
      if (!/^\d+$/.test(t) || Number(t) < 2 || Number(t) % 2 !== 0)
        throw usageError(`${cmd}: --sms must be an even integer >= 2 or a comma-separated list of them (two SMs per channel), got '${smsText as string}'`, { option: 'sms', value: smsText });
    const sms = smsList.length === 1 ? Number(smsList[0]) : undefined;
    const hardware = args.values['hardware'];
    const dtype = (args.values['dtype'] as string | undefined) ?? 'fp8';
    if (dtype !== 'fp8' && dtype !== 'bf16') throw usageError(`${cmd}: --dtype must be fp8 or bf16, got '${dtype}'`, { option: 'dtype', value: dtype });
    const opt = (n: string, min: number) => intOption(cmd, args, n, min);
    const tokens = opt('tokens', 1), hidden = opt('hidden', 1), topk = opt('topk', 1), experts = opt('experts', 1), workers = opt('workers', 1), seed = opt('seed', 0);
    if (hidden !== undefined && dtype === 'fp8' && hidden % 128 !== 0) throw usageError(`${cmd}: --hidden must be a multiple of 128 for fp8, got ${hidden}`, { option: 'hidden', value: hidden });
    const config = (name: 'dispatch-config' | 'combine-config'): Partial<EpConfig> | undefined => {
      const text = args.values[name];
      if (typeof text !== 'string') return undefined;
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw usageError(`${cmd}: --${name} must be a JSON object such as '{"nvlBuffer":290}', got '${text}'`, { option: name, value: text });
      }
      const keys = ['numSms', 'nvlChunk', 'nvlBuffer', 'rdmaChunk', 'rdmaBuffer'];
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).some((k) => !keys.includes(k)))
        throw usageError(`${cmd}: --${name} must be a JSON object with fields among ${keys.join(', ')}, got '${text}'`, { option: name, value: text });
      return v as Partial<EpConfig>;
    };
    const dispatchConfig = config('dispatch-config');
    const combineConfig = config('combine-config');
    const o = {
      mode: 'normal' as const,
      ...(dispatchConfig ? { dispatchConfig } : {}), ...(combineConfig ? { combineConfig } : {}), ranks, dtype: dtype as 'fp8' | 'bf16', tune: args.values['tune'] === true, payload: args.values['payload'] === true,
      ...(typeof hardware === 'string' ? { hardware } : {}),
      ...(sms !== undefined ? { sms } : {}), ...(tokens !== undefined ? { tokens } : {}), ...(hidden !== undefined ? { hidden } : {}),
      ...(topk !== undefined ? { topk } : {}), ...(experts !== undefined ? { experts } : {}), ...(workers !== undefined ? { workers } : {}),
      ...(seed !== undefined ? { seed } : {}), linkSharing,
      ...(args.values['no-timeline-digest'] ? { timelineDigest: false } : {}),
      onProgress: (line: string) => io.stderr.write(`${line}\n`),
      ...(io.signal ? { signal: io.signal } : {}),
    };
    if (args.values['dry-run']) return printDryRun(estimateDeepepBenchmark(o), args, io);
    if (smsList.length > 1) {
      const rows = await runDeepepSmsSweep(o, smsList.map(Number));
      io.stdout.write(args.values['json'] ? `${JSON.stringify(rows)}\n` : rows.rows.map(formatDeepepResult).join('\n'));
      if (report !== undefined) await emitReport(io, report, benchReport(rows.rows, rows.rows.map((r) => ({ heading: `bench deepep, ${r.sms} SMs`, text: formatDeepepResult(r) }))));
      return 0;
    }
    const r = await runDeepepBenchmark(o);
    io.stdout.write(args.values['json'] ? `${JSON.stringify(r)}\n` : formatDeepepResult(r));
    // One result per SM count: the report's SM sweep plot draws when a sweep gives several.
    if (report !== undefined) await emitReport(io, report, benchReport([r], [{ heading: 'bench deepep', text: formatDeepepResult(r) }]));
    return 0;
  },
};

/** `--link-sharing fluid|message` (default: the mode's, `fallback`). */
function linkSharingOption(cmd: string, args: ParsedArgs, fallback: LinkSharing): LinkSharing {
  const v = (args.values['link-sharing'] as string | undefined) ?? fallback;
  if (!(LINK_SHARING_MODES as readonly string[]).includes(v))
    throw usageError(`${cmd}: --link-sharing must be ${LINK_SHARING_MODES.map((m) => `'${m}'`).join(' or ')}, got '${v}'`, { option: 'link-sharing', value: v });
  return v as LinkSharing;
}

/** `bench deepep --mode low-latency`: DeepEP's low-latency test (src/ep/low-latency/benchmark.ts). */
async function runLowLatencyCli(cmd: string, args: ParsedArgs, io: CliIo, linkSharing: LinkSharing): Promise<number> {
  for (const o of ['sms', 'tune', 'payload', 'report', 'dry-run'])
    if (args.values[o] !== undefined && args.values[o] !== false)
      throw usageError(`${cmd}: --${o} does not apply to --mode low-latency (its SMs come from the experts; it runs sizes-only)`, { option: o });
  const ranks = intOption(cmd, args, 'ranks', 1);
  if (ranks === undefined) throw usageError(`${cmd}: --ranks R is required (see expertmesh bench deepep --help)`, { option: 'ranks' });
  const dtype = (args.values['dtype'] as string | undefined) ?? 'fp8';
  if (dtype !== 'fp8' && dtype !== 'bf16') throw usageError(`${cmd}: --dtype must be fp8 or bf16, got '${dtype}'`, { option: 'dtype', value: dtype });
  const opt = (n: string, min: number) => intOption(cmd, args, n, min);
  const tokens = opt('tokens', 1), hidden = opt('hidden', 1), topk = opt('topk', 1), experts = opt('experts', 1), workers = opt('workers', 1), seed = opt('seed', 0);
  const hardware = args.values['hardware'];
  const r = await runLowLatencyBenchmark({
    ranks, dtype, linkSharing, ...(typeof hardware === 'string' ? { hardware } : {}), ...(tokens !== undefined ? { tokens } : {}), ...(hidden !== undefined ? { hidden } : {}),
    ...(topk !== undefined ? { topk } : {}), ...(experts !== undefined ? { experts } : {}), ...(workers !== undefined ? { workers } : {}), ...(seed !== undefined ? { seed } : {}),
    onProgress: (line: string) => io.stderr.write(`${line}\n`),
    ...(io.signal ? { signal: io.signal } : {}),
  });
  io.stdout.write(args.values['json'] ? `${JSON.stringify(r)}\n` : formatLowLatencyResult(r));
  return 0;
}
