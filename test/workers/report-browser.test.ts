/**
 * The HTML report in a real browser: `expertmesh run --report` and `bench deepep --report` pages
 * (plus a bench report with an SM sweep) opened in headless Chromium (Debian's, at /usr/bin/chromium
 * or $CHROMIUM_PATH; `.ci/run` installs it), screenshotted, and every plot checked drawn: marks
 * present with a non-blank area, titles and axis titles in the DOM, no console errors. Runs the CLI
 * in-process, which starts worker threads, hence the workers project.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import type { CliIo } from '../../src/cli/command.js';
import { benchReport, writeReport } from '../../src/report/index.js';
import type { DeepepBenchResult } from '../../src/ep/normal/deepep-benchmark.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'expertmesh-report-'));
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, isTTY: false };
  return { code: await runCli(argv, io), out, err };
}

interface PlotCheck {
  id: string;
  texts: string[];
  marks: number;
  inkPixels: number;
  areaPixels: number;
}

/** Open `file`, screenshot it, and measure each plot: its SVG texts, mark items, and ink inside the marks' box. */
async function inspect(file: string, shot: string): Promise<{ plots: PlotCheck[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`file://${file}`);
  await page.screenshot({ path: shot, fullPage: true });
  // The measuring runs in the page (DOM types are not in this project's compile): report-probe.browser.js.
  await page.addScriptTag({ path: fileURLToPath(new URL('./report-probe.browser.js', import.meta.url)) });
  const plots = (await page.evaluate('window.expertmeshProbe()')) as PlotCheck[];
  await page.close();
  return { plots, errors };
}

function expectDrawn(p: PlotCheck | undefined, title: string, axes: string[]): void {
  expect(p, `plot with title ${title}`).toBeDefined();
  expect(p!.texts).toContain(title);
  for (const a of axes) expect(p!.texts, `${p!.id}: axis title ${a}`).toContain(a);
  expect(p!.marks, `${p!.id}: marks`).toBeGreaterThan(0);
  // Non-blank: a real share of the plot area is ink (a blank or white plot has none).
  expect(p!.inkPixels, `${p!.id}: ink pixels of ${p!.areaPixels}`).toBeGreaterThan(Math.min(200, p!.areaPixels * 0.01));
}

describe('HTML report in headless Chromium', () => {
  it('run --report: every plot drawn (timeline, loads before/after EPLB, utilisation, rings), no console errors', async () => {
    const scenario = join(dir, 'eplb.json');
    const s = JSON.parse(readFileSync('examples/quickstart-ep8.json', 'utf8')) as Record<string, unknown>;
    // EPLB on, so the GPU heatmap has its before and after rows.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(scenario, JSON.stringify({ ...s, balancing: { enableEplb: true, numRedundantExperts: 8 }, steps: 1, cluster: { ...(s['cluster'] as object), workers: 1 } }));
    const html = join(dir, 'run.html');
    const r = await cli('run', scenario, '--report', html);
    expect(r.err).toMatch(/report: .*run\.html/);
    expect(r.code).toBe(0);
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/<script|https?:\/\/(?!vega\.github\.io\/schema|www\.w3\.org)/);
    const shot = join(dir, 'run.png');
    const { plots, errors } = await inspect(html, shot);
    expect(errors).toEqual([]);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(plots.map((p) => p.id)).toEqual(['phase-timeline', 'expert-load', 'gpu-load', 'utilisation', 'ring-occupancy']);
    const by = (id: string) => plots.find((p) => p.id === id);
    expectDrawn(by('phase-timeline'), 'Phase timeline per rank', ['virtual time (us)', 'rank']);
    expectDrawn(by('expert-load'), 'Expert load', ['logical expert', 'step']);
    expectDrawn(by('gpu-load'), 'GPU load before and after EPLB', ['GPU (rank)', 'step']);
    expect(by('gpu-load')!.texts).toEqual(expect.arrayContaining(['step 1 before EPLB', 'step 1 after EPLB']));
    expectDrawn(by('utilisation'), 'NVLink, IB and SM utilisation over virtual time', ['virtual time (us)', 'busy (%)']);
    expect(by('utilisation')!.texts).toEqual(expect.arrayContaining(['NVLink', 'IB', 'SM']));
    expectDrawn(by('ring-occupancy'), 'Receive ring occupancy', ['virtual time (us)', 'tokens buffered (all ranks)']);
  });

  it('bench deepep --report draws the kernels; an SM sweep draws its plot', async () => {
    const html = join(dir, 'bench.html');
    const r = await cli('bench', 'deepep', '--ranks', '16', '--tokens', '32', '--hidden', '256', '--workers', '1', '--report', html);
    expect(r.code).toBe(0);
    const one = await inspect(html, join(dir, 'bench.png'));
    expect(one.errors).toEqual([]);
    expect(one.plots.map((p) => p.id)).toEqual(['deepep-kernels']);
    expectDrawn(one.plots[0], 'DeepEP kernels: bandwidth per link', ['kernel and link', 'bandwidth (GB/s)']);

    // A sweep (as `--sms 8,16,24` gives): one result per SM count, figures written from a DeepEP-like curve.
    const k = (t: number, rdma: number | null, nvl: number) => ({
      timeUs: t, rdmaGBps: rdma, nvlGBps: nvl, minTimeUs: t, maxTimeUs: t, rdmaGBpsMin: rdma, rdmaGBpsMax: rdma, nvlGBpsMin: nvl, nvlGBpsMax: nvl,
      config: { numSms: 0, nvlChunk: 0, nvlBuffer: 0, rdmaChunk: 0, rdmaBuffer: 0, source: 'deepep' as const },
    });
    const res = (sms: number, d: number): DeepepBenchResult => ({
      schemaVersion: 1, mode: 'normal', ranks: 16, nodes: 2, sms, dtype: 'fp8', tokens: 4096, hidden: 7168, hardware: 'H800', linkSharing: 'fluid', notifyUs: 10, notifyEvents: 1, tuned: false,
      dispatch: k(1000 / d, 20 * d, 60 * d), combine: k(2000 / d, 18 * d, 55 * d), events: 1, wallMs: 1,
      timelineDigest: null, windows: 1, workers: 1, hostStats: { dispatch: [], combine: [], notify: [] }, peakRssBytes: 1, cpuMs: 1, transfers: 1, simulatedHbmBytes: 1, hbmCapacityBytes: 80e9,
    });
    const sweep = join(dir, 'sweep.html');
    await writeReport(sweep, benchReport([res(8, 1), res(16, 1.8), res(24, 2.3)], [{ heading: 'sweep', text: '' }]));
    const two = await inspect(sweep, join(dir, 'sweep.png'));
    expect(two.errors).toEqual([]);
    expect(two.plots.map((p) => p.id)).toEqual(['deepep-kernels', 'sm-sweep']);
    expectDrawn(two.plots[1], 'SM sweep: bandwidth by SM count', ['SMs per kernel', 'bandwidth (GB/s)']);
    expect(two.plots[1]!.texts).toEqual(expect.arrayContaining(['dispatch RDMA', 'combine NVL']));
  });
});
