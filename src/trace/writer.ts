/**
 * @module
 * `TraceWriter`: streams trace events to a JSON file in the Trace Event Format's object form,
 * `{"traceEvents":[...],"displayTimeUnit":"ms","otherData":{...}}`. `otherData` is written last, by
 * {@link TraceWriter.close}, and says whether the run completed (`incomplete: true` otherwise).
 * The file is written under a temporary name and renamed by `close`: the path holds a whole trace
 * (complete, or marked incomplete) or nothing.
 */
import { ExpertmeshError } from '../errors.js';
import { AtomicFile } from './atomic-file.js';
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
  private file: AtomicFile;
  private buf: string[] = [];
  private bufBytes = 0;
  private first = true;
  /** Events written so far. */
  events = 0;

  /**
   * Start writing `path` (under a temporary name until {@link close}). Throws `E_ARGUMENT` naming
   * the path when it cannot be written, before anything runs.
   */
  constructor(readonly path: string) {
    this.file = new AtomicFile(path, 'trace file');
    this.push('{"traceEvents":[\n');
  }

  private push(s: string): void {
    this.buf.push(s);
    this.bufBytes += s.length;
    if (this.bufBytes >= FLUSH_BYTES) this.flush();
  }

  /** Write buffered text to the file. */
  flush(): void {
    if (!this.file.isOpen || this.buf.length === 0) return;
    this.file.write(this.buf.join(''));
    this.buf = [];
    this.bufBytes = 0;
  }

  /** Append events. */
  write(events: readonly TraceEvent[]): void {
    if (!this.file.isOpen) throw new ExpertmeshError('E_CLOSED', `trace file ${this.path} is already closed`, { path: this.path });
    if (events.length === 0) return;
    // One native stringify per batch is several times faster than one per event.
    for (let i = 0; i < events.length; i += 2048) {
      const body = JSON.stringify(events.slice(i, i + 2048));
      this.push(`${this.first ? '' : ',\n'}${body.slice(1, -1)}`);
      this.first = false;
    }
    this.events += events.length;
  }

  /** Finish the file with its metadata and rename it into place; safe to call twice (the second call does nothing). */
  close(meta: TraceMetadata): void {
    if (!this.file.isOpen) return;
    this.push(`\n],"displayTimeUnit":"ms","otherData":${JSON.stringify({ schemaVersion: 1, ...meta, events: this.events })}}\n`);
    this.flush();
    this.file.commit();
  }

  /** Drop the file: the path is left as it was (used when not even a partial trace can be written). */
  abandon(): void {
    this.file.abandon();
  }
}
