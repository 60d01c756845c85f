// `npm run build && node scripts/screenshot-status.mjs [seconds]`: refreshes docs/status-page.png, the
// README's picture of the status page. Runs the status demo service (test/support/status-demo.mjs) with
// traffic that swells and ebbs for `seconds` (default 75), and a load signal that goes over its target for
// a while so the adaptive factor dips, then photographs the page in headless Chromium (the one `npm test`
// finds or installs: scripts/test-prereqs.mjs).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { runTraffic, startStatusDemo } from '../test/support/status-demo.mjs';
import { findChromium } from './test-prereqs.mjs';

const seconds = Number(process.argv[2] ?? 75);
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'status-page.png');
const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
// Overloaded from 70% to 92% of the run: the factor falls x0.8 a second, then climbs back +0.05 a second,
// so the picture catches it on its way back up.
const demo = await startStatusDemo({ adaptiveSignal: () => (elapsed() > seconds * 0.7 && elapsed() < seconds * 0.92 ? 80 : 10) });
const traffic = runTraffic(demo.port, { everyMs: 50, perTick: (tick) => Math.round(8 + 6 * Math.sin(tick / 60) + (tick % 7)) });
const executablePath = await findChromium();
if (executablePath === undefined) throw new Error('no Chromium found: run node scripts/test-prereqs.mjs, or set CHROMIUM_PATH');
const profile = await mkdtemp(path.join(tmpdir(), 'slidegate-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 620 },
});
try {
  const page = await context.newPage();
  await page.goto(`${demo.url}/status`);
  console.log(`status page at ${demo.url}/status; collecting ${seconds} s of traffic...`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out} (${traffic.counts.ok} allowed, ${traffic.counts.limited} limited)`);
} finally {
  await context.close();
  await traffic.stop();
  await demo.close();
  await rm(profile, { recursive: true, force: true });
}
