/**
 * @module
 * The JSON scenario schema (zod). Every object is strict: an unknown field is an error. Option
 * names follow DeepEP, SGLang and vLLM where those exist (`numSms`, `numRedundantExperts`,
 * `enableEplb`). Defaults are filled in by the schema; cross-field rules live in `check.ts`.
 */
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/**
 * DeepEP `Config` of a normal (high-throughput) kernel; sizes in tokens. A field left out takes
 * DeepEP's default for the cluster's rank count (`get_dispatch_config` / `get_combine_config`).
 */
export const kernelConfigSchema = z
  .object({
    /** SMs the kernel occupies (DeepEP `Buffer.num_sms`; channels = numSms / 2). */
    numSms: int(2, 1024).default(24),
    /** Tokens per NVLink chunk (`num_max_nvl_chunked_send_tokens`). */
    nvlChunk: int(1).optional(),
    /** NVLink receive buffer per channel, tokens (`num_max_nvl_chunked_recv_tokens`). */
    nvlBuffer: int(1).optional(),
    /** Tokens per RDMA chunk (`num_max_rdma_chunked_send_tokens`). */
    rdmaChunk: int(1).optional(),
    /** RDMA receive buffer per channel, tokens (`num_max_rdma_chunked_recv_tokens`). */
    rdmaBuffer: int(1).optional(),
  })
  .strict();

export const clusterSchema = z
  .object({
    nodes: int(1),
    gpusPerNode: int(1).default(8),
    /**
     * Hardware profile: a built-in name ('H800', 'H100', 'H200'), a path to a JSON profile file
     * (relative to the scenario file), or an inline profile object (`{ "extends": "H100", ... }`).
     */
    hardware: z.union([z.string().min(1), z.record(z.unknown())]).default('H800'),
    /** Host worker threads; default: the cores available (at most one per rank). */
    workers: int(1).optional(),
    /** Where the simulated ranks run. */
    transport: z.enum(['worker', 'in-process']).default('worker'),
  })
  .strict();

export const modelSchema = z
  .object({
    numExperts: int(1).default(256),
    topk: int(1).default(8),
    numGroups: int(1).default(8),
    topkGroups: int(1).default(4),
    hidden: int(1).default(7168),
    /** Expert FFN intermediate size (`moe_intermediate_size`). */
    moeIntermediateSize: int(1).default(2048),
    numSharedExperts: int(0).default(1),
    scoreFunc: z.enum(['sigmoid', 'softmax']).default('sigmoid'),
    routeScale: z.number().positive().finite().default(2.5),
    /** Tokens each rank holds before dispatch. */
    tokensPerRank: int(1).default(4096),
    /** Dispatch payload format: FP8 with per-128 scales (DeepSeek-V3) or BF16. Combine is BF16. */
    dispatchFormat: z.enum(['fp8', 'bf16']).default('fp8'),
  })
  .strict();

export const routingSchema = z
  .object({
    /** `gate`: DeepSeek's group-limited gate on seeded logits; `synthetic`: top-k drawn from a Zipf popularity. */
    mode: z.enum(['gate', 'synthetic']).default('synthetic'),
    /** Zipf exponent of expert popularity (0 = uniform). In gate mode it skews the logits. */
    zipf: z.number().min(0).max(8).default(0),
    seed: z.number().int().default(0),
    /** Node-limited routing: nodes one token may reach (DeepSeek-V3: 4). Omit for no limit. */
    maxNodesPerToken: int(1).optional(),
    /**
     * Gate mode: γ of auxiliary-loss-free balancing, applied to the gate's bias after every step
     * (warm-up and simulated). DeepSeek-V3: 0.001 (Megatron's `moe_router_bias_update_rate`). 0 = a fixed zero bias.
     */
    biasUpdateRate: z.number().min(0).max(1).default(0.001),
    /** Gate mode: steps of routing and bias updates only (no kernels) before the simulated steps. */
    warmupSteps: int(0, 100000).default(0),
  })
  .strict();

export const balancingSchema = z
  .object({
    /** Run EPLB (`rebalanceExperts`) on the expert loads of step 0 before the timed steps. */
    enableEplb: z.boolean().default(false),
    /** Redundant expert replicas (physical slots = numExperts + numRedundantExperts). */
    numRedundantExperts: int(0).default(0),
    /** How a token picks among an expert's replicas. */
    replicaPolicy: z.enum(['balanced', 'round-robin']).default('round-robin'),
  })
  .strict();

export const traceSamplingSchema = z
  .object({
    /** `sampled` (default: capped slices, bucketed counters) or `full` (every transfer, every counter change). */
    detail: z.enum(['sampled', 'full']).optional(),
    /** Keep transfers whose source or destination is in this list (default: all ranks). */
    ranks: z.array(int(0)).optional(),
    /** Keep one transfer in `every` (deterministic, by canonical index). */
    every: int(1).default(1),
    /** Stop adding transfer slices after this many (the rest is aggregated into counters). */
    maxTransfers: int(1).optional(),
    /** At most this many transfer slices per phase, evenly spaced (default 5000 when sampled, no limit when full). */
    maxTransfersPerPhase: int(1).optional(),
    /** Counter buckets per phase, each sampled with its mean bytes in flight; 0 = every change (default 200 when sampled, 0 when full). */
    counterBuckets: int(0, 100000).optional(),
    /** Emit flow arrows from each send to its receive. */
    flows: z.boolean().default(true),
    /** Emit bytes-in-flight counters per link. */
    counters: z.boolean().default(true),
    /** Lanes (tracks) per link port; a transfer finding every lane busy is counted but not drawn. */
    maxLanes: int(1, 256).default(16),
  })
  .strict();

export const traceSchema = z
  .object({
    path: z.string().min(1),
    sampling: traceSamplingSchema.default({}),
  })
  .strict();

/**
 * How each rank's streams run a step: `serial` (one stream, one kernel at a time) or DeepSeek's
 * prefill `two-batch-overlap` (two micro-batches, compute and communication streams on an SM
 * partition). Scheduled runs simulate `layers` MoE layers and scale them to a DeepSeek-V3 step.
 */
export const scheduleSchema = z
  .object({
    kind: z.enum(['serial', 'two-batch-overlap']).default('serial'),
    /** SMs of the communication stream (dispatch and combine run on them; DeepSeek prefill: 24). */
    commSms: int(2, 1024).default(24),
    /** MoE layers simulated (>= 3 measures the steady state between layers 1 and the last). */
    layers: int(1, 64).default(3),
    /** Prompt length the tokens are split into for attention (reference assumption §3: 4096). */
    promptLen: int(1).default(4096),
  })
  .strict();

/** The reduced real-payload run that follows the main run on the same cluster. */
export const checkSchema = z
  .object({
    hidden: int(1).default(512),
    tokensPerRank: int(1).default(256),
    moeIntermediateSize: int(1).default(256),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().min(1).default('scenario'),
    description: z.string().optional(),
    cluster: clusterSchema,
    model: modelSchema.default({}),
    routing: routingSchema.default({}),
    balancing: balancingSchema.default({}),
    dispatchConfig: kernelConfigSchema.default({}),
    combineConfig: kernelConfigSchema.default({}),
    payload: z.enum(['real', 'sizes-only']).default('sizes-only'),
    steps: int(1, 1000).default(1),
    /** A reduced real-payload run checked against the dense reference after the main run. */
    check: checkSchema.optional(),
    trace: traceSchema.optional(),
    /** Run each step as a schedule on the GPUs' streams (default: the kernels one by one, as benchmarks). */
    schedule: scheduleSchema.optional(),
  })
  .strict();

/** A validated scenario with every default filled in. */
export type Scenario = z.output<typeof scenarioSchema>;
/** What a scenario file may contain (defaults optional). */
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type KernelConfig = Scenario['dispatchConfig'];
export type TraceSampling = z.output<typeof traceSamplingSchema>;
export type ScheduleConfig = z.output<typeof scheduleSchema>;
