/**
 * @module
 * Reading a trace file written by expertmesh, or any Trace Event Format file (object or array form).
 */
import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import type { TraceEvent } from './events.js';

/** A parsed trace file. */
export interface TraceDocument {
  traceEvents: TraceEvent[];
  otherData?: Record<string, unknown>;
}

/** Read and parse a trace file; `E_ARGUMENT` naming the path when it cannot. */
export function readTraceFile(path: string): TraceDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail('E_ARGUMENT', `cannot read trace file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail('E_ARGUMENT', `trace file ${path} is not valid JSON: ${(e as Error).message}`, { path });
  }
  // The format's array form: the events alone.
  if (Array.isArray(doc)) return { traceEvents: doc as TraceEvent[] };
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as TraceDocument).traceEvents))
    fail('E_ARGUMENT', `trace file ${path} is not a trace: expected an object with a traceEvents array`, { path });
  return doc as TraceDocument;
}

