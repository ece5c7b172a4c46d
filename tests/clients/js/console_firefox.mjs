// Headless Firefox ESR, driven by puppeteer-core over WebDriver BiDi (no geckodriver), as a
// small page-driving server for tests/e2e/test_console_firefox.py: the Python test changes the
// grid and asks this process, one HTTP call at a time, what the console page shows.
//
//   node console_firefox.mjs --profile-dir DIR [--firefox /usr/bin/firefox-esr]
//
// DIR is a scratch folder (the Firefox profile and HOME); it is removed on quit. Once Firefox is
// up the script prints one JSON line {"ready": true, "port": P, "firefoxPid": N, ...} and serves
// POST http://127.0.0.1:P/ with a JSON body {"op": ..., ...}; the answer is {"value": ...} or
// {"error": message}. Ops:
//   goto {url}                 navigate and wait for the load event
//   eval {script, args}        run a function body (selenium's execute_script style: `return`,
//                              arguments[i]); answers its JSON value
//   viewport {width, height, mobile}
//   screenshot                 the viewport as a base64 PNG
//   click {selector} | type {selector, text} | press {key}
//   events                     everything collected so far: console messages, page errors,
//                              failed requests and HTTP answers >= 400
//   quit                       closes Firefox, removes DIR, exits 0
// SIGTERM/SIGINT close Firefox (and its process group) the same way.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const {parseFlags} = require('./client_common');
const puppeteer = require('puppeteer-core');

const args = parseFlags(process.argv.slice(2));
if (!args.profileDir) throw new Error('--profile-dir is required');
const profile = path.join(args.profileDir, 'firefox-profile');
const home = path.join(args.profileDir, 'home');
fs.mkdirSync(profile, {recursive: true});
fs.mkdirSync(home, {recursive: true});

const events = {console: [], pageErrors: [], failedRequests: [], badResponses: []};
let browser = null;
let page = null;
let closing = null;

function close(code) {
  if (!closing) {
    closing = (async () => {
      try {
        if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]);
      } catch (_) {
        // Firefox may already be gone; its process group is killed below either way.
      }
      const pid = browser && browser.process() && browser.process().pid;
      if (pid) {
        try {
          process.kill(-pid, 'SIGKILL');  // puppeteer starts Firefox as a process-group leader
        } catch (_) {
          // already gone
        }
      }
      fs.rmSync(args.profileDir, {recursive: true, force: true});
      process.exit(code);
    })();
  }
  return closing;
}
process.on('SIGTERM', () => close(143));
process.on('SIGINT', () => close(130));

browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: args.firefox || '/usr/bin/firefox-esr',
  headless: true,
  userDataDir: profile,
  defaultViewport: null,
  handleSIGTERM: false,
  handleSIGINT: false,
  handleSIGHUP: false,
  protocolTimeout: 30000,
  // As root, Firefox wants a HOME of its own; no crash reporter, no update or telemetry pings.
  env: {
    ...process.env,
    HOME: home,
    TMPDIR: args.profileDir,
    MOZ_CRASHREPORTER_DISABLE: '1',
    MOZ_DISABLE_AUTO_SAFE_MODE: '1',
  },
});
// A tab of its own: in the tab Firefox starts with, document.hasFocus() stays false in headless
// mode, so neither :focus nor :focus-visible ever matches (no focus ring to check); a tab opened
// over BiDi is the focused one.
const first = await browser.pages();
page = await browser.newPage();
for (const p of first) await p.close();
page.setDefaultTimeout(20000);
page.on('console', (m) => {
  const loc = m.location() || {};
  events.console.push({type: m.type(), text: m.text(), url: loc.url || ''});
});
page.on('pageerror', (e) => events.pageErrors.push(String((e && e.message) || e)));
page.on('requestfailed', (r) => {
  events.failedRequests.push({url: r.url(), error: (r.failure() || {}).errorText || ''});
});
page.on('response', (r) => {
  if (r.status() >= 400) events.badResponses.push({url: r.url(), status: r.status()});
});

const ops = {
  async goto({url}) {
    const answer = await page.goto(url, {waitUntil: 'load'});
    return answer ? answer.status() : null;
  },
  async eval({script, args: list}) {
    // An expression, not a function object: the page's CSP has no 'unsafe-eval', and BiDi's
    // script.evaluate runs outside it.
    return page.evaluate(`(function () {${script}\n}).apply(null, ${JSON.stringify(list || [])})`);
  },
  async viewport({width, height, mobile}) {
    await page.setViewport({width, height, deviceScaleFactor: 1, isMobile: Boolean(mobile)});
    return page.evaluate(() => [window.innerWidth, window.innerHeight]);
  },
  async screenshot() {
    return Buffer.from(await page.screenshot({type: 'png'})).toString('base64');
  },
  async click({selector}) {
    await page.click(selector);
    return true;
  },
  async type({selector, text}) {
    await page.type(selector, text);
    return true;
  },
  async press({key}) {
    await page.keyboard.press(key);
    return true;
  },
  async events() {
    return events;
  },
};

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    let answer;
    let op = '?';
    try {
      const call = JSON.parse(body || '{}');
      op = call.op;
      if (op === 'quit') {
        res.writeHead(200, {'Content-Type': 'application/json'});
        res.end(JSON.stringify({value: true}));
        server.close();
        await close(0);
        return;
      }
      if (!ops[op]) throw new Error(`unknown op ${op}`);
      answer = {value: (await ops[op](call)) ?? null};
    } catch (e) {
      answer = {error: `${op}: ${(e && e.message) || e}`};
    }
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end(JSON.stringify(answer));
  });
});
const version = await browser.version();
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({
    ready: true,
    version,
    port: server.address().port,
    firefoxPid: browser.process() ? browser.process().pid : null,
  }));
});
