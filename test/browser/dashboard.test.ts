/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) on the whole local
 * stack: a submitted wave and its machines appear, a machine awaiting approval is approved with
 * its button (the page asks for the function key, refuses a wrong one) and moves on.
 *
 * Chromium comes from scripts/install-chromium.sh (CI runs it first). Without /usr/bin/chromium the
 * suite is skipped on a developer's machine and fails in CI (CI=true). Set DASHBOARD_SCREENSHOT to
 * a file path to keep a screenshot of the page.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryApi, type WaveView } from '../../cli/lib/api';
import { defaultPlan } from '../../cli/lib/rehearsal';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { type Stack, startStack } from '../../local/stack';
import { inventoryFromEstate } from '../../src/domain';

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const SKIP = !existsSync(CHROMIUM) && !IN_CI;
/** Virtual seconds per real second: a wave of a few virtual hours takes seconds. */
const TIME_SCALE = 3600;
/** Real ms to wait for the page to show a change (it reads the API every 3 s). */
const PAGE_TIMEOUT_MS = 60_000;

if (SKIP) {
  console.warn(
    `Browser tests skipped: ${CHROMIUM} is absent. Install it with sudo scripts/install-chromium.sh (in CI they fail instead).`,
  );
}

let stack: Stack;
let api: FactoryApi;
let context: BrowserContext;
let page: Page;
let profile: string;
const pageErrors: string[] = [];

describe.skipIf(SKIP)(
  SKIP ? `dashboard (skipped: ${CHROMIUM} is absent; run scripts/install-chromium.sh)` : 'dashboard',
  () => {
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing: CI must run scripts/install-chromium.sh before the tests`);
      }
      stack = await startStack({ estate: generateEstate(4, 2), timeScale: TIME_SCALE });
      api = new FactoryApi({ baseUrl: stack.baseUrl, key: stack.functionKey });
      profile = mkdtempSync(path.join(tmpdir(), 'dashboard-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        // The 401 of the wrong key is logged by the browser itself; anything else (a script error,
        // a Content-Security-Policy violation) is a defect of the page.
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
          pageErrors.push(message.text());
        }
      });
    });

    afterAll(async () => {
      await context?.close();
      await stack?.stop();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    it('shows a wave, approves a machine with its button and follows it to Done', async () => {
      const estate = generateEstate(4, 2);
      const plan = defaultPlan(estate, inventoryFromEstate(estate), 'approval');
      const names = plan.machines.slice(0, 2).map((m) => m.sourceName);
      const submitted = await api.submitWave({
        type: 'application/json',
        text: JSON.stringify({
          ...plan,
          name: 'browser wave',
          machines: plan.machines.filter((m) => names.includes(m.sourceName)),
        }),
      });

      const response = await page.goto(`${stack.baseUrl}/api/dashboard`);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      expect(await page.title()).toContain('VM Migration Factory');
      await page.getByRole('button', { name: 'browser wave' }).click();
      await page.getByRole('heading', { name: 'Wave browser wave' }).waitFor();
      for (const name of names) {
        await page.getByRole('rowheader', { name }).waitFor();
      }

      const [first, second] = names as [string, string];
      const approve = page.getByRole('button', { name: `Approve cut-over of ${first}` });
      await approve.waitFor({ timeout: PAGE_TIMEOUT_MS });
      const counts = await page.locator('#counts').textContent();
      expect(counts).toMatch(/AwaitingApproval/);

      // A wrong key is refused, and the page asks again on the next change.
      await approve.click();
      const dialog = page.getByRole('dialog', { name: 'Function key' });
      await dialog.waitFor();
      await dialog.getByLabel('Function key').fill('not-the-key');
      await dialog.getByLabel('Your name (recorded as the approver)').fill('dana@contoso.com');
      await dialog.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
      expect((await api.wave(submitted.id)).machines.find((m) => m.name === first)?.stage).toBe(
        'AwaitingApproval',
      );

      await approve.click();
      await dialog.waitFor();
      await dialog.getByLabel('Function key').fill(stack.functionKey);
      await dialog.getByRole('button', { name: 'Save' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Approval of ${first} requested` })
        .waitFor();
      await approve.waitFor({ state: 'detached', timeout: PAGE_TIMEOUT_MS });
      expect(await page.getByText('Function key: set (acting as dana@contoso.com)').count()).toBe(1);

      const firstRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: first }) });
      await firstRow.locator('.stage.Done').waitFor({ timeout: PAGE_TIMEOUT_MS });
      // The other machine still waits: only the one approved moved on.
      await page.getByRole('button', { name: `Approve cut-over of ${second}` }).waitFor();
      const wave: WaveView = await api.wave(submitted.id);
      expect(wave.machines.find((m) => m.name === first)).toMatchObject({
        stage: 'Done',
        approvedBy: 'dana@contoso.com',
      });
      expect(wave.machines.find((m) => m.name === second)?.stage).toBe('AwaitingApproval');

      await page.getByRole('button', { name: `Timeline of ${first}` }).click();
      await page.getByRole('heading', { name: `Timeline of ${first}` }).waitFor();
      const events = await page.locator('#events').textContent();
      expect(events).toContain('Cut-over approved by dana@contoso.com');
      expect(events).toContain('AwaitingApproval \u2192 MigratingCutover');

      const screenshot = process.env.DASHBOARD_SCREENSHOT;
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
      expect(pageErrors).toEqual([]);
    });
  },
);
