import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, createLogger, createWorker, type Worker } from '@durably/core';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../src/index.js';
import { until } from './api-suite.js';
import { localBackend, type Backend } from './backends.js';
import { allWorkflows, failingFlow, loopFlow, notifyCustomer, orderFlow, signalFlow } from './workflows.js';

/**
 * End to end in a real browser: Debian's Chromium (never a downloaded one) driven by playwright-core
 * against a dashboard on the local file backend, with a real worker in this process running the
 * runs. Screenshots go to test-artifacts/ (git-ignored).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;
const TOKEN = 'browser-test-token-0123456789abcdef';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`${CHROMIUM} is missing (CI=true requires it): apt-get install -y chromium`);

describe.skipIf(!available)('the dashboard in Chromium', () => {
  let backend: Backend;
  let client: Client;
  let worker: Worker;
  let dashboard: RunningDashboard;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    backend = localBackend();
    client = new Client({ storage: backend.storage, broker: backend.broker });
    worker = createWorker({ client, workflows: allWorkflows, logger: createLogger('error') });
    await worker.start();
    dashboard = await startDashboard({ client, port: 0, logger: createLogger('error') });
    profile = mkdtempSync(join(tmpdir(), 'durably-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1360, height: 900 },
      colorScheme: 'light',
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await worker?.stop();
    await client?.close();
    await backend?.cleanup();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows a run on its timeline, resumes its hook from the page, and sees it complete without a reload', async () => {
    const run = await client.startWith(orderFlow, [{ id: 'o-1001', items: ['mug', 'tea'], total: 1250n }], { tags: ['vip'] });
    await page.goto(`${dashboard.url}/runs/${run.runId}`);
    await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

    // The steps appear on the timeline as they are recorded: the failed first attempt of the charge is marked.
    await page.locator('.tl-lane-step').nth(1).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('.tl-lane-step .tl-name').allTextContents(), { timeout: 20_000 }).toEqual(['dash.reserve-stock', 'dash.charge-card']);
    await page.getByRole('button', { name: /^dash\.charge-card #1: failed, will retry/ }).waitFor();
    await page.getByRole('button', { name: /^dash\.charge-card #2: completed/ }).waitFor();
    // After the sleep, the run waits on its hook: the page offers to resume it.
    await page.locator('.tl-lane-sleep .tl-bar.tl-state-completed').waitFor({ timeout: 20_000 });
    const resume = page.getByRole('button', { name: 'Resume hook' });
    await resume.waitFor({ timeout: 20_000 });
    await page.locator('.tl-lane-hook .tl-bar.tl-state-open').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'run-waiting-on-hook.png'), fullPage: true });

    await page.getByLabel(/Payload for/).fill('{ "approved": true, "by": "ana" }');
    await resume.click();
    await page.getByRole('heading', { level: 1 }).getByText('completed').waitFor({ timeout: 20_000 });
    // Same document as before: the page updated itself.
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(((await run.result()) as { decision: unknown }).decision).toEqual({ approved: true, by: 'ana' });

    // A failed attempt shows its error; the child run is on the timeline, linked.
    expect(await page.locator('.tl-lane-hook .tl-bar').getAttribute('class')).toContain('tl-state-completed');
    await page.getByRole('button', { name: /^dash\.charge-card #1/ }).click();
    await page.locator('.tl-detail').getByText('payment network busy').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'run-completed.png'), fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS, 'run-completed-top.png') });
    await page.locator('.tl-lane-child .tl-bar').click();
    const childLink = page.locator('.tl-detail a[href^="/runs/"]');
    await childLink.waitFor();
    await childLink.click();
    await page.getByRole('heading', { level: 1 }).getByText('dash.notify-customer').waitFor();
    // Back and forth between the two runs: each page shows its own run (a finished run's page polls
    // slowly; moving to another run must not keep a stale ETag without its data).
    for (let i = 0; i < 4; i++) {
      await page.goBack();
      await page.getByRole('heading', { level: 1 }).getByText('dash.order').waitFor({ timeout: 15_000 });
      await page.goForward();
      await page.getByRole('heading', { level: 1 }).getByText('dash.notify-customer').waitFor({ timeout: 15_000 });
    }
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('lists runs with status counts and filters, and pages through them', async () => {
    const signalled = await client.start(signalFlow);
    await client.start(failingFlow);
    await client.start(loopFlow, 0);
    await until('the failing run', async () => (await client.listRuns({ status: 'failed' })).runs.length === 1);
    await page.goto(dashboard.url);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await expect.poll(() => page.locator('.count-chip.chip-failed .count').textContent(), { timeout: 20_000 }).toBe('1');
    const listed = (await client.listRuns({ limit: 1000 })).runs.length;
    expect(listed).toBeGreaterThanOrEqual(5);
    await expect.poll(() => page.locator('.runs-table tbody tr').count(), { timeout: 20_000 }).toBe(Math.min(listed, 25));
    await page.screenshot({ path: join(ARTIFACTS, 'runs.png'), fullPage: true });

    await page.locator('.count-chip.chip-failed').click();
    await expect.poll(() => page.locator('.runs-table tbody tr').count()).toBe(1);
    expect(page.url()).toContain('status=failed');
    await page.getByRole('link', { name: 'all', exact: true }).click();
    await page.getByLabel('Workflow').fill('dash.signalled');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('.runs-table tbody tr td:nth-child(2)').allTextContents()).toEqual(['dash.signalled']);

    // A run that starts while the list is open appears without a reload.
    await client.start(signalFlow);
    await expect.poll(() => page.locator('.runs-table tbody tr').count(), { timeout: 20_000 }).toBe(2);

    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => page.url()).not.toContain('workflow=');

    // Paging: ten runs a page, older and newer by cursor.
    for (let i = 0; i < 8; i++) await client.start(notifyCustomer, `bulk-${i}`);
    const total = (await client.listRuns({ limit: 1000 })).runs.length;
    expect(total).toBeGreaterThan(10);
    await page.getByLabel('Per page').selectOption('10');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('.runs-table tbody tr').count(), { timeout: 20_000 }).toBe(10);
    const firstPage = await page.locator('.runs-table tbody tr a').allTextContents();
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.getByText('page 2').waitFor();
    await expect.poll(() => page.locator('.runs-table tbody tr').count()).toBe(Math.min(10, total - 10));
    const secondPage = await page.locator('.runs-table tbody tr a').allTextContents();
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.getByText('page 1').waitFor();
    await expect.poll(() => page.locator('.runs-table tbody tr a').allTextContents()).toEqual(firstPage);
    await client.cancel(signalled.runId);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('is usable with the keyboard: skip link first, real links and buttons, visible focus', async () => {
    await page.goto(dashboard.url);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    // Focus order: the skip link, the header's links and the theme button, then the page.
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent?.trim()}`));
    }
    expect(order).toEqual(['A Skip to content', 'A Durably', 'A Runs', 'A Schedules', 'A Dead letters', 'BUTTON ☾ Dark', 'A all']);
    // The focused element is outlined.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');

    // Open a run with the keyboard only, then a timeline bar.
    const firstRun = page.locator('.runs-table tbody tr a').first();
    await firstRun.focus();
    await page.keyboard.press('Enter');
    await page.locator('.timeline').waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    const bar = page.locator('.tl-bar').first();
    await bar.focus();
    await page.keyboard.press('Enter');
    await page.locator('.tl-detail dl').waitFor();
    expect(await bar.getAttribute('aria-pressed')).toBe('true');
    // Every bar is a real button, so Tab reaches each one.
    expect(await page.locator('.tl-bar').evaluateAll((bars) => bars.every((b) => b.tagName === 'BUTTON'))).toBe(true);
  }, 60_000);

  it('has a dark theme and a light one, kept across pages', async () => {
    await page.goto(dashboard.url);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await background();
    await page.getByRole('button', { name: /Switch to the dark theme/ }).click();
    const dark = await background();
    expect(dark).not.toBe(light);
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const orders = await client.listRuns({ workflow: 'dash.order' });
    await page.goto(`${dashboard.url}/runs/${orders.runs[0].runId}`);
    await page.locator('.timeline .tl-bar').first().waitFor();
    expect(await background()).toBe(dark);
    await page.screenshot({ path: join(ARTIFACTS, 'run-dark.png') });
    await page.getByRole('button', { name: /Switch to the light theme/ }).click();
    expect(await background()).toBe(light);
  }, 60_000);

  it('shows schedules and dead letters', async () => {
    await client.schedules.create('nightly-report', orderFlow, { cron: '0 2 * * *', timezone: 'Europe/Prague', args: [{ id: 'nightly', items: [], total: 0n }] });
    await page.goto(`${dashboard.url}/schedules`);
    await page.getByRole('heading', { name: 'nightly-report' }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('status').getByText('Schedule nightly-report paused.').waitFor();
    expect((await client.schedules.get('nightly-report'))!.paused).toBe(true);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('status').getByText('Schedule nightly-report resumed.').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'schedules.png'), fullPage: true });

    await backend.broker.publish('durably.default', 'garbage that is not a task');
    await page.goto(`${dashboard.url}/dead-letters`);
    await page.getByText(/not JSON/).first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'dead-letters.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('asks for the token when it listens beyond the loopback, and works once given it', async () => {
    const open = await startDashboard({ client, host: '0.0.0.0', port: 0, token: TOKEN, logger: createLogger('error') });
    try {
      await page.goto(`http://127.0.0.1:${open.port}/`);
      await page.getByRole('heading', { name: 'Token required' }).waitFor();
      await page.getByLabel('Token').fill('wrong-token-wrong-token');
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
      await page.getByRole('heading', { name: 'Token required' }).waitFor();
      await page.getByLabel('Token').fill(TOKEN);
      await page.getByRole('button', { name: 'Open the dashboard' }).click();
      await page.getByRole('heading', { name: 'Runs' }).waitFor();
      await expect.poll(() => page.locator('.runs-table tbody tr').count(), { timeout: 20_000 }).toBeGreaterThan(0);
      // A token in the address is taken and removed from it.
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${open.port}/schedules#token=${TOKEN}`);
      await tab.getByRole('heading', { name: 'nightly-report' }).waitFor();
      expect(tab.url()).not.toContain(TOKEN);
      await tab.close();
    } finally {
      await open.close();
    }
  }, 60_000);
});
