/**
 * @module
 * The one error type of expertmesh. Errors carry a stable `code` and a plain `data` record so they
 * survive crossing a thread as `{ code, message, data }`; recognise them by `code` (or
 * {@link isExpertmeshError}), never by `instanceof`, which does not hold across threads.
 */

/** Stable error codes. New codes are appended; existing ones never change meaning. */
export type ErrorCode =
  /** A configuration object is invalid (cluster, hardware profile, dispatch config, scenario). */
  | 'E_CONFIG'
  /** A function argument is invalid: wrong length, wrong type, not an integer, out of its range. */
  | 'E_ARGUMENT'
  /** A rank id does not exist in the cluster. */
  | 'E_RANK'
  /** A registered-memory region is unknown, registered twice, or accessed out of bounds. */
  | 'E_REGION'
  /** A registration would exceed the rank's HBM capacity. */
  | 'E_MEMORY'
  /** A packet failed validation when decoded. */
  | 'E_PACKET'
  /** A wait could not be satisfied (deadlock, or a wall-clock limit was reached). */
  | 'E_TIMEOUT'
  /** A host worker thread died. */
  | 'E_WORKER'
  /** The cluster was closed while an operation was pending or after close. */
  | 'E_CLOSED'
  /** An operation was aborted through its AbortSignal. */
  | 'E_ABORTED'
  /** Routing input is invalid (expert ids out of range, NaN scores, impossible top-k). */
  | 'E_ROUTING'
  /** A load-balancing (EPLB) precondition does not hold. */
  | 'E_EPLB'
  /** A numeric input is invalid (NaN or infinite where finite values are required). */
  | 'E_NUMERIC'
  /** Received data did not match what was sent, or an output did not match its reference. */
  | 'E_VERIFY'
  /** A scenario file is invalid. */
  | 'E_SCENARIO'
  /** A task inside a simulated GPU failed. */
  | 'E_TASK'
  /**
   * A run's estimate (host memory, simulated HBM per rank) is over a limit; raised before any work
   * starts, with the estimate, the limit and what to lower.
   */
  | 'E_LIMIT';

/** Every code, in the order they were added (docs/errors.md describes each). */
export const ERROR_CODES: readonly ErrorCode[] = [
  'E_CONFIG', 'E_ARGUMENT', 'E_RANK', 'E_REGION', 'E_MEMORY', 'E_PACKET', 'E_TIMEOUT', 'E_WORKER', 'E_CLOSED',
  'E_ABORTED', 'E_ROUTING', 'E_EPLB', 'E_NUMERIC', 'E_VERIFY', 'E_SCENARIO', 'E_TASK', 'E_LIMIT',
];

const FOOTPRINT = Symbol.for('expertmesh.error');

/** Plain form of an {@link ExpertmeshError}, safe to post between threads or print as JSON. */
export interface WireError {
  code: ErrorCode;
  message: string;
  data: Record<string, unknown>;
}

/**
 * An error raised by expertmesh. `data` names the bad value and where it came from.
 * @example
 * try { await createCluster({ nodes: 0, gpusPerNode: 8, hardware: H800 }); }
 * catch (e) { if (isExpertmeshError(e) && e.code === 'E_CONFIG') console.error(e.message); }
 */
export class ExpertmeshError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;
  readonly [FOOTPRINT] = true;

  /** @throws ExpertmeshError `E_ARGUMENT` unless `code` is one of {@link ERROR_CODES}, `message` a string and `data` an object. */
  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    if (!ERROR_CODES.includes(code) || typeof message !== 'string' || typeof data !== 'object' || data === null) {
      const what = !ERROR_CODES.includes(code) ? `code must be one of ${ERROR_CODES.join(', ')}, got ${showValue(code)}`
        : typeof message !== 'string' ? `message must be a string, got ${showValue(message)}` : `data must be an object, got ${showValue(data)}`;
      throw new ExpertmeshError('E_ARGUMENT', `ExpertmeshError: ${what}`, { argument: !ERROR_CODES.includes(code) ? 'code' : typeof message !== 'string' ? 'message' : 'data' });
    }
    super(message, options);
    this.name = 'ExpertmeshError';
    this.code = code;
    this.data = data;
  }

  /** The plain form that crosses threads. */
  toWire(): WireError {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/** True for an {@link ExpertmeshError} from any thread or realm (checked by footprint, not class). */
export function isExpertmeshError(e: unknown): e is ExpertmeshError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[FOOTPRINT] === true;
}

/** Turn any thrown value into its wire form; unknown errors become `E_TASK`. */
export function toWireError(e: unknown): WireError {
  if (isExpertmeshError(e)) return e.toWire();
  if (typeof e === 'object' && e !== null && ERROR_CODES.includes((e as WireError).code)) {
    const w = e as WireError;
    return { code: w.code, message: typeof w.message === 'string' ? w.message : showValue(w.message), data: typeof w.data === 'object' && w.data !== null ? w.data : {} };
  }
  const message = e instanceof Error && typeof e.message === 'string' ? e.message : showValue(e);
  return { code: 'E_TASK', message, data: {} };
}

/** Rebuild an {@link ExpertmeshError} from its wire form (on the receiving thread). */
export function fromWireError(w: WireError): ExpertmeshError {
  if (typeof w !== 'object' || w === null) fail('E_ARGUMENT', `fromWireError: w must be a wire error { code, message, data }, got ${showValue(w)}`, { argument: 'w' });
  return new ExpertmeshError(w.code, w.message, w.data ?? {});
}

/**
 * A value as an error message shows it: JSON where JSON says the truth, otherwise by name (`NaN`,
 * `Infinity`, `undefined`, `12n`, a function), cut to `max` characters.
 */
export function showValue(v: unknown, max = 60): string {
  let s: string;
  if (typeof v === 'number') s = String(v);
  else if (v === undefined) s = 'undefined';
  else if (typeof v === 'bigint') s = `${v}n`;
  else if (typeof v === 'function') s = `a function`;
  else if (typeof v === 'symbol') s = v.toString();
  else {
    try {
      s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
    } catch {
      s = Object.prototype.toString.call(v);
    }
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** Shorthand used at API boundaries. */
export function fail(code: ErrorCode, message: string, data: Record<string, unknown> = {}): never {
  throw new ExpertmeshError(code, message, data);
}
