/**
 * Every guide in docs/ runs end to end: each ```ts block is written to a temporary module (imports
 * of 'expertmesh' and 'expertmesh/testing' pointed at the sources) and run with `node --import tsx`;
 * each line of a ```sh block starting with `expertmesh` or `npx expertmesh` runs through
 * `npx tsx src/cli/main.ts`. Every one must exit 0. ```text blocks are not run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const docsDir = join(root, 'docs');
const scratch = join(root, 'scratch-docs');
const exec = promisify(execFile);

interface Block {
  doc: string;
  line: number;
  kind: 'ts' | 'sh';
  code: string;
}

/** The ```ts and ```sh blocks of a markdown file. */
export function blocksOf(doc: string, text: string): Block[] {
  const out: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\w+)\s*$/.exec(lines[i]!);
    if (!m) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (m[1] === 'ts' || m[1] === 'sh') out.push({ doc, line: start + 1, kind: m[1], code: body.join('\n') });
  }
  return out;
}

const index = pathToFileURL(join(root, 'src/index.ts')).href;
const testing = pathToFileURL(join(root, 'src/testing/index.ts')).href;

async function runBlock(b: Block, n: number): Promise<void> {
  const opts = { cwd: root, encoding: 'utf8' as const, timeout: 240_000, maxBuffer: 64 << 20 };
  if (b.kind === 'ts') {
    const code = b.code.replaceAll(/from ['"]expertmesh\/testing['"]/g, `from '${testing}'`).replaceAll(/from ['"]expertmesh['"]/g, `from '${index}'`);
    const file = join(scratch, `${b.doc.replace(/\W/g, '_')}_${b.line}_${n}.ts`);
    writeFileSync(file, code);
    await exec(process.execPath, ['--import', 'tsx', file], opts);
    return;
  }
  for (const raw of b.code.split('\n')) {
    const line = raw.trim();
    const m = /^(?:npx\s+)?expertmesh(\s.*)?$/.exec(line);
    if (!m) continue;
    const args = (m[1] ?? '').trim().match(/"[^"]*"|'[^']*'|\S+/g)?.map((a) => a.replace(/^(['"])(.*)\1$/, '$2')) ?? [];
    await exec('npx', ['tsx', 'src/cli/main.ts', ...args], opts);
  }
}

/** Run tasks two at a time (2 shared cores). */
async function limited<T>(items: T[], f: (x: T, i: number) => Promise<void>, width = 2): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await f(items[i]!, i);
    }
  }));
}

const docs = readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort();
const blocks = docs.flatMap((d) => blocksOf(d, readFileSync(join(docsDir, d), 'utf8')));

describe('docs/ guides', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('finds the guides and their blocks', () => {
    expect(docs).toEqual(expect.arrayContaining(['getting-started.md', 'embedding.md', 'tracing.md', 'hardware.md']));
    expect(blocks.length).toBeGreaterThan(0);
  });

  it('runs every ts and sh block of every guide (exit 0)', async () => {
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    const failures: string[] = [];
    await limited(blocks, async (b, i) => {
      try {
        await runBlock(b, i);
      } catch (e) {
        const x = e as { code?: number; stderr?: string; message: string };
        failures.push(`docs/${b.doc}:${b.line} (${b.kind}) exited ${x.code ?? '?'}: ${(x.stderr || x.message).trim().split('\n').slice(-6).join(' | ')}`);
      }
    });
    expect(failures).toEqual([]);
  }, 600_000);
});
