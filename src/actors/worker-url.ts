/**
 * @module
 * Starting worker threads from source or from the build. Production loads the compiled `.js`;
 * under vitest/tsx the `.ts` entry goes through a bootstrap that registers tsx first, because
 * Node 20 ignores `--import` loader hooks for a Worker's entry module.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Resolve a sibling module of `from`: `.ts` when running from src, `.js` from dist. */
export function resolveSibling(baseName: string, from: string): URL {
  return new URL(`./${baseName}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}

/**
 * Start a worker on `url`, through the tsx bootstrap when it is a `.ts` file. The bootstrap imports
 * tsx by the absolute URL resolved here, from this package's own location: an eval'd worker would
 * resolve a bare `tsx` from the process's working directory, which the embedding process may have
 * changed.
 */
export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
