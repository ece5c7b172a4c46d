// Times real Chromium session starts with selenium-webdriver: `new Builder()...build()` until
// its promise resolves, then quit (not timed). Prints one JSON line per target with every
// start's milliseconds, in the order they ran.
//
//   node start.js --runs 10 --target direct=service:/usr/bin/chromedriver \
//       --target standalone=http://127.0.0.1:4444 [--target hub-node=http://127.0.0.1:4445]
//
// A target is `name=URL` (a running WebDriver server: a grid, or a chromedriver started once)
// or `name=service:PATH` (selenium-webdriver starts PATH itself for each session, as a script
// without a grid does). The targets take turns, one start each per round (A/B/A/B), so a
// change in the machine's load falls on all of them alike; one warm-up round is not counted.
'use strict';

const {Builder} = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');

function parseArgs(argv) {
  const args = {runs: 10, targets: []};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--runs') {
      args.runs = Number(value);
    } else if (flag === '--target') {
      const at = value.indexOf('=');
      if (at <= 0) throw new Error(`--target wants name=URL or name=service:PATH: ${value}`);
      args.targets.push({name: value.slice(0, at), where: value.slice(at + 1)});
    } else {
      throw new Error(`unknown flag ${flag}`);
    }
  }
  if (args.targets.length === 0 || !(args.runs > 0)) throw new Error('--target and --runs > 0');
  return args;
}

// The same options for every target: the grid's own stereotype adds the same arguments (and a
// --user-data-dir of its own); chromedriver alone makes a temporary profile.
function options() {
  return new chrome.Options()
      .setChromeBinaryPath(process.env.GRIDHUB_BENCH_CHROMIUM || '/usr/bin/chromium')
      .addArguments(
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run');
}

function builderFor(target) {
  const builder = new Builder().forBrowser('chrome').setChromeOptions(options());
  if (target.where.startsWith('service:')) {
    return builder.setChromeService(new chrome.ServiceBuilder(target.where.slice(8)));
  }
  return builder.usingServer(target.where);
}

async function timeOneStart(target) {
  const started = process.hrtime.bigint();
  const driver = await builderFor(target).build();
  await driver.getSession();  // build() hands back a driver whose session may still be coming
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await driver.quit();
  return ms;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const times = new Map(args.targets.map((t) => [t.name, []]));
  for (let round = 0; round <= args.runs; round++) {
    for (const target of args.targets) {
      const ms = await timeOneStart(target);
      if (round > 0) times.get(target.name).push(Math.round(ms * 10) / 10);
    }
  }
  for (const target of args.targets) {
    console.log(JSON.stringify({target: target.name, where: target.where, ms: times.get(target.name)}));
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
