import { hashClientId, MemoryStore } from '@slidegate/core';
import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../examples/express/app.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { runTraffic } from './support/status-demo.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { findChromium, installCommand } from '../scripts/test-prereqs.mjs';

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

interface ExpressExample {
  app: { listen(port: number, host: string): Server };
  close(): Promise<void>;
}

/** The chart of the example's per-API-key limiter (the page draws one section per limiter: 'public', then 'api'). */
const API = 'section[data-name="api"]';

describe('status page of the Express example in headless Chromium', function () {
  this.timeout(60_000);
  let store: MemoryStore | undefined;
  let example: ExpressExample | undefined;
  let server: Server | undefined;
  let port: number;
  let url: string;
  let context: BrowserContext | undefined;
  let profile: string;

  before(async function () {
    // `npm test` installs one first where it can (scripts/test-prereqs.mjs); run alone, say what to install.
    const executablePath = (await findChromium()) as string | undefined;
    if (executablePath === undefined) throw new Error(`no Chromium found: run ${String(installCommand(['chromium']))}, or set CHROMIUM_PATH`);
    // An overloaded service: the load signal stays over its target, so the adaptive factor falls each 200 ms
    // (to half the limits at most, so new API keys keep being allowed).
    store = new MemoryStore();
    example = createApp({
      store,
      adminToken: 'test-token',
      limiterOptions: { adaptive: { signal: () => 100, target: 50, intervalMs: 200, minFactor: 0.5, scope: 'instance' } },
    }) as ExpressExample;
    server = example.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    profile = await mkdtemp(path.join(tmpdir(), 'slidegate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 760 },
    });
  });

  after(async () => {
    await context?.close();
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise((resolve) => server!.close(resolve));
    }
    await example?.close();
    await store?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  it('charts allowed and denied decisions per second while traffic runs, with the most limited clients', async () => {
    const traffic = runTraffic(port, { path: '/api/data', everyMs: 40, perTick: () => 10, maxTicks: 400 });
    const page = await context!.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      const response = await page.goto(`${url}/status`);
      expect(response?.status()).to.equal(200);
      // The page polls every second; wait (bounded) for a draw that holds both allowed and denied decisions
      // over two complete seconds (a line needs two points) and a factor already lowered.
      await page.waitForFunction(
        (api) => {
          const c = document.querySelector(`${api} canvas.chart`) as HTMLCanvasElement | null;
          return (
            c !== null &&
            Number(c.dataset.points) >= 2 &&
            Number(c.dataset.allowed) > 0 &&
            Number(c.dataset.denied) > 0 &&
            Number(c.dataset.factorMin) < 1
          );
        },
        API,
        { timeout: 15_000, polling: 100 },
      );
      const chart = await page.$eval(`${API} canvas.chart`, (c) => {
        const d = (c as HTMLCanvasElement).dataset;
        return { name: d.name, points: Number(d.points), allowed: Number(d.allowed), denied: Number(d.denied), max: Number(d.max), draws: Number(d.draws) };
      }) as ChartData;
      expect(chart.name).to.equal('api');
      expect(chart.allowed).to.be.greaterThan(0);
      expect(chart.denied).to.be.greaterThan(0);
      expect(chart.max).to.be.greaterThan(0);
      // The canvas holds drawn pixels in the allowed colour, not only data attributes. The API
      // limiter admits only a few requests a second, so its line is short: any clear trace will do.
      const greenPixels = await page.$eval(`${API} canvas.chart`, (c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let green = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 1]! > 150 && data[i]! < 100 && data[i + 2]! < 120) green++;
        return green;
      });
      expect(greenPixels).to.be.greaterThan(10);
      // Keys of the limiter named 'api' are stored as '~4:api:<key>' (the prefix framed by its length), listed hashed.
      const topClient = await page.$eval(`${API} tbody.top tr td.client`, (td) => td.textContent);
      expect(topClient).to.equal(hashClientId('~4:api:client-noisy')); // hashed by default: client ids can be secrets
      expect(await page.$eval(`${API} .breaker`, (b) => b.textContent)).to.equal('closed');
      // The adaptive factor is on the card and drawn in the chart, below 1 while overloaded.
      expect(Number(await page.$eval(`${API} .factor`, (f) => (f as HTMLElement).dataset.factor))).to.be.below(1);
      expect(await page.$eval(`${API} .factor-line`, (l) => (l as HTMLElement).hidden)).to.equal(false);
      // It refreshes itself: the chart is drawn again without a reload.
      const draws = chart.draws;
      await page.waitForFunction(
        ([api, before]) => Number((document.querySelector(`${api} canvas.chart`) as HTMLElement).dataset.draws) > before,
        [API, draws] as const,
        { timeout: 5000 },
      );
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
    const res = await fetch(`${url}/metrics`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    const allowed = /slidegate_decisions_total\{name="api",result="allowed",source="store"\} (\d+)/.exec(text);
    expect(Number(allowed?.[1])).to.be.greaterThan(0);
    expect(text).to.match(/slidegate_decisions_total\{name="api",result="denied",source="store"\} [1-9]/);
  });
});
