/**
 * @module
 * `expertmesh bench deepep --mode normal --ranks R [...]`: DeepEP's normal-kernel benchmark on the
 * simulated cluster (see src/ep/deepep-benchmark.ts).
 */
import { formatEpConfig } from './table.js';
import { usageError, intOption, type CliIo, type Command, type ParsedArgs } from './command.js';
import { runDeepepBenchmark, type DeepepBenchResult, type KernelFigures } from '../ep/deepep-benchmark.js';

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
  return (
    `DeepEP normal kernels, ${r.ranks} ranks (${r.nodes} node${r.nodes > 1 ? 's' : ''}), ${r.sms} SMs, ${r.tokens} tokens x hidden ${r.hidden}, dispatch ${r.dtype}\n` +
    `[notify] ${r.notifyUs.toFixed(1)} us (excluded from kernel times)\n` +
    formatKernel('dispatch', r.dispatch) +
    formatKernel('combine', r.combine) +
    `simulated ${r.events} events in ${(r.wallMs / 1000).toFixed(1)} s wall\n`
  );
}

export const benchDeepepCommand: Command = {
  name: 'bench deepep',
  summary: "Reproduce DeepEP's normal dispatch/combine benchmark (kernel time and bandwidth counted as DeepEP's test counts them).",
  maxPositionals: 0,
  options: {
    mode: { type: 'string', value: 'normal', help: "kernel family; only 'normal' (high-throughput) is modelled" },
    ranks: { type: 'string', value: 'R', help: 'ranks (EP size): below 8 on one node, else a multiple of 8 (8 GPUs per node); required' },
    sms: { type: 'string', value: 'N', help: 'SMs per kernel, even (default 24, as DeepEP test uses)' },
    tokens: { type: 'string', value: 'T', help: 'tokens per rank (default 4096)' },
    hidden: { type: 'string', value: 'H', help: 'hidden size (default 7168)' },
    topk: { type: 'string', value: 'K', help: 'experts per token (default 8)' },
    experts: { type: 'string', value: 'E', help: 'routed experts (default 256)' },
    dtype: { type: 'string', value: 'fp8|bf16', help: 'dispatch payload (default fp8; combine is always bf16)' },
    tune: { type: 'boolean', help: "sweep chunk sizes as DeepEP's test does and report the best" },
    payload: { type: 'boolean', help: 'move real payload bytes (default: sizes only, same timeline)' },
    workers: { type: 'string', value: 'N', help: 'host worker threads (default: cores available)' },
    seed: { type: 'string', value: 'S', help: 'seed of the routing inputs (default 0)' },
    json: { type: 'boolean', help: 'print one JSON object (schemaVersion, mode, ranks, nodes, sms, notifyUs, dispatch, combine, wallMs) and nothing else' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const cmd = 'bench deepep';
    const mode = (args.values['mode'] as string | undefined) ?? 'normal';
    if (mode !== 'normal') throw usageError(`${cmd}: --mode must be 'normal' (the low-latency kernels are not modelled yet), got '${mode}'`, { option: 'mode', value: mode });
    const ranks = intOption(cmd, args, 'ranks', 1);
    if (ranks === undefined) throw usageError(`${cmd}: --ranks R is required (see expertmesh bench deepep --help)`, { option: 'ranks' });
    const sms = intOption(cmd, args, 'sms', 2);
    if (sms !== undefined && sms % 2 !== 0) throw usageError(`${cmd}: --sms must be even (two SMs per channel), got ${sms}`, { option: 'sms', value: sms });
    const dtype = (args.values['dtype'] as string | undefined) ?? 'fp8';
    if (dtype !== 'fp8' && dtype !== 'bf16') throw usageError(`${cmd}: --dtype must be fp8 or bf16, got '${dtype}'`, { option: 'dtype', value: dtype });
    const opt = (n: string, min: number) => intOption(cmd, args, n, min);
    const tokens = opt('tokens', 1), hidden = opt('hidden', 1), topk = opt('topk', 1), experts = opt('experts', 1), workers = opt('workers', 1), seed = opt('seed', 0);
    if (hidden !== undefined && dtype === 'fp8' && hidden % 128 !== 0) throw usageError(`${cmd}: --hidden must be a multiple of 128 for fp8, got ${hidden}`, { option: 'hidden', value: hidden });
    const r = await runDeepepBenchmark({
      mode: 'normal', ranks, dtype, tune: args.values['tune'] === true, payload: args.values['payload'] === true,
      ...(sms !== undefined ? { sms } : {}), ...(tokens !== undefined ? { tokens } : {}), ...(hidden !== undefined ? { hidden } : {}),
      ...(topk !== undefined ? { topk } : {}), ...(experts !== undefined ? { experts } : {}), ...(workers !== undefined ? { workers } : {}),
      ...(seed !== undefined ? { seed } : {}),
      onProgress: (line) => io.stderr.write(`${line}\n`),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    io.stdout.write(args.values['json'] ? `${JSON.stringify(r)}\n` : formatDeepepResult(r));
    return 0;
  },
};
