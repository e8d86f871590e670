import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { renderHtmlReport } from '../src/report/html-report.js';
import type { ReportModel } from '../src/report/report-model.js';

const CHROMIUM = process.env.OODKIT_CHROMIUM ?? '/usr/bin/chromium';
// CI installs Debian's chromium (.ci/run); on a developer machine without it the test is skipped, loudly.
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`CI needs a browser at ${CHROMIUM} (install Debian's chromium)`);
if (!haveBrowser) console.warn(`report-browser test skipped: no browser at ${CHROMIUM}`);

const methods = ['msp', 'ebo', 'knn', 'vim'];
const ms = (mean: number) => ({ mean, std: 0.5, n: 2 });
// A 2×2 PNG (red, green / blue, white).
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==';

function model(): ReportModel {
  return {
    title: 'oodkit benchmark — test </script> escaping',
    benchmark: 'mnist',
    createdAt: '2026-11-27T00:00:00Z',
    summary: methods.map((postprocessor, i) => ({
      trainer: 'base',
      postprocessor,
      variant: 'sio',
      paired: {},
      idAcc: { baseline: ms(99), sio: ms(99.1) },
      predAcc: { baseline: ms(98.5), sio: ms(99) },
      nearAuroc: { baseline: ms(80 + i), sio: ms(82 + i) },
      farAuroc: { baseline: ms(90 + i), sio: ms(89 + i) },
      nearFpr95: { baseline: ms(50), sio: ms(45) },
      farFpr95: { baseline: ms(30), sio: ms(31) },
    })),
    tables: [{ title: 'base / baseline / msp', columns: ['dataset', 'AUROC'], rows: [['fashion_mnist', '80.00']] }],
    roc: [
      {
        dataset: 'fashion_mnist',
        curves: methods.flatMap((m) => [
          { label: `${m} baseline`, method: `base / ${m}`, variant: 'baseline' as const, fpr: [0, 0.2, 1], tpr: [0, 0.7, 1] },
          { label: `${m} +SIO`, method: `base / ${m}`, variant: 'sio' as const, fpr: [0, 0.1, 1], tpr: [0, 0.8, 1] },
        ]),
      },
    ],
    histograms: methods.map((m) => ({
      title: `${m} baseline`,
      method: `base / ${m}`,
      variant: 'baseline' as const,
      centers: [0, 0.5, 1],
      series: [
        { label: 'ID', density: [0.1, 0.3, 1.6] },
        { label: 'near', density: [1, 0.8, 0.2] },
      ],
    })),
    images: [
      { label: 'real', pngBase64: PNG },
      { label: 'synthetic', pngBase64: PNG },
    ],
    configYaml: 'seed: 0\n',
  };
}

describe.skipIf(!haveBrowser)('report.html in headless Chromium', () => {
  it('renders every chart and method with no console errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oodkit-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtmlReport(model()));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-rendered="true"]', { timeout: 20_000 });
      expect(errors).toEqual([]);
      const shown = await page.$$eval('table.summary td.method', (cells) => cells.map((c) => c.textContent));
      expect(shown).toEqual(methods);
      // 1 bar chart + 1 ROC chart per OOD set + baseline and +SIO histograms of the selected method.
      const canvases = await page.$$eval('canvas', (cs) => cs.map((c) => (c as unknown as { width: number }).width));
      expect(canvases.length).toBe(4);
      expect(canvases.every((w) => w > 0)).toBe(true);
      const options = await page.$$eval('#method-select option', (os) => os.map((o) => o.textContent));
      expect(options).toEqual(methods.map((m) => `base / ${m}`));
      expect(await page.getAttribute('body', 'data-method')).toBe('base / msp');
      await page.selectOption('#method-select', 'base / knn');
      expect(await page.getAttribute('body', 'data-method')).toBe('base / knn');
      expect(await page.$$eval('.card h3', (hs) => hs.map((h) => h.textContent))).toContain('knn baseline');
      // +SIO has no histogram in this model: the card says so instead of showing stale data.
      expect(await page.$$eval('.card h3', (hs) => hs.map((h) => h.textContent))).toContain('+SIO: not run');
      expect(errors).toEqual([]);
      expect(
        await page.$$eval('.images img', (imgs) => imgs.every((i) => (i as unknown as { naturalWidth: number }).naturalWidth === 2)),
      ).toBe(true);
      expect(await page.title()).toContain('</script> escaping');
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
