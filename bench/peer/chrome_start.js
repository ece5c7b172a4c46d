#!/usr/bin/env node
// Real Chromium session start for bench/peer/run.sh, with the stock selenium-webdriver client.
//
//   chrome_start.js URL|direct COUNT SCRATCH_DIR
//     COUNT sessions one after another, each timed from the new-session call to its answer and
//     quit before the next. URL: through that grid; direct: selenium-webdriver starts
//     /usr/bin/chromedriver itself, as a test without a grid does (its start is in the time).
//     Each session has its own --user-data-dir under SCRATCH_DIR (Chromium as root also needs
//     --no-sandbox). Prints "chrome start_ms=T1,T2,...".
'use strict';
const path = require('path');
const {Builder} = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');

async function startOnce(target, profile) {
  const options = new chrome.Options()
      .setChromeBinaryPath('/usr/bin/chromium')
      .addArguments('--headless=new', '--no-sandbox', '--disable-gpu',
                    `--user-data-dir=${profile}`);
  const builder = new Builder().forBrowser('chrome').setChromeOptions(options);
  if (target === 'direct') {
    builder.setChromeService(new chrome.ServiceBuilder('/usr/bin/chromedriver'));
  } else {
    builder.usingServer(target);
  }
  const begin = process.hrtime.bigint();
  const driver = await builder.build();
  await driver.getSession();  // the new-session answer
  const ms = Number(process.hrtime.bigint() - begin) / 1e6;
  await driver.quit();
  return ms;
}

async function main() {
  const [target, count, scratch] = process.argv.slice(2);
  if (!scratch) {
    console.error('usage: chrome_start.js URL|direct COUNT SCRATCH_DIR');
    return 2;
  }
  const times = [];
  for (let i = 0; i < Number(count); i++) {
    times.push(await startOnce(target, path.join(scratch, `profile-${process.pid}-${i}`)));
  }
  console.log(`chrome start_ms=${times.map((t) => t.toFixed(0)).join(',')}`);
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
