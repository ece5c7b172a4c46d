// A stock selenium-webdriver client: one Chromium session through a grid, the common commands,
// quit. Prints one JSON line with what it saw (the e2e harness parses the last `{` line) and
// exits 0 only when every step worked.
//
//   node session_flow.js --grid http://127.0.0.1:4444 --page http://127.0.0.1:8000/ \
//       [--user-data-dir DIR] [--hold-ms N] [--steps all|minimal] [--plain]
//
// --hold-ms keeps the session open that long before quitting (to occupy a slot);
// --steps minimal only opens the page and reads the title;
// --plain asks for `chrome` with no options at all, as a README's first script would (the
// grid's stereotype must then supply the binary and the headless arguments).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const {Builder, By, until} = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');

function parseArgs(argv) {
  const args = {hold: 0, steps: 'all', userDataDir: '', plain: false};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--grid': args.grid = value; i++; break;
      case '--page': args.page = value; i++; break;
      case '--user-data-dir': args.userDataDir = value; i++; break;
      case '--hold-ms': args.hold = Number(value); i++; break;
      case '--steps': args.steps = value; i++; break;
      case '--plain': args.plain = true; break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!args.grid || !args.page) throw new Error('--grid and --page are required');
  return args;
}

function chromeOptions(userDataDir) {
  return new chrome.Options()
      .setChromeBinaryPath(process.env.GRIDHUB_E2E_CHROMIUM || '/usr/bin/chromium')
      .addArguments(
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run',
          `--user-data-dir=${userDataDir}`);
}

function expectEqual(what, actual, expected) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function fullFlow(driver, page, result) {
  result.step = 'find and click';
  const button = await driver.findElement(By.id('toggle'));
  expectEqual('button text before click', await button.getText(), 'not clicked');
  await button.click();
  expectEqual('button text after click', await button.getText(), 'clicked 1');

  result.step = 'type and submit';
  const input = await driver.findElement(By.css('input[name="name"]'));
  await input.sendKeys('gridhub');
  expectEqual('typed value', await input.getAttribute('value'), 'gridhub');
  await driver.findElement(By.id('submit')).click();
  await driver.wait(until.elementTextIs(driver.findElement(By.id('greeting')), 'hello gridhub'),
                    5000);

  result.step = 'execute script';
  result.scriptSum = await driver.executeScript('return arguments[0] + arguments[1];', 40, 2);
  expectEqual('script result', result.scriptSum, 42);
  result.clicks = await driver.executeScript('return window.clicks;');
  expectEqual('clicks seen by script', result.clicks, 1);

  result.step = 'screenshot';
  const png = Buffer.from(await driver.takeScreenshot(), 'base64');
  result.screenshotBytes = png.length;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 100 || !png.subarray(0, 8).equals(signature)) {
    throw new Error(`screenshot is not a PNG (${png.length} bytes)`);
  }

  result.step = 'cookies';
  await driver.manage().addCookie({name: 'gridhub', value: 'e2e-js'});
  const cookie = await driver.manage().getCookie('gridhub');
  expectEqual('cookie value', cookie && cookie.value, 'e2e-js');
  await driver.manage().deleteCookie('gridhub');
  const after = await driver.manage().getCookies();
  if (after.some((c) => c.name === 'gridhub')) throw new Error('cookie survived deleteCookie');

  result.step = 'window size';
  await driver.manage().window().setRect({width: 800, height: 600});
  const rect = await driver.manage().window().getRect();
  result.windowSize = [rect.width, rect.height];
  expectEqual('window width', rect.width, 800);
  expectEqual('window height', rect.height, 600);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ownProfile = !args.userDataDir && !args.plain;
  const userDataDir =
      ownProfile ? fs.mkdtempSync(path.join(os.tmpdir(), 'gridhub-js-')) : args.userDataDir;
  const result = {ok: false, step: 'new session', startedAt: Date.now()};
  let driver = null;
  try {
    const builder = new Builder().usingServer(args.grid).forBrowser('chrome');
    if (!args.plain) builder.setChromeOptions(chromeOptions(userDataDir));
    driver = await builder.build();
    const session = await driver.getSession();
    result.sessionId = session.getId();
    result.node = session.getCapabilities().get('se:gridhubNode') || null;
    result.createdAt = Date.now();

    result.step = 'navigate';
    await driver.get(args.page);
    result.title = await driver.getTitle();
    expectEqual('title', result.title, 'gridhub e2e page');
    if (args.steps === 'all') await fullFlow(driver, args.page, result);

    if (args.hold > 0) {
      result.step = 'hold';
      await new Promise((resolve) => setTimeout(resolve, args.hold));
      expectEqual('title after hold', await driver.getTitle(), 'gridhub e2e page');
    }

    result.step = 'quit';
    result.quitAt = Date.now();
    const quitting = driver;
    driver = null;
    await quitting.quit();
    result.ok = true;
    result.step = 'done';
  } catch (e) {
    result.error = `${e.name}: ${e.message}`;
  } finally {
    if (driver) await driver.quit().catch(() => {});
    if (ownProfile) fs.rmSync(userDataDir, {recursive: true, force: true});
  }
  result.finishedAt = Date.now();
  console.log(JSON.stringify(result));
  process.exitCode = result.ok ? 0 : 1;
}

main();
