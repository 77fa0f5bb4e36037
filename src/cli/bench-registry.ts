/**
 * @module
 * The `expertmesh bench <mode>` registry. A mode is a {@link Command} named `bench <mode>`; modes
 * are registered eagerly ({@link registerBenchMode}) or lazily by a loader in `bench-modes.ts`, so a
 * mode's module (and its dependencies) loads only when that mode runs.
 */
import type { Command } from './command.js';

/** A bench mode: a command whose name is `bench <mode>`. */
export type BenchMode = Command;

const modes = new Map<string, BenchMode>();
const loaders = new Map<string, { summary: string; load: () => Promise<BenchMode> }>();

/** Register a bench mode now. */
export function registerBenchMode(mode: BenchMode): void {
  modes.set(mode.name.replace(/^bench\s+/, ''), mode);
}

/** Register a bench mode loaded on first use (keeps `expertmesh --help` fast). */
export function registerLazyBenchMode(name: string, summary: string, load: () => Promise<BenchMode>): void {
  loaders.set(name, { summary, load });
}

/** Names and one-line summaries of every mode. */
export function benchModes(): Array<{ name: string; summary: string }> {
  const out = new Map<string, string>();
  for (const [n, l] of loaders) out.set(n, l.summary);
  for (const [n, m] of modes) out.set(n, m.summary);
  return [...out].map(([name, summary]) => ({ name, summary })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The mode called `name`, loading it if needed; undefined if unknown. */
export async function getBenchMode(name: string): Promise<BenchMode | undefined> {
  const m = modes.get(name);
  if (m) return m;
  const l = loaders.get(name);
  if (!l) return undefined;
  const loaded = await l.load();
  modes.set(name, loaded);
  return loaded;
}
