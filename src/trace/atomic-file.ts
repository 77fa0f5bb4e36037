/**
 * @module
 * Files that are whole or absent: written under a temporary name in the same directory and renamed
 * over the target when complete (rename is atomic within a file system). If the process exits
 * before, the temporary file is removed, so the target is never a partial file.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExpertmeshError, showValue } from '../errors.js';

const open = new Set<AtomicFile>();
let exitHook = false;

function removeTemporaries(): void {
  for (const f of open) f.abandon();
}

/** A file being written under a temporary name. */
export class AtomicFile {
  readonly tmpPath: string;
  private fd: number | null;

  /**
   * Create the temporary file next to `path`. Throws `E_ARGUMENT` naming `path` when it cannot be
   * written (missing directory, no permission), before anything runs.
   * @param what names the file in the error, e.g. 'trace file'.
   */
  constructor(readonly path: string, private readonly what = 'file') {
    if (typeof path !== 'string' || path.length === 0)
      throw new ExpertmeshError('E_ARGUMENT', `${what} path must be a non-empty string, got ${showValue(path)}`, { path: showValue(path) });
    this.tmpPath = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
    try {
      this.fd = openSync(this.tmpPath, 'w');
    } catch (e) {
      throw new ExpertmeshError('E_ARGUMENT', `cannot write ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: what, path });
    }
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', removeTemporaries);
    }
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  write(text: string): void {
    if (this.fd === null) throw new ExpertmeshError('E_CLOSED', `${this.path} is already closed`, { path: this.path });
    writeSync(this.fd, text);
  }

  /** Close and rename over the target: the file appears whole. */
  commit(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    open.delete(this);
    try {
      renameSync(this.tmpPath, this.path);
    } catch (e) {
      this.removeTemporary();
      throw new ExpertmeshError('E_ARGUMENT', `cannot write ${this.what} ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: this.what, path: this.path });
    }
  }

  private removeTemporary(): void {
    try {
      unlinkSync(this.tmpPath);
    } catch {
      // Already gone.
    }
  }

  /** Close and remove the temporary file: the target is left as it was. */
  abandon(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed by the OS at exit
      }
      this.fd = null;
    }
    open.delete(this);
    try {
      unlinkSync(this.tmpPath);
    } catch {
      // already gone
    }
  }
}

/**
 * Write `text` to `path` whole or not at all (temporary name, then rename).
 * @throws ExpertmeshError `E_ARGUMENT` when `path` cannot be written.
 */
export function writeFileAtomic(path: string, text: string, what = 'file'): void {
  const f = new AtomicFile(path, what);
  try {
    f.write(text);
    f.commit();
  } catch (e) {
    f.abandon();
    throw e;
  }
}

