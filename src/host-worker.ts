/**
 * @module
 * Entry shell of a host worker thread: imports every operation (`ops.ts`), hands the registry to
 * an {@link EngineHost} and wires the parent port to it. Kept thin: the logic lives in EngineHost,
 * which is tested in-process. It sits at the top of `src/` because it depends on every layer.
 */
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { EngineHost } from './actors/engine-host.js';
import type { HostReply, HostRequest } from './actors/host-messages.js';
import { opRegistry } from './actors/op-registry.js';
import './ops.js';

/** This thread's CPU time (Linux: utime + stime of /proc/thread-self/stat, 10 ms ticks), ms; NaN elsewhere. */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // fields 14 and 15 of stat(5), at USER_HZ = 100
  } catch {
    return NaN;
  }
}

/** This thread's time on a CPU and waiting for one, ms (/proc/thread-self/schedstat, ns); NaN elsewhere. */
function threadSchedMs(): [number, number] {
  try {
    const f = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(f[0]) / 1e6, Number(f[1]) / 1e6];
  } catch {
    return [NaN, NaN];
  }
}

const host = new EngineHost(opRegistry, () => process.exit(3), threadCpuMs, threadSchedMs);
parentPort!.on('message', (msg: HostRequest) => {
  const reply: HostReply = host.handle(msg);
  // The timeline's chunks and order and the logs are on SharedArrayBuffers: shared with the main
  // thread, neither copied nor moved. Moving them (a transfer list) detached them here, and the
  // first detach invalidates V8's ArrayBufferDetaching protector for this thread for good, which
  // throws away every optimized function that touches a typed array (~140 per engine, compiled
  // again in the next operation: a second burst of compiles at the start of the combine); copying
  // them costs a combine's reply at EP64 (7.7 MB) 40-100 ms on the main thread's path.
  parentPort!.postMessage(reply);
});
parentPort!.postMessage({ type: 'ready' });
