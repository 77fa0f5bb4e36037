/**
 * @module
 * How the main thread reaches a host: one interface, two implementations that pass the same
 * contract suite. `WorkerHostChannel` runs the host in a worker thread (the default; hosts then
 * synchronise windows among themselves on shared memory); `InProcessHostChannel` runs it on the
 * calling thread (debugging, tests, tiny clusters), where an {@link InProcessHostGroup} steps the
 * same rounds for all its hosts in turn instead of meeting at barriers.
 */
import type { Worker } from 'node:worker_threads';
import { EngineHost, ROUND_ABORTED, ROUND_RUN } from './engine-host.js';
import type { HostReply, HostRequest, RunMessage } from './host-messages.js';
import type { OpLookup } from './op-registry.js';
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
  /**
   * Whether the host keeps the Node process alive: a cluster holds its hosts only while a request
   * is outstanding, so an idle cluster whose owner forgot `close()` does not stop Node exiting.
   */
  keepAlive(on: boolean): void;
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

  /** @param entry the thread's entry shell (it imports the operation registry); default `src/host-worker`. */
  constructor(name: string, entry: URL = resolveSibling('../host-worker', import.meta.url)) {
    this.worker = startWorker(entry, { name });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.readyP = new Promise<void>((res, rej) => ((onReady = res), (onFail = rej)));
    // A rejection nobody awaits (the host died before anyone asked) must not be unhandled.
    this.readyP.catch(() => {});
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
    this.worker.postMessage(msg);
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

  keepAlive(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }

  async terminate(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    await this.exitP;
  }
}

/**
 * The in-process hosts of one cluster. A run starts once every host has been asked to run; the
 * group then steps the rounds (the shared decision, every host's window, every host's publish) on the calling thread, yielding to its event loop now and then, and replies for each.
 * A full ring is emptied by draining its reader directly.
 */
export class InProcessHostGroup {
  readonly hosts: EngineHost[] = [];
  private runs: Array<{ msg: RunMessage; reply: (r: HostReply) => void } | undefined> = [];
  private closed = false;

  constructor(private readonly ops: OpLookup) {}

  /** A host of this group (index = worker index). */
  add(): EngineHost {
    const h = new EngineHost(this.ops);
    this.hosts.push(h);
    return h;
  }

  requestRun(w: number, msg: RunMessage, reply: (r: HostReply) => void): void {
    this.runs[w] = { msg, reply };
    if (this.runs.filter(Boolean).length < this.hosts.length) return;
    const runs = this.runs;
    this.runs = [];
    void this.drive(runs as Array<{ msg: RunMessage; reply: (r: HostReply) => void }>);
  }

  close(): void {
    this.closed = true;
  }

  private async drive(runs: Array<{ msg: RunMessage; reply: (r: HostReply) => void }>): Promise<void> {
    const hosts = this.hosts;
    let outcome = ROUND_RUN;
    let cur = -1;
    let error: unknown;
    let errorAt = -1;
    for (const h of hosts) h.beginRun();
    let lastYield = performance.now();
    try {
      for (cur = 0; cur < hosts.length; cur++) hosts[cur]!.publish();
      for (;;) {
        for (cur = 0; cur < hosts.length; cur++) outcome = hosts[cur]!.decide();
        if (this.closed) outcome = ROUND_ABORTED;
        if (outcome !== ROUND_RUN) break;
        for (cur = 0; cur < hosts.length; cur++) hosts[cur]!.runWindow(hosts[cur]!.bound, (peer) => void hosts[peer]!.drainInbound());
        for (cur = 0; cur < hosts.length; cur++) hosts[cur]!.publish();
        // Let timers, signals and close() in between windows now and then.
        if (performance.now() - lastYield > 20) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
        }
      }
    } catch (e) {
      error = e;
      errorAt = cur;
      outcome = ROUND_ABORTED;
    }
    if (this.closed) return;
    runs.forEach((r, w) => r.reply(hosts[w]!.endRun(r.msg.id, outcome, w === errorAt ? error : undefined)));
  }
}

export class InProcessHostChannel implements HostChannel {
  private readonly host: EngineHost;
  private replyCb: (r: HostReply) => void = () => {};
  private closed = false;
  readonly threadId = 0;

  constructor(private readonly group: InProcessHostGroup, private readonly index: number) {
    this.host = group.add();
  }

  post(msg: HostRequest): void {
    if (msg.type === 'run') {
      this.group.requestRun(this.index, msg, (r) => {
        if (!this.closed) this.replyCb(r);
      });
      return;
    }
    // Asynchronous like a thread, so callers cannot depend on synchronous replies.
    setImmediate(() => {
      if (!this.closed) this.replyCb(this.host.handle(msg));
    });
  }
  onReply(cb: (r: HostReply) => void): void {
    this.replyCb = cb;
  }
  onDeath(): void {}
  keepAlive(): void {}
  ready(): Promise<void> {
    return Promise.resolve();
  }
  async terminate(): Promise<void> {
    this.closed = true;
    this.group.close();
  }
}
