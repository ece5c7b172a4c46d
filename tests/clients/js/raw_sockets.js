// A session's BiDi and CDP sockets driven with the bare `ws` package: no client library that
// could quietly fall back to classic WebDriver. Prints one JSON result line.
//
//   node raw_sockets.js --grid URL --mode probe|busy|idle [--user-data-dir D]
//        [--busy-ms N] [--idle-wait-ms N]
//
// probe: one BiDi command over `webSocketUrl` and one CDP command over `se:cdp`, then DELETE.
// busy:  BiDi commands every 300 ms for --busy-ms (no HTTP at all), then one classic command,
//        which must still find the session (socket traffic is session activity).
// idle:  opens the BiDi socket and sends nothing; waits (at most --idle-wait-ms) for the grid
//        to close it, then a classic command must find the session gone.
'use strict';

const WebSocket = require('ws');
const {runClient, withTimeout} = require('./client_common');
const w3c = require('./w3c');

// An open socket with request/answer by id; `closed` resolves with {code, at} when it closes.
async function openSocket(url) {
  const ws = new WebSocket(url);
  const pending = new Map();
  const closed = new Promise((resolve) => {
    ws.on('close', (code) => resolve({code, at: Date.now()}));
  });
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    const waiter = pending.get(message.id);
    if (waiter) {
      pending.delete(message.id);
      waiter(message);
    }
  });
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode} on ${url}`)));
  }), 15000, `opening ${url}`);
  let nextId = 1;
  const send = (method, params = {}) => {
    const id = nextId++;
    const answer = new Promise((resolve) => pending.set(id, resolve));
    ws.send(JSON.stringify({id, method, params}));
    return withTimeout(answer, 10000, `an answer to ${method} on ${url}`);
  };
  return {ws, send, closed};
}

async function probe(session, result) {
  result.step = 'bidi';
  const bidi = await openSocket(result.webSocketUrl);
  const tree = await bidi.send('browsingContext.getTree');
  result.bidiContexts = tree.result ? tree.result.contexts.length : `error: ${JSON.stringify(tree)}`;
  bidi.ws.close();
  result.step = 'cdp';
  if (!result.cdp) throw new Error('the new-session answer has no se:cdp');
  const cdp = await openSocket(result.cdp);
  const version = await cdp.send('Browser.getVersion');
  result.cdpProduct = version.result ? version.result.product : `error: ${JSON.stringify(version)}`;
  cdp.ws.close();
}

async function busy(session, args, result) {
  result.step = 'busy over bidi';
  const bidi = await openSocket(result.webSocketUrl);
  const until = Date.now() + Number(args.busyMs || 6000);
  result.bidiAnswers = 0;
  while (Date.now() < until) {
    const answer = await bidi.send('browsingContext.getTree');
    if (!answer.result) throw new Error(`BiDi answered ${JSON.stringify(answer)}`);
    result.bidiAnswers++;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  result.step = 'classic after busy';
  const title = await w3c.command(args.grid, session.id, 'GET', '/title');
  result.classicStatus = title.status;
  bidi.ws.close();
}

async function idle(session, args, result) {
  result.step = 'idle bidi socket';
  const bidi = await openSocket(result.webSocketUrl);
  const opened = Date.now();
  const closed = await withTimeout(bidi.closed, Number(args.idleWaitMs || 15000),
                                   'the grid to close the idle session\'s socket');
  result.closeCode = closed.code;
  result.closedAfterMs = closed.at - opened;
  result.step = 'classic after idle';
  const title = await w3c.command(args.grid, session.id, 'GET', '/title');
  result.classicStatus = title.status;
  result.classicError = title.value && title.value.error;
}

runClient(async (args, result) => {
  result.step = 'new session';
  const session = await w3c.newSession(args.grid, args.userDataDir, {webSocketUrl: true});
  result.sessionId = session.id;
  result.webSocketUrl = session.capabilities.webSocketUrl || null;
  result.cdp = session.capabilities['se:cdp'] || null;
  if (!result.webSocketUrl) throw new Error('the new-session answer has no webSocketUrl');
  try {
    if (args.mode === 'probe') await probe(session, result);
    else if (args.mode === 'busy') await busy(session, args, result);
    else if (args.mode === 'idle') await idle(session, args, result);
    else throw new Error(`unknown --mode ${args.mode}`);
  } finally {
    result.quit = (await w3c.deleteSession(args.grid, session.id)).status;
  }
});
