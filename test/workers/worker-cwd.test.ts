/**
 * Host workers start whatever the process's working directory: a process that embeds expertmesh
 * from its sources (through tsx) and changes directory before creating a cluster still gets its
 * worker threads (their loader is found from the package's own location, not from the cwd).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'expertmesh-cwd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('worker threads and the working directory', () => {
  it('a process that changes its cwd (to a directory without node_modules) still starts 2 host workers and runs an operation', { timeout: 60_000 }, async () => {
    const script = join(dir, 'elsewhere.mts');
    writeFileSync(script, [
      `import { createCluster, allToAll } from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)};`,
      `process.chdir(${JSON.stringify(dir)});`,
      `const c = await createCluster({ nodes: 1, gpusPerNode: 4, hardware: 'H800', workers: 2, transport: 'worker' });`,
      `try {`,
      `  const r = await allToAll(c, { bytesPerPair: 4096 });`,
      `  console.log(JSON.stringify({ cwd: process.cwd(), threads: c.threadIds.length, timeUs: r.timeUs }));`,
      `} finally { await c.close(); }`,
    ].join('\n'));
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        res({ code, stdout, stderr });
      });
    });
    expect(out.code, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout) as { cwd: string; threads: number; timeUs: number };
    expect(r.cwd).toBe(dir);
    expect(r.threads).toBe(2);
    expect(r.timeUs).toBeGreaterThan(0);
  });
});
