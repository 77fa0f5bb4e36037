/**
 * The package as a new user gets it: `npm pack` (its `prepack` builds dist/), the tarball installed
 * into a fresh `"type": "module"` project, the README's embedding examples run there as written, and
 * `npx expertmesh run node_modules/expertmesh/examples/quickstart-ep8.json`. Dependencies come from
 * npm's cache when they are there (CI's `npm ci` fills it), else from the registry.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'expertmesh-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000, env: { ...process.env, npm_config_update_notifier: 'false' } });

/** The ```ts blocks of a markdown section. */
function tsBlocks(md: string, heading: string): string[] {
  const start = md.indexOf(`\n## ${heading}\n`);
  const end = md.indexOf('\n## ', start + 1);
  const section = md.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('the packed package in a fresh project', () => {
  it('packs with dist/ and examples/, installs, runs the README embedding examples and npx expertmesh run', () => {
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], root)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/cli/main.js', 'dist/report/index.js', 'examples/quickstart-ep8.json', 'README.md', 'package.json']));
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);

    const app = join(dir, 'app');
    run('mkdir', ['-p', app], dir);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true, type: 'module' }));
    // No install scripts: msgpackr's optional native extension falls back to its JS code.
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], app);

    const blocks = tsBlocks(readFileSync(join(root, 'README.md'), 'utf8'), 'Embedding');
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    blocks.forEach((code, i) => writeFileSync(join(app, `readme-${i}.js`), code));
    const first = run('node', ['readme-0.js'], app).trim();
    // allToAll prints its virtual completion time and a SHA-256 of every received byte.
    expect(first).toMatch(/^\d+(\.\d+)? [0-9a-f]{64}$/);
    for (let i = 1; i < blocks.length; i++) run('node', [`readme-${i}.js`], app);

    const out = run('npx', ['expertmesh', 'run', 'node_modules/expertmesh/examples/quickstart-ep8.json'], app);
    expect(out).toMatch(/^quickstart-ep8: 8 ranks \(2 x 4 H800\)/);
    expect(out).toMatch(/conserved/);
  }, 300_000);
});
