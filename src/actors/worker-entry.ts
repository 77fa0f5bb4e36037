/**
 * @module
 * Entry of a host worker thread: wires the parent port to an {@link EngineHost}. Kept thin: the
 * logic lives in EngineHost, which is tested in-process.
 */
import { parentPort } from 'node:worker_threads';
import { EngineHost } from './engine-host.js';
import type { HostRequest } from './host-messages.js';

const host = new EngineHost(() => process.exit(3));
parentPort!.on('message', (msg: HostRequest) => {
  const reply = host.handle(msg);
  parentPort!.postMessage(reply, [...reply.outbound.map((b) => b.bytes.buffer as ArrayBuffer), ...(reply.timeline ? [reply.timeline.buffer as ArrayBuffer] : []), ...(reply.samples ? [reply.samples.buffer as ArrayBuffer] : []), ...(reply.activities ? [reply.activities.buffer as ArrayBuffer] : [])]);
});
parentPort!.postMessage({ type: 'ready' });
