/**
 * @module
 * How the main thread reaches a host: one interface, two implementations that pass the same
 * contract tests. `WorkerHostChannel` runs the host in a worker thread (the default);
 * `InProcessHostChannel` runs it on the calling thread (debugging, tests, tiny clusters).
 */
import type { Worker } from 'node:worker_threads';
import { EngineHost } from './engine-host.js';
import type { HostReply, HostRequest } from './host-messages.js';
import { resolveSibling, startWorker } from './worker-url.js';

export interface HostChannel {
  /** Thread id of the host (the main thread's for in-process hosts). */
  readonly threadId: number;
  post(msg: HostRequest): void;
  /** Called with every reply. */
  onReply(cb: (r: HostReply) => void): void;
  /** Called once if the host dies unexpectedly. */
  onDeath(cb: (reason: string) => void): void;
  /** Resolves once the host is ready for requests. */
  ready(): Promise<void>;
  /** End the host; resolves when its thread has exited. */
  terminate(): Promise<void>;
}

/** Which host implementation a cluster uses. */
export type HostTransportKind = 'worker' | 'in-process';

export class WorkerHostChannel implements HostChannel {
  private readonly worker: Worker;
  private replyCb: (r: HostReply) => void = () => {};
  private deathCb: (reason: string) => void = () => {};
  private readonly readyP: Promise<void>;
  private readonly exitP: Promise<void>;
  private closing = false;

  constructor(name: string) {
    this.worker = startWorker(resolveSibling('worker-entry', import.meta.url), { name });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.readyP = new Promise<void>((res, rej) => ((onReady = res), (onFail = rej)));
    this.worker.on('message', (m: HostReply | { type: 'ready' }) => {
      if (m.type === 'ready') onReady();
      else this.replyCb(m);
    });
    this.worker.on('error', (e) => {
      onFail(e);
      if (!this.closing) this.deathCb(`uncaught ${e.name}: ${e.message}`);
    });
    this.exitP = new Promise<void>((res) =>
      this.worker.once('exit', (code) => {
        onFail(new Error(`worker exited with code ${code} before it was ready`));
        if (!this.closing) this.deathCb(`exited with code ${code}`);
        res();
      }),
    );
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  post(msg: HostRequest): void {
    const transfer = msg.type === 'window' ? msg.inbound.map((b) => b.buffer as ArrayBuffer) : [];
    this.worker.postMessage(msg, transfer);
  }

  onReply(cb: (r: HostReply) => void): void {
    this.replyCb = cb;
  }

  onDeath(cb: (reason: string) => void): void {
    this.deathCb = cb;
  }

  ready(): Promise<void> {
    return this.readyP;
  }

  async terminate(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    await this.exitP;
  }
}

export class InProcessHostChannel implements HostChannel {
  private readonly host = new EngineHost();
  private replyCb: (r: HostReply) => void = () => {};
  private closed = false;
  readonly threadId = 0;

  post(msg: HostRequest): void {
    // Asynchronous like a thread, so callers cannot depend on synchronous replies.
    setImmediate(() => {
      if (!this.closed) this.replyCb(this.host.handle(msg));
    });
  }
  onReply(cb: (r: HostReply) => void): void {
    this.replyCb = cb;
  }
  onDeath(): void {}
  ready(): Promise<void> {
    return Promise.resolve();
  }
  async terminate(): Promise<void> {
    this.closed = true;
  }
}
