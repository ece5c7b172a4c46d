// WebdriverIO 9 with its defaults (it asks every session for `webSocketUrl: true`) through a
// grid: a console-log event over BiDi, `browser.mock` network interception (BiDi too), and
// `getPuppeteer()` over the session's CDP socket. Prints one JSON result line.
//
//   node wdio_sockets.mjs --grid http://HOST:PORT --page http://127.0.0.1:P/ [--user-data-dir D]
//
// WebdriverIO only logs "Could not connect to Bidi protocol" and goes on over classic WebDriver
// when the socket cannot be reached; so this script fails unless `browser.isBidi` is true, and
// reports the URLs it was given so the test can check whom they name.
import {remote} from 'webdriverio';
import common from './client_common.js';

const {chromeArgs, CHROMIUM, expectEqual, pollUntil, runClient, withTimeout} = common;

function gridOptions(grid) {
  const url = new URL(grid);
  return {
    protocol: url.protocol.replace(':', ''),
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname === '' ? '/' : url.pathname,
  };
}

async function consoleEvent(browser, page, result) {
  result.step = 'bidi console event';
  const nonce = `wdio-${process.pid}-${Date.now()}`;
  const seen = new Promise((resolve) => {
    browser.on('log.entryAdded', (entry) => {
      if (entry.text && entry.text.includes(nonce)) resolve(entry);
    });
  });
  await browser.sessionSubscribe({events: ['log.entryAdded']});
  await browser.url(`${page}console.html#${nonce}`);
  const entry = await withTimeout(seen, 10000, 'log.entryAdded with the page\'s console.log');
  result.logText = entry.text;
  result.logMethod = entry.method;
}

async function networkMock(browser, page, result) {
  result.step = 'browser.mock';
  const body = `mocked greeting ${process.pid}`;
  const mock = await browser.mock('**/api/greeting');
  mock.respond(body, {statusCode: 200, headers: {'content-type': 'text/plain'}});
  await browser.url(`${page}mock.html`);
  const greeting = await browser.$('#greeting');
  result.mockedText = await pollUntil(async () => {
    const text = await greeting.getText();
    return text !== 'waiting' ? text : null;
  }, 10000, 'the mock page to show its fetch result');
  result.mockCalls = mock.calls.length;
  expectEqual('text the page fetched', result.mockedText, body);
  await mock.restore();
}

async function puppeteer(browser, page, result) {
  result.step = 'getPuppeteer';
  const pptr = await withTimeout(browser.getPuppeteer(), 20000, 'getPuppeteer()');
  result.puppeteerEndpoint = pptr.wsEndpoint();
  await browser.url(page);
  // Puppeteer attaches to the browser's tabs asynchronously after connect: poll, bounded.
  const target = await pollUntil(async () => {
    const pages = await pptr.pages();
    const titles = await Promise.all(pages.map((p) => p.title()));
    result.puppeteerTitles = titles;
    return pages[titles.indexOf('gridhub e2e page')];
  }, 10000, 'a puppeteer page with the test page\'s title');
  result.puppeteerHeading = await target.$eval('#heading', (e) => e.textContent);
  await pptr.disconnect();
}

runClient(async (args, result) => {
  result.step = 'new session';
  const browser = await remote({
    ...gridOptions(args.grid),
    logLevel: 'warn',
    connectionRetryCount: 0,
    capabilities: {
      browserName: 'chrome',
      'goog:chromeOptions': {binary: CHROMIUM, args: chromeArgs(args.userDataDir)},
    },
  });
  try {
    result.sessionId = browser.sessionId;
    result.webSocketUrl = browser.capabilities.webSocketUrl || null;
    result.cdp = browser.capabilities['se:cdp'] || null;
    result.cdpVersion = browser.capabilities['se:cdpVersion'] || null;
    result.isBidi = Boolean(browser.isBidi);
    if (!result.isBidi) throw new Error('WebdriverIO fell back to classic WebDriver (no BiDi)');
    await consoleEvent(browser, args.page, result);
    await networkMock(browser, args.page, result);
    await puppeteer(browser, args.page, result);
  } finally {
    result.quit = 'pending';
    await browser.deleteSession().then(() => { result.quit = 'ok'; },
                                       (e) => { result.quit = String(e); });
  }
});
