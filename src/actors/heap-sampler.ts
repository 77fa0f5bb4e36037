/**
 * @module
 * A host thread's heap allocations during a run, from V8's sampling heap profiler (opt-in: the
 * cluster's `hostHeapSampling`). The profiler samples an allocation with a probability
 * proportional to its size (about one per `intervalBytes` allocated) and keeps the samples of
 * objects already collected too (by either collector): short-lived garbage is what "no allocation
 * per event" is about, and it is what the GC-based heap figures blur. It runs inside the thread
 * whose allocations it measures (each worker thread has its own isolate and profiler), through an
 * inspector session on that thread, whose calls answer synchronously: a host starts it when a run
 * begins and stops it in the run's end, with no await in between.
 *
 * Nothing of this runs, nor is any session opened, when sampling is off.
 */
import { Session } from 'node:inspector';
import { ExpertmeshError } from '../errors.js';

/** One allocation site of a {@link HostHeapProfile}: sampled bytes allocated by the function itself. */
export interface HeapSite {
  /** The function's name ('(anonymous)' for an unnamed one; V8's own names in brackets, e.g. '(V8 API)'). */
  functionName: string;
  /** Its script (the built module's file URL: `dist/...js`), '' for V8's own. */
  url: string;
  /** Line of the function's start in that script, 1-based (0: unknown). */
  line: number;
  /** Estimated bytes it allocated itself (not its callees), over every path that called it. */
  selfBytes: number;
  /**
   * For V8's own functions (`url` ''), which allocate for their callers (`subarray`, `set`,
   * `Array.prototype.push`...): the nearest caller with a script, as `name url:line`. Such a site
   * is one per caller.
   */
  calledFrom?: string;
}

/** What a host thread allocated during a run, by the sampling heap profiler (see {@link HostHeapSamplingOptions}). */
export interface HostHeapProfile {
  /** The sampling interval, bytes (the average allocation between two samples). */
  intervalBytes: number;
  /** Estimated bytes allocated on the host's thread during the run: every sample's size, added. */
  sampledBytes: number;
  /** The sites that allocated most, by {@link HeapSite.selfBytes}, largest first (at most `topSites`). */
  sites: HeapSite[];
}

/** Opt-in sampling of each host worker's heap allocations during each run (a diagnostic: it slows runs down). */
export interface HostHeapSamplingOptions {
  /**
   * Average bytes between two samples (a power of two from 16 to 1 MiB; default 1024). Smaller is
   * more precise and slower: each sample walks the allocating stack.
   */
  intervalBytes?: number;
  /** Allocation sites to report per host and run, largest first (0 to 1000; default 20). */
  topSites?: number;
}

/** The defaults of {@link HostHeapSamplingOptions}. */
export const HEAP_SAMPLING_DEFAULTS: Required<HostHeapSamplingOptions> = { intervalBytes: 1024, topSites: 20 };

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Samples this thread's heap allocations between {@link start} and {@link stop}. */
export class HeapSampler {
  private session: Session | null = null;

  constructor(readonly intervalBytes: number, readonly topSites: number) {}

  /** Start sampling (a sampling already running on this thread is stopped and its samples dropped first). */
  start(): void {
    if (this.session) this.stop();
    const s = new Session();
    s.connect();
    this.session = s;
    post(s, 'HeapProfiler.enable');
    post(s, 'HeapProfiler.startSampling', {
      samplingInterval: this.intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    });
  }

  /** Stop sampling and return what was allocated since {@link start}. Throws `E_WORKER` when not started. */
  stop(): HostHeapProfile {
    const s = this.session;
    if (!s) throw new ExpertmeshError('E_WORKER', 'heap sampler stopped before it was started', {});
    this.session = null;
    try {
      const r = post(s, 'HeapProfiler.stopSampling') as { profile: { head: ProfileNode } };
      return summarize(r.profile.head, this.intervalBytes, this.topSites);
    } finally {
      s.disconnect();
    }
  }
}

/** An inspector call on this thread's own session, which answers before `post` returns. */
function post(s: Session, method: string, params?: object): unknown {
  let done = false;
  let error: Error | null = null;
  let result: unknown;
  s.post(method, params, (e, r) => {
    done = true;
    error = e;
    result = r;
  });
  if (!done) throw new ExpertmeshError('E_WORKER', `inspector '${method}' did not answer synchronously`, { method });
  if (error) throw new ExpertmeshError('E_WORKER', `inspector '${method}' failed: ${(error as Error).message}`, { method });
  return result;
}

/**
 * The profile's total, and its sites: the call tree's nodes merged by (function, url, line), which
 * adds up one function's allocation over every path that called it; V8's own functions by their
 * nearest caller with a script too.
 */
export function summarize(head: ProfileNode, intervalBytes: number, topSites: number): HostHeapProfile {
  let sampledBytes = 0;
  const bySite = new Map<string, HeapSite>();
  const stack: Array<[ProfileNode, string]> = [[head, '']];
  while (stack.length > 0) {
    const [n, caller] = stack.pop()!;
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    const line = f.lineNumber >= 0 ? f.lineNumber + 1 : 0;
    const here = f.url === '' ? caller : `${name} ${f.url}:${line}`;
    for (const c of n.children) stack.push([c, here]);
    if (n.selfSize === 0) continue;
    sampledBytes += n.selfSize;
    const from = f.url === '' && caller !== '' ? caller : undefined;
    const key = `${name}\0${f.url}\0${line}\0${from ?? ''}`;
    const site = bySite.get(key);
    if (site) site.selfBytes += n.selfSize;
    else bySite.set(key, { functionName: name, url: f.url, line, selfBytes: n.selfSize, ...(from ? { calledFrom: from } : {}) });
  }
  const sites = [...bySite.values()].sort((a, b) => b.selfBytes - a.selfBytes || (a.url + a.line < b.url + b.line ? -1 : 1)).slice(0, topSites);
  return { intervalBytes, sampledBytes, sites };
}
