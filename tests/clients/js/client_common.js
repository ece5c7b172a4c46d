// What the socket and file client scripts share: flags, Chromium's arguments, bounded waits,
// and the one JSON result line the e2e harness reads (the last line starting with `{`).
//
// A script calls runClient(async (args, result) => {...}): `args` holds every `--name value`
// flag (as args.name), `result` is filled as the script goes (result.step says where it was),
// and the process exits 0 only when the body returned without throwing.
'use strict';

const CHROMIUM = process.env.GRIDHUB_E2E_CHROMIUM || '/usr/bin/chromium';

function parseFlags(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    const name = argv[i].slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) {
      args[name] = true;
    } else {
      args[name] = next;
      i++;
    }
  }
  return args;
}

function chromeArgs(userDataDir) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--no-first-run'];
  if (userDataDir) args.push(`--user-data-dir=${userDataDir}`);
  return args;
}

function expectEqual(what, actual, expected) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// Rejects with `what` when `promise` has not settled within `ms`; every wait here is bounded.
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Polls `probe` (async) until it returns a truthy value, or throws after `ms`.
async function pollUntil(probe, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function runClient(body) {
  const result = {ok: false, step: 'start', startedAt: Date.now()};
  const args = parseFlags(process.argv.slice(2));
  Promise.resolve()
      .then(() => body(args, result))
      .then(() => {
        result.ok = true;
        result.step = 'done';
      })
      .catch((e) => {
        result.error = `${e && e.name}: ${e && e.message}`;
      })
      .finally(() => {
        result.finishedAt = Date.now();
        console.log(JSON.stringify(result));
        process.exitCode = result.ok ? 0 : 1;
        // A client library may keep a socket or timer alive after its session ended.
        setTimeout(() => process.exit(), 500).unref();
      });
}

module.exports = {CHROMIUM, chromeArgs, expectEqual, parseFlags, pollUntil, runClient, withTimeout};
