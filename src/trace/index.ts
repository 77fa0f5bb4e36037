/**
 * @module
 * Public surface of src/trace (re-exported by src/index.ts): Chrome Trace Event JSON of a run,
 * streamed to a file, validated, and summarised.
 */
export { LINK_PORTS, resolveTraceOptions, DEFAULT_COUNTER_BUCKETS, DEFAULT_MAX_TRANSFERS_PER_PHASE } from './events.js';
export type { TraceEvent, TraceOptions, TraceDetail, ResolvedTraceOptions, LinkPort } from './events.js';
export { TraceBuilder, UTILISATION_BUCKETS, UTILISATION_SERIES } from './builder.js';
export type { TracePhase, TraceStats } from './builder.js';
export { TraceWriter } from './writer.js';
export type { TraceMetadata } from './writer.js';
export { TraceRecorder, writeTrace } from './recorder.js';
export type { TraceInput, TraceShape } from './recorder.js';
export { validateTrace } from './validate.js';
export { summarizeTrace } from './summarize.js';
export type { TraceSummary, RankUtilisation, LinkUtilisation } from './summarize.js';
export { readTraceFile } from './read.js';
export type { TraceDocument } from './read.js';
