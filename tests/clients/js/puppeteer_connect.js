// puppeteer-core connected to a grid session's `se:cdp` (puppeteer.connect({browserWSEndpoint}))
// does one page operation: navigates, reads the title and an element. Prints one JSON line.
//
//   node puppeteer_connect.js --grid http://HOST:PORT --page http://127.0.0.1:P/ [--user-data-dir D]
//        [--devtools]
//
// --devtools connects to the grid's Selenoid-style ws://{grid}/devtools/{id} instead (what
// WebdriverIO's getPuppeteer() dials for Selenoid/Moon sessions); `endpoint` says which it used.
'use strict';

const puppeteer = require('puppeteer-core');
const {expectEqual, runClient, withTimeout} = require('./client_common');
const w3c = require('./w3c');

runClient(async (args, result) => {
  result.step = 'new session';
  const session = await w3c.newSession(args.grid, args.userDataDir);
  result.sessionId = session.id;
  result.cdp = session.capabilities['se:cdp'] || null;
  result.cdpVersion = session.capabilities['se:cdpVersion'] || null;
  try {
    if (!result.cdp) throw new Error('the new-session answer has no se:cdp');
    const grid = new URL(args.grid);
    result.endpoint = args.devtools ? `ws://${grid.host}/devtools/${session.id}` : result.cdp;
    result.step = 'puppeteer.connect';
    const browser = await withTimeout(
        puppeteer.connect({browserWSEndpoint: result.endpoint, defaultViewport: null}), 20000,
        `puppeteer.connect to ${result.endpoint}`);
    result.browserVersion = await browser.version();
    result.step = 'page operation';
    // Right after connect, puppeteer may not have attached to the session's tab yet.
    const target = await browser.waitForTarget((t) => t.type() === 'page', {timeout: 10000});
    const page = await target.page();
    await page.goto(args.page, {timeout: 20000});
    result.title = await page.title();
    await page.click('#toggle');
    result.buttonText = await page.$eval('#toggle', (e) => e.textContent);
    expectEqual('button text after a puppeteer click', result.buttonText, 'clicked 1');
    await browser.disconnect();
  } finally {
    const bye = await w3c.deleteSession(args.grid, session.id);
    result.quit = bye.status;
  }
});
