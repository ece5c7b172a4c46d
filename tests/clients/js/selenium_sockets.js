// selenium-webdriver's socket features through a grid: BiDi's LogInspector (a console.log of
// the page captured) and createCDPConnection('page') (a CDP command answered). Prints one JSON
// result line with the URLs the session named.
//
//   node selenium_sockets.js --grid http://HOST:PORT --page http://127.0.0.1:P/ [--user-data-dir D]
//
// With SELENIUM_REMOTE_URL set (by the test) the Builder uses it instead of --grid, and
// createCDPConnection dials ws://{that host}/session/{id}/se/cdp instead of `se:cdp`.
'use strict';

const {Builder} = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');
const LogInspector = require('selenium-webdriver/bidi/logInspector');
const {CHROMIUM, chromeArgs, expectEqual, runClient, withTimeout} = require('./client_common');

async function logInspector(driver, page, result) {
  result.step = 'bidi LogInspector';
  const nonce = `selenium-${process.pid}-${Date.now()}`;
  const inspector = await withTimeout(LogInspector(driver), 15000, 'LogInspector(driver)');
  const seen = new Promise((resolve) => {
    inspector.onConsoleEntry((entry) => {
      if (entry.text && entry.text.includes(nonce)) resolve(entry);
    });
  });
  await driver.get(`${page}console.html#${nonce}`);
  const entry = await withTimeout(seen, 10000, 'a console entry with the page\'s console.log');
  result.logText = entry.text;
  await inspector.close();
}

async function cdpCommand(driver, page, result) {
  result.step = 'createCDPConnection';
  await driver.get(page);
  const cdp = await withTimeout(driver.createCDPConnection('page'), 15000,
                                'createCDPConnection(\'page\')');
  result.cdpDialled = driver._wsUrl;
  const answer = await withTimeout(
      cdp.send('Runtime.evaluate',
               {expression: 'document.getElementById("heading").textContent', returnByValue: true}),
      10000, 'Runtime.evaluate over CDP');
  result.cdpEvaluated = answer.result && answer.result.result && answer.result.result.value;
  expectEqual('heading read over CDP', result.cdpEvaluated, 'gridhub end-to-end');
  driver._cdpWsConnection.close();
}

runClient(async (args, result) => {
  result.step = 'new session';
  result.remoteUrlEnv = process.env.SELENIUM_REMOTE_URL || null;
  const options = new chrome.Options().setChromeBinaryPath(CHROMIUM)
                      .addArguments(...chromeArgs(args.userDataDir)).enableBidi();
  const driver = await new Builder().usingServer(args.grid).forBrowser('chrome')
                     .setChromeOptions(options).build();
  try {
    const caps = await driver.getCapabilities();
    result.sessionId = (await driver.getSession()).getId();
    result.webSocketUrl = caps.get('webSocketUrl') || null;
    result.cdp = caps.get('se:cdp') || null;
    result.cdpVersion = caps.get('se:cdpVersion') || null;
    if (!args.skipBidi) await logInspector(driver, args.page, result);
    await cdpCommand(driver, args.page, result);
  } finally {
    result.quit = 'pending';
    await driver.quit().then(() => { result.quit = 'ok'; }, (e) => { result.quit = String(e); });
  }
});
