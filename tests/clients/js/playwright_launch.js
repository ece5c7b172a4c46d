// Playwright (playwright-core) launching Chromium through a grid: SELENIUM_REMOTE_URL (set by
// the test) makes chromium.launch() create a grid session and connect over its `se:cdp`. Then
// goto, fill, click and the title, as a Playwright test would. Prints one JSON result line;
// `endpoint` is the CDP URL Playwright says it connected to (from its own launch log).
//
//   SELENIUM_REMOTE_URL=http://HOST:PORT node playwright_launch.js --page http://127.0.0.1:P/
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

// Playwright's launch log ("<selenium> retrieved endpoint ...") goes to its debug logger; it
// reads these two variables when it loads.
const launchLogFile = path.join(os.tmpdir(), `gridhub-playwright-${process.pid}.log`);
process.env.DEBUG = 'pw:browser';
process.env.DEBUG_FILE = launchLogFile;

const {chromium} = require('playwright-core');
const {expectEqual, runClient} = require('./client_common');

runClient(async (args, result) => {
  result.step = 'chromium.launch';
  result.remoteUrlEnv = process.env.SELENIUM_REMOTE_URL || null;
  if (!result.remoteUrlEnv) throw new Error('SELENIUM_REMOTE_URL is not set');
  const browser = await chromium.launch({timeout: 60000});
  const launchLog = fs.readFileSync(launchLogFile, 'utf8').split('\n')
                        .filter((line) => line.includes('<selenium>'));
  fs.rmSync(launchLogFile, {force: true});
  result.launchLog = launchLog;
  const retrieved = launchLog.find((line) => line.includes('retrieved endpoint'));
  result.endpoint = retrieved ? retrieved.split('retrieved endpoint ')[1].split(' ')[0] : null;
  result.seleniumV4 = launchLog.some((line) => line.includes('using selenium v4'));
  try {
    result.step = 'page';
    const page = await browser.newPage();
    await page.goto(args.page, {timeout: 20000});
    await page.fill('#name', 'playwright');
    await page.click('#submit');
    await page.waitForSelector('text=hello playwright', {timeout: 10000});
    result.greeting = await page.textContent('#greeting');
    await page.click('#toggle');
    result.buttonText = await page.textContent('#toggle');
    expectEqual('button text after a click', result.buttonText, 'clicked 1');
    result.title = await page.title();
    expectEqual('title', result.title, 'gridhub e2e page');
  } finally {
    await browser.close();
  }
});
