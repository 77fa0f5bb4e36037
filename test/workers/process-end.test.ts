/**
 * Processes that end and files that are whole: a script that forgets `cluster.close()` exits by
 * itself; SIGTERM during `run --trace` leaves a valid trace (marked incomplete if cut short) or none,
 * and no temporary file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'expertmesh-end-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], onSpawn?: (pid: number) => void): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    onSpawn?.(child.pid!);
    // Bound: a process that does not end is killed and fails the test below.
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, err });
    });
  });
}

describe('processes that end', () => {
  it('a script that forgets cluster.close() exits 0 once its work is done', { timeout: 60_000 }, async () => {
    const script = join(dir, 'forget.mts');
    writeFileSync(script, [
      `import { createCluster, allToAll } from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)};`,
      `const c = await createCluster({ nodes: 1, gpusPerNode: 4, hardware: 'H800', workers: 2 });`,
      `const r = await allToAll(c, { bytesPerPair: 4096 });`,
      `if (c.threadIds.length !== 2 || !(r.timeUs > 0)) process.exitCode = 3;`,
    ].join('\n'));
    const r = await run([script]);
    expect(r.signal, r.err).toBe(null);
    expect(r.code, r.err).toBe(0);
  });
});

describe('whole files or none', () => {
  it('SIGTERM during run --trace: a valid trace (marked incomplete if cut short) or none, no temporary file', { timeout: 60_000 }, async () => {
    const scenario = join(dir, 's.json');
    writeFileSync(scenario, JSON.stringify({
      name: 'sigterm', cluster: { nodes: 2, gpusPerNode: 8, workers: 2 },
      model: { numExperts: 64, tokensPerRank: 2048, hidden: 1024, dispatchFormat: 'bf16' }, steps: 3,
    }));
    const trace = join(dir, 't.json');
    let pid = 0;
    const done = run([join(root, 'src/cli/main.ts'), 'run', scenario, '--trace', trace], (p) => (pid = p));
    // Wait until the trace is being written (its temporary file exists), then SIGTERM.
    for (let i = 0; i < 400 && !readdirSync(dir).some((f) => f.endsWith('.tmp')); i++) await new Promise((r) => setTimeout(r, 50));
    process.kill(pid, 'SIGTERM');
    const r = await done;
    expect(r.signal, r.err).toBe(null);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The signal came while the run was on: it stops with exit 1 and an error naming the abort.
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain('aborted');
    expect(existsSync(trace)).toBe(true);
    {
      const doc = JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: unknown[]; otherData: { incomplete: boolean; error?: string } };
      expect(Array.isArray(doc.traceEvents)).toBe(true);
      if (r.code !== 0) expect(doc.otherData).toMatchObject({ incomplete: true, error: expect.stringContaining('aborted') });
      else expect(doc.otherData.incomplete).toBe(false);
    }
  });
});
