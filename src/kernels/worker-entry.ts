/**
 * @module
 * Where the kernel pool's workers load their code from. From `dist/` (production) it is the compiled
 * `kernel-worker.js` next to this module. From `src/` (vitest, tsx) it is a `.ts` file, which a Node 20
 * worker cannot import directly: a tiny ESM bootstrap that registers tsx and re-exports the `.ts`
 * entry's default is written once to the OS temp directory and used instead.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Absolute path piscina should load for the sibling module `baseName` of the module at `from`.
 * @example kernelWorkerFilename() // '/…/dist/kernels/kernel-worker.js' or '/tmp/expertmesh-kernel-worker-….mjs'
 */
export function workerFilename(baseName: string, from: string): string {
  if (!from.endsWith('.ts')) return fileURLToPath(new URL(`./${baseName}.js`, from));
  const entry = new URL(`./${baseName}.ts`, from).href;
  // Resolve tsx from this package (the temp file has no node_modules of its own).
  const tsxDir = dirname(createRequire(from).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxDir, 'dist/esm/api/index.mjs')).href;
  const source = `import { register } from ${JSON.stringify(api)};\nregister();\nconst mod = await import(${JSON.stringify(entry)});\nexport default mod.default;\n`;
  const file = join(tmpdir(), `expertmesh-${baseName}-${createHash('sha1').update(source).digest('hex').slice(0, 12)}.mjs`);
  if (!existsSync(file)) {
    // Write then rename: concurrent test processes never see a half-written file.
    const part = `${file}.${process.pid}.part`;
    writeFileSync(part, source);
    renameSync(part, file);
  }
  return file;
}

/** The kernel pool's worker file for the way this module was loaded. */
export function kernelWorkerFilename(): string {
  return workerFilename('kernel-worker', import.meta.url);
}
