import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from './support/app';
import { ARTIFACTS, chromiumMissing, launchChromium } from './support/chromium';
import { ServerProcess } from './support/server-process';
import { dropMysqlDatabase, mysqlEnv } from './support/stores';

const XSS = '<img src=x onerror=alert(1)>';
const missing = chromiumMissing();

/** A page that records what a user would not see: dialogs, requests leaving the origin, CSP reports. */
async function watchedPage(browser: Browser, origin: string, javaScriptEnabled = true) {
  const context = await browser.newContext({ javaScriptEnabled });
  const page = await context.newPage();
  const seen = { dialogs: [] as string[], foreignRequests: [] as string[], consoleErrors: [] as string[] };
  page.on('dialog', async (dialog) => {
    seen.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) seen.foreignRequests.push(request.url());
  });
  page.on('console', (message) => {
    if (message.type() === 'error') seen.consoleErrors.push(message.text());
  });
  return { page, seen };
}

const messages = (page: Page) => page.locator('#messages li .text').allTextContents();

describe('the message board in Chromium', { skip: missing }, () => {
  let browser: Browser;
  let server: ServerProcess;
  const database = `two_tier_browser_${process.pid}`;

  before(async () => {
    server = await ServerProcess.start({ ...mysqlEnv(database), LOG_LEVEL: 'warn' });
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
    await waitFor(async () => (await fetch(`${server.url}/ready`).catch(() => undefined))?.status === 200, 'readiness');
  });

  after(async () => {
    await browser?.close();
    server?.kill();
    await dropMysqlDatabase(database);
  });

  test('posting with JavaScript: the message appears at once without a reload, and is there after one', async () => {
    const { page, seen } = await watchedPage(browser, server.url);
    await page.goto(server.url);
    assert.equal(await page.locator('#engine').textContent(), 'MySQL');
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await page.fill('#new_message', 'hello from chromium');
    await page.click('button[type=submit]');
    await page.locator('#messages li .text', { hasText: 'hello from chromium' }).waitFor();
    assert.equal(navigations, 0, 'the page reloaded to show the message');
    assert.equal(await page.inputValue('#new_message'), '', 'the field was not cleared');
    await page.reload();
    assert.equal((await messages(page))[0], 'hello from chromium');
    assert.deepEqual(seen, { dialogs: [], foreignRequests: [], consoleErrors: [] });
  });

  test('a script tag in a message is shown as text, never run, before and after a reload', async () => {
    const { page, seen } = await watchedPage(browser, server.url);
    await page.goto(server.url);
    await page.fill('#new_message', XSS);
    await page.click('button[type=submit]');
    await page.locator('#messages li .text', { hasText: XSS }).waitFor();
    assert.equal(await page.locator('#messages img').count(), 0, 'the message was inserted as HTML');
    await page.reload();
    assert.equal((await messages(page))[0], XSS);
    assert.equal(await page.locator('#messages img').count(), 0, 'the server rendered the message as HTML');
    await page.waitForTimeout(200);
    assert.deepEqual(seen.dialogs, [], 'the injected script ran');
    await page.screenshot({ path: join(ARTIFACTS, 'message-board.png'), fullPage: true });
  });

  test('without JavaScript the form posts and the page comes back with the message on it', async () => {
    const { page, seen } = await watchedPage(browser, server.url, false);
    await page.goto(server.url);
    await page.fill('#new_message', 'posted without javascript');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
    assert.equal((await messages(page))[0], 'posted without javascript');
    assert.deepEqual(seen.foreignRequests, []);
  });

  test("another site's page cannot make its visitor post; the board's own page still can", async () => {
    // localhost and 127.0.0.1 are different sites to the browser: the form below is a cross-site post.
    const attacker: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(
        `<form method="post" action="${server.url}/submit"><input name="new_message" value="forged by another site"></form><script>document.forms[0].submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const { page } = await watchedPage(browser, server.url);
      const answered = page.waitForResponse(`${server.url}/submit`);
      await page.goto(`http://localhost:${(attacker.address() as { port: number }).port}/`);
      assert.equal((await answered).status(), 403, 'the cross-site form post was not refused');
      await page.goto(server.url);
      assert.ok(!(await messages(page)).includes('forged by another site'), 'the forged message is on the board');
      await page.fill('#new_message', 'posted from the board itself');
      await page.click('button[type=submit]');
      await page.locator('#messages li .text', { hasText: 'posted from the board itself' }).waitFor();
    } finally {
      attacker.close();
    }
  });

  test('a rejected post shows why, and keeps the text in the box', async () => {
    const { page } = await watchedPage(browser, server.url);
    await page.goto(server.url);
    const before = await messages(page);
    await page.fill('#new_message', '   ');
    await page.click('button[type=submit]');
    await page.locator('#form-error', { hasText: 'message must not be empty or only white space' }).waitFor();
    await page.locator('#new_message').evaluate((field) => field.removeAttribute('maxlength'));
    await page.fill('#new_message', 'x'.repeat(2001));
    await page.click('button[type=submit]');
    await page.locator('#form-error', { hasText: '2000' }).waitFor();
    assert.equal((await page.inputValue('#new_message')).length, 2001, 'the rejected text was lost');
    assert.deepEqual(await messages(page), before, 'a rejected post was listed');
  });

  test('with the database down the page says so, and so does a post', async () => {
    const down = await ServerProcess.start(mysqlEnv(database, 1));
    try {
      await down.listening();
      const { page } = await watchedPage(browser, down.url);
      const response = await page.goto(down.url);
      assert.equal(response?.status(), 503);
      assert.match((await page.locator('#form-error').textContent()) ?? '', /the database is unavailable/i);
      await page.fill('#new_message', 'into the void');
      await page.click('button[type=submit]');
      await page.locator('#form-error', { hasText: /the database is unavailable/i }).waitFor();
      assert.equal(await page.inputValue('#new_message'), 'into the void');
    } finally {
      down.kill();
    }
  });
});
