/**
 * @module
 * The one reader of the JSON files expertmesh is given (scenarios, hardware profiles, traces):
 * read, parse, and turn either failure into a coded error whose message the caller words (each
 * file kind names itself, and the bad-input tests pin those words).
 * @internal
 */
import { readFileSync } from 'node:fs';
import { fail, showValue, type ErrorCode } from './errors.js';

/** How a reader reports its two failures; `reason` is the errno code or the parser's message. */
export interface JsonFileErrors {
  code: ErrorCode;
  /** The kind of file, for a path that is not a string: `trace file`. */
  what: string;
  /** The file could not be read (`reason`: ENOENT, EISDIR, ...). */
  unreadable(reason: string): string;
  /** The text is not JSON (`reason`: the parser's message). */
  notJson(reason: string): string;
  /** Added to the error's data. */
  data?: Record<string, unknown>;
}

/** Read and parse the JSON file at `path`; throws `errors.code` with the caller's words. */
export function readJsonFile(path: string, errors: JsonFileErrors): unknown {
  // A number would be read as a file descriptor (0: standard input).
  if (typeof path !== 'string' || path === '') fail(errors.code, `cannot read ${errors.what}: the path must be a non-empty string, got ${showValue(path)}`, { ...errors.data });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(errors.code, errors.unreadable(String((e as NodeJS.ErrnoException).code ?? (e as Error).message)), { path, ...errors.data });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    fail(errors.code, errors.notJson((e as Error).message), { path, ...errors.data });
  }
}
