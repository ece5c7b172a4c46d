// Plain W3C WebDriver over HTTP with Node's own fetch, for the scripts that drive a session's
// sockets with a library that does not create sessions itself (puppeteer-core, raw `ws`).
'use strict';

const {CHROMIUM, chromeArgs} = require('./client_common');

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: {'Content-Type': 'application/json; charset=utf-8'},
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(90000),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  return {status: response.status, value: json && json.value, text};
}

// POST {grid}/session for headless Chromium with `extra` capabilities; throws unless it worked.
async function newSession(grid, userDataDir, extra = {}) {
  const capabilities = {
    browserName: 'chrome',
    'goog:chromeOptions': {binary: CHROMIUM, args: chromeArgs(userDataDir)},
    ...extra,
  };
  const answer = await call('POST', `${grid}/session`, {capabilities: {alwaysMatch: capabilities}});
  if (answer.status !== 200 || !answer.value || !answer.value.sessionId) {
    throw new Error(`new session: ${answer.status} ${answer.text.slice(0, 500)}`);
  }
  return {id: answer.value.sessionId, capabilities: answer.value.capabilities};
}

function command(grid, sessionId, method, path, body) {
  return call(method, `${grid}/session/${sessionId}${path}`, body);
}

function deleteSession(grid, sessionId) {
  return call('DELETE', `${grid}/session/${sessionId}`);
}

module.exports = {call, command, deleteSession, newSession};
