/**
 * @module
 * Reading a trace file written by expertmesh, or any Trace Event Format file (object or array form).
 */
import { fail } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import type { TraceEvent } from './events.js';

/** A parsed trace file. */
export interface TraceDocument {
  traceEvents: TraceEvent[];
  otherData?: Record<string, unknown>;
}

/** Read and parse a trace file; `E_ARGUMENT` naming the path when it cannot. */
export function readTraceFile(path: string): TraceDocument {
  const doc = readJsonFile(path, {
    code: 'E_ARGUMENT',
    what: 'trace file',
    unreadable: (why) => `cannot read trace file ${path}: ${why}`,
    notJson: (why) => `trace file ${path} is not valid JSON: ${why}`,
  });
  // The format's array form: the events alone.
  if (Array.isArray(doc)) return { traceEvents: doc as TraceEvent[] };
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as TraceDocument).traceEvents))
    fail('E_ARGUMENT', `trace file ${path} is not a trace: expected an object with a traceEvents array`, { path });
  return doc as TraceDocument;
}

