import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { runTraffic, startStatusDemo } from './support/status-demo.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface ChartData {
  name: string;
  points: number;
  allowed: number;
  denied: number;
  max: number;
  draws: number;
}

describe('status page in headless Chromium', function () {
  this.timeout(60_000);
  let demo: Awaited<ReturnType<typeof startStatusDemo>>;
  let context: BrowserContext | undefined;
  let profile: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's package with "apt-get install -y chromium" (.ci/run does)`);
    }
    // An overloaded service: the load signal stays over its target, so the adaptive factor falls each 200 ms.
    demo = await startStatusDemo({ adaptiveSignal: () => 100, adaptiveIntervalMs: 200 });
    profile = await mkdtemp(path.join(tmpdir(), 'slidegate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 760 },
    });
  });

  after(async () => {
    await context?.close();
    await demo?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  it('charts allowed and denied decisions per second while traffic runs, with the most limited clients', async () => {
    const traffic = runTraffic(demo.port, { everyMs: 40, perTick: () => 10, maxTicks: 400 });
    const page = await context!.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      const response = await page.goto(`${demo.url}/status`);
      expect(response?.status()).to.equal(200);
      // The page polls every second; wait (bounded) for a draw that holds both allowed and denied decisions
      // over two complete seconds (a line needs two points) and a factor already lowered.
      await page.waitForFunction(
        () => {
          const c = document.querySelector('canvas.chart') as HTMLCanvasElement | null;
          return (
            c !== null &&
            Number(c.dataset.points) >= 2 &&
            Number(c.dataset.allowed) > 0 &&
            Number(c.dataset.denied) > 0 &&
            Number(c.dataset.factorMin) < 1
          );
        },
        undefined,
        { timeout: 15_000, polling: 100 },
      );
      const chart = await page.$eval('canvas.chart', (c) => {
        const d = (c as HTMLCanvasElement).dataset;
        return { name: d.name, points: Number(d.points), allowed: Number(d.allowed), denied: Number(d.denied), max: Number(d.max), draws: Number(d.draws) };
      }) as ChartData;
      expect(chart.name).to.equal('api');
      expect(chart.allowed).to.be.greaterThan(0);
      expect(chart.denied).to.be.greaterThan(0);
      expect(chart.max).to.be.greaterThan(0);
      // The canvas holds drawn pixels in the allowed colour, not only data attributes.
      const greenPixels = await page.$eval('canvas.chart', (c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let green = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 1]! > 150 && data[i]! < 100 && data[i + 2]! < 120) green++;
        return green;
      });
      expect(greenPixels).to.be.greaterThan(50);
      const topClient = await page.$eval('tbody.top tr td.client', (td) => td.textContent);
      expect(topClient).to.equal('client-noisy');
      expect(await page.$eval('.breaker', (b) => b.textContent)).to.equal('closed');
      // The adaptive factor is on the card and drawn in the chart, below 1 while overloaded.
      expect(Number(await page.$eval('.factor', (f) => (f as HTMLElement).dataset.factor))).to.be.below(1);
      expect(await page.$eval('.factor-line', (l) => (l as HTMLElement).hidden)).to.equal(false);
      // It refreshes itself: the chart is drawn again without a reload.
      const draws = chart.draws;
      await page.waitForFunction((before) => Number((document.querySelector('canvas.chart') as HTMLElement).dataset.draws) > before, draws, {
        timeout: 5000,
      });
      // One file, overwritten each run (scripts/screenshot-status.mjs refreshes docs/status-page.png).
      const shot = path.join(tmpdir(), 'slidegate-status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).to.be.greaterThan(10_000);
      expect(errors).to.deep.equal([]);
    } finally {
      await page.close();
      await traffic.stop();
    }
    expect(traffic.counts.failed).to.equal(0);
    expect(traffic.counts.limited).to.be.greaterThan(0);
  });

  it('GET /metrics on the same service shows the decisions it made', async () => {
    const res = await fetch(`${demo.url}/metrics`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    const allowed = /slidegate_decisions_total\{name="api",result="allowed",source="store"\} (\d+)/.exec(text);
    expect(Number(allowed?.[1])).to.be.greaterThan(0);
    expect(text).to.match(/slidegate_decisions_total\{name="api",result="denied",source="store"\} [1-9]/);
  });
});
