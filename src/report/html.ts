/**
 * @module
 * The report page: every plot compiled from Vega-Lite to Vega and rendered to SVG in Node (Vega's
 * own renderer, no canvas, no browser), inlined with the summary into one HTML file that needs no
 * network and no script.
 */
import { writeFileSync } from 'node:fs';
import { ExpertmeshError } from '../errors.js';
import type { ReportData } from './data.js';
import { reportPlots, type PlotSpec } from './specs.js';
import { checkString } from '../validate.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One plot as SVG text. */
export async function plotSvg(p: PlotSpec): Promise<string> {
  // Loaded on first use: importing expertmesh (or starting the CLI) does not pay for the plotting stack.
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new View(parse(compile(p.spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const STYLE = `
body { font-family: sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0; }
.subtitle { color: #555; margin-top: 4px; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
figure { margin: 24px 0; }
figcaption { color: #444; font-size: 13px; margin-top: 4px; }
nav a { margin-right: 12px; }
`;

/** The report as one self-contained HTML page. */
export async function renderReportHtml(d: ReportData): Promise<string> {
  const plots = reportPlots(d);
  const figures: string[] = [];
  for (const p of plots)
    figures.push(`<figure id="${p.id}" data-plot="${p.id}">\n${await plotSvg(p)}\n<figcaption>${escapeHtml(p.caption)}</figcaption>\n</figure>`);
  const summary = d.summary.map((s) => `<section class="summary"><h2>${escapeHtml(s.heading)}</h2>\n<pre>${escapeHtml(s.text)}</pre></section>`);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(d.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(d.title)}</h1>`,
    `<p class="subtitle">${escapeHtml(d.subtitle)}</p>`,
    `<nav>${plots.map((p) => `<a href="#${p.id}">${escapeHtml(p.title)}</a>`).join('')}</nav>`,
    `<main>`,
    ...figures,
    ...summary,
    '</main></body></html>',
    '',
  ].join('\n');
}

/**
 * Render `d` and write it to `path`. Returns the page's size in bytes.
 * @throws ExpertmeshError `E_ARGUMENT` naming the path when it cannot be written.
 */
export async function writeReport(path: string, d: ReportData): Promise<number> {
  checkString(path, 'path');
  const html = await renderReportHtml(d);
  try {
    writeFileSync(path, html);
  } catch (e) {
    throw new ExpertmeshError('E_ARGUMENT', `cannot write report ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: 'report', path });
  }
  return Buffer.byteLength(html);
}
