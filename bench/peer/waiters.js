#!/usr/bin/env node
// New-session waiters for bench/peer/run.sh, on raw keep-alive-free HTTP (one connection each).
//
//   waiters.js queue URL BROWSER COUNT HOLD_MS
//     COUNT requests for BROWSER, sent one by one (each once the previous one is written on its
//     connected socket, then a 1 ms pause, so the grid receives them in order); each granted
//     session is held HOLD_MS and deleted. Prints drain_s (first request to last delete),
//     p50/p99 wait (request to answer) and inversions: the waiters that some later-sent waiter
//     overtook by more than 7 places (8 slots) in the order of session creation on the node.
//   waiters.js hold URL BROWSER COUNT
//     COUNT requests that stay waiting (the grid's slots for BROWSER are taken); prints
//     "held COUNT" once all are written, "answered" for each one answered (it should be none),
//     and keeps them until killed.
'use strict';
const http = require('http');

// Resolves once the request is written on a connected socket, so that requests sent one after
// another reach the grid's kernel in that order.
function post(url, browser, onAnswer) {
  const body = JSON.stringify({capabilities: {alwaysMatch: {browserName: browser}}});
  const req = http.request(url + '/session', {
    method: 'POST', agent: false,
    headers: {'Content-Type': 'application/json; charset=utf-8',
              'Content-Length': Buffer.byteLength(body)},
  }, (res) => {
    let text = '';
    res.on('data', (d) => { text += d; });
    res.on('end', () => onAnswer(res.statusCode, text));
  });
  return new Promise((resolve) => {
    req.on('error', (e) => {
      onAnswer(0, String(e));
      resolve();
    });
    req.on('socket', (socket) => socket.once('connect', () => req.end(body)));
    req.on('finish', resolve);
  });
}

function remove(url, id) {
  return new Promise((resolve) => {
    const req = http.request(`${url}/session/${id}`, {method: 'DELETE', agent: false}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;  // ms

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// Waiters overtaken: scanning from the last sent, a waiter counts when a later-sent one got a
// session more than SLOTS - 1 places before it. Places are the order the grid created the
// sessions on the node (the fake node numbers them: fake1, fake2, ...), so the client's own
// timing plays no part; the slack is the race between grants that are in flight together
// (at most one per slot), which a FIFO queue does not order.
const SLOTS = 8;
function inversions(created) {
  let count = 0;
  let earliestLater = Infinity;
  for (let i = created.length - 1; i >= 0; i--) {
    if (earliestLater < created[i] - (SLOTS - 1)) count++;
    earliestLater = Math.min(earliestLater, created[i]);
  }
  return count;
}

async function queue(url, browser, count, holdMs) {
  const sent = new Array(count);
  const answered = new Array(count);
  const created = new Array(count);  // the fake node's session number
  const done = [];
  let failures = 0;
  const start = now();
  for (let i = 0; i < count; i++) {
    let finish;
    done.push(new Promise((resolve) => { finish = resolve; }));
    sent[i] = now();
    await post(url, browser, async (status, text) => {
      answered[i] = now();
      const id = (text.match(/"sessionId"\s*:\s*"([^"]+)"/) || [])[1];
      created[i] = Number((/^fake(\d+)$/.exec(id || '') || [])[1]);
      if (status !== 200 || !id || !created[i]) {
        failures++;
        return finish();
      }
      await pause(holdMs);
      if ((await remove(url, id)) !== 200) failures++;
      finish();
    });
    await pause(1);
  }
  await Promise.all(done);
  const drain = (now() - start) / 1000;
  const waits = answered.map((t, i) => t - sent[i]);
  console.log(`queue waiters=${count} drain_s=${drain.toFixed(2)} ` +
              `p50_wait_ms=${percentile(waits, 0.5).toFixed(0)} ` +
              `p99_wait_ms=${percentile(waits, 0.99).toFixed(0)} ` +
              `inversions=${inversions(created)} failures=${failures}`);
  return failures === 0 ? 0 : 1;
}

async function hold(url, browser, count) {
  let answers = 0;
  const writes = [];
  for (let i = 0; i < count; i++) {
    writes.push(post(url, browser, () => {
      answers++;
      console.log('answered');
    }));
    if (writes.length % 200 === 0) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  console.log(`held ${count} answered_early=${answers}`);
  setInterval(() => {}, 1 << 30);  // until killed
}

const [mode, url, browser, count, holdMs] = process.argv.slice(2);
if (mode === 'queue' && holdMs !== undefined) {
  queue(url, browser, Number(count), Number(holdMs)).then((code) => process.exit(code));
} else if (mode === 'hold' && count !== undefined) {
  hold(url, browser, Number(count));
} else {
  console.error('usage: waiters.js queue URL BROWSER COUNT HOLD_MS | hold URL BROWSER COUNT');
  process.exit(2);
}
