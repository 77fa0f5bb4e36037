/**
 * @module
 * `TraceWriter`: streams trace events to a JSON file in the Trace Event Format's object form,
 * `{"traceEvents":[...],"displayTimeUnit":"ms","otherData":{...}}`. `otherData` is written last, by
 * {@link TraceWriter.close}, and says whether the run completed (`incomplete: true` otherwise).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ExpertmeshError } from '../errors.js';
import type { TraceEvent } from './events.js';

/** Written into `otherData` when the writer closes. */
export interface TraceMetadata {
  /** Trace format version of expertmesh. */
  schemaVersion?: number;
  /** True when the run failed or was aborted before the end. */
  incomplete: boolean;
  /** Why the run stopped, when it failed. */
  error?: string;
  [key: string]: unknown;
}

const FLUSH_BYTES = 1 << 20;

export class TraceWriter {
  private fd: number | null;
  private buf: string[] = [];
  private bufBytes = 0;
  private first = true;
  /** Events written so far. */
  events = 0;

  /**
   * Create (or truncate) `path`. Throws `E_ARGUMENT` naming the path when it cannot be written,
   * before anything runs.
   */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw new ExpertmeshError('E_ARGUMENT', `cannot write trace file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: 'trace', path });
    }
    this.push('{"traceEvents":[\n');
  }

  private push(s: string): void {
    this.buf.push(s);
    this.bufBytes += s.length;
    if (this.bufBytes >= FLUSH_BYTES) this.flush();
  }

  /** Write buffered text to the file. */
  flush(): void {
    if (this.fd === null || this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.bufBytes = 0;
  }

  /** Append events. */
  write(events: readonly TraceEvent[]): void {
    if (this.fd === null) throw new ExpertmeshError('E_CLOSED', `trace file ${this.path} is already closed`, { path: this.path });
    if (events.length === 0) return;
    // One native stringify per batch is several times faster than one per event.
    for (let i = 0; i < events.length; i += 2048) {
      const body = JSON.stringify(events.slice(i, i + 2048));
      this.push(`${this.first ? '' : ',\n'}${body.slice(1, -1)}`);
      this.first = false;
    }
    this.events += events.length;
  }

  /** Finish the file with its metadata; safe to call twice (the second call does nothing). */
  close(meta: TraceMetadata): void {
    if (this.fd === null) return;
    this.push(`\n],"displayTimeUnit":"ms","otherData":${JSON.stringify({ schemaVersion: 1, ...meta, events: this.events })}}\n`);
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}
