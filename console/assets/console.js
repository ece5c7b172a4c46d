// gridhub console: polls GET /ui/api/state once a second and draws it; with an admin viewer it
// also offers drain, clear queue, cancel one waiter and change a label's cap. See
// docs/console.md. No framework and no build step: ES modules served by the hub itself.
import {renderCharts} from './chart.js';
import {clockTime, setText} from './dom.js';
import {renderEvents, renderLabels, renderNodes, renderQueue, renderSummary} from './render.js';

const POLL_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;
const TOKEN_KEY = 'gridhub.console.token';
const $ = (id) => document.getElementById(id);

const page = {
  state: null,      // the last answer of /ui/api/state
  admin: false,
  timer: 0,
  inFlight: false,
  locked: false,
  noticeTimer: 0,
  again: false,
  failingSince: null,
};

// --- the token (sessionStorage: this tab only, gone when it closes) --------------------------

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';  // storage disabled: the page still works read-only
  }
}

function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    showAlert('This browser does not allow sessionStorage: the token cannot be kept.');
  }
}

function headers(extra = {}) {
  const t = token();
  return t ? {...extra, Authorization: `Bearer ${t}`} : extra;
}

function showTokenForm(show) {
  $('token-form').hidden = !show;
  $('token-toggle').setAttribute('aria-expanded', String(show));
}

// --- messages -------------------------------------------------------------------------------

function showAlert(text) {
  setText($('alert-text'), text);
  $('alert').hidden = false;
}

// A short-lived confirmation of a finished action; screen readers hear it through #announce,
// a status region that is always in the page (one that appears with its text may go unread).
function notice(text) {
  setText($('announce'), text);
  setText($('notice-text'), text);
  $('notice').hidden = false;
  clearTimeout(page.noticeTimer);
  page.noticeTimer = setTimeout(() => { $('notice').hidden = true; }, 8000);
}

// The W3C error's message, the JSON value, or the plain text of a failed call.
async function failureText(response) {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    const value = body?.value ?? body;
    if (value?.message) return `${response.status}: ${value.message}`;
    if (body?.message) return `${response.status}: ${body.message}`;
  } catch {
    // not JSON: fall through
  }
  return `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 300)}` : ''}`;
}

// --- polling --------------------------------------------------------------------------------

async function fetchState() {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch('/ui/api/state', {headers: headers(), cache: 'no-store',
                                                     signal: controller.signal});
    if (!response.ok) throw new Error(await failureText(response));
    return await response.json();
  } finally {
    clearTimeout(timeout);
  }
}

function renderReadiness(state) {
  const box = $('readiness');
  if (!state) {
    box.dataset.state = 'offline';
    setText($('readiness-line'), `Hub unreachable since ${clockTime(page.failingSince)}`);
    return;
  }
  box.dataset.state = state.ready ? 'ready' : 'notready';
  const head = state.ready ? 'Ready' : 'Not ready';
  setText($('readiness-line'), state.message ? `${head} — ${state.message}` : head);
}

// Nothing of the grid stays in the DOM once the viewer may no longer see it (token forgotten
// or changed on the hub).
function clearGrid() {
  for (const id of ['labels-body', 'charts', 'queue-groups', 'nodes', 'events']) {
    $(id).replaceChildren();
  }
  delete $('events').dataset.signature;
}

function renderAccess(viewer) {
  const badge = $('access-badge');
  const label = !viewer.authorized ? 'locked' : viewer.admin ? 'admin' : 'read-only';
  setText(badge, label);
  badge.dataset.access = label;
  const locked = !viewer.authorized;
  $('locked').hidden = !locked;
  $('grid-data').hidden = locked;
  $('summary').hidden = locked;
  if (locked) {
    clearGrid();
    showTokenForm(true);
    setText($('token-status'), token() ? 'That token was not accepted.' : '');
  } else if (page.locked) {
    showTokenForm(false);  // the token just opened the grid: the prompt has done its job
  }
  page.locked = locked;
  document.body.dataset.access = label;
}

function render(state) {
  renderReadiness(state);
  if (!state) return;
  setText($('version'), state.version ? `v${state.version}` : '');
  const viewer = state.viewer ?? {authorized: true, admin: false};
  renderAccess(viewer);
  page.admin = Boolean(viewer.authorized && viewer.admin);
  if (!viewer.authorized) return;
  renderSummary(state);
  renderLabels(state, page.admin);
  const points = renderCharts($('charts'), state.labels ?? [], state.history, state.now);
  $('charts-empty').hidden = points > 0;
  renderQueue(state, page.admin);
  renderNodes(state, page.admin);
  renderEvents(state);
}

// One request at a time: a poll asked for while one is running (after an admin action, say)
// runs as soon as it returns, so two loops never overlap.
async function poll() {
  clearTimeout(page.timer);
  if (page.inFlight) {
    page.again = true;
    return;
  }
  page.inFlight = true;
  try {
    page.state = await fetchState();
    page.failingSince = null;
    document.body.dataset.stale = '';
    setText($('updated'), `Updated ${clockTime(page.state.now ?? Date.now() / 1000)}`);
  } catch (error) {
    page.state = null;
    page.failingSince ??= Date.now() / 1000;
    document.body.dataset.stale = 'true';
    setText($('updated'), `Last error: ${error.message || error}`);
  }
  try {
    render(page.state);
  } catch (error) {
    // A drawing bug must not pass for an unreachable hub: say so, and leave it in the console.
    showAlert(`The console could not draw the hub's answer: ${error.message || error}`);
    console.error(error);
  } finally {
    page.inFlight = false;
    const again = page.again;
    page.again = false;
    page.timer = setTimeout(poll, again ? 0 : POLL_MS);
  }
}

// --- admin actions --------------------------------------------------------------------------

function confirmAction(title, text, okLabel) {
  const dialog = $('confirm');
  setText($('confirm-title'), title);
  setText($('confirm-text'), text);
  setText($('confirm-ok'), okLabel);
  dialog.returnValue = 'cancel';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

async function call(method, path, body) {
  const init = {method, headers: headers(body ? {'Content-Type': 'application/json'} : {}),
                cache: 'no-store'};
  if (body) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (!response.ok) throw new Error(await failureText(response));
  return response.status === 204 ? null : response.json().catch(() => null);
}

// Runs one admin call: `what` names it in the error ("Draining node x"), `done` is the notice.
async function act(button, work, what, done) {
  button.disabled = true;
  try {
    await work();
    $('alert').hidden = true;
    notice(done);
  } catch (error) {
    showAlert(`${what} failed — ${error.message || error}`);
  } finally {
    button.disabled = false;
    poll();
  }
}

async function onDrain(button) {
  const id = button.dataset.node;
  if (!await confirmAction(`Drain node ${id}?`, `${id} takes no new sessions and leaves the ` +
                           'grid once its running sessions have ended.', 'Drain node')) return;
  await act(button, () => call('POST', `/nodes/${encodeURIComponent(id)}/drain`),
            `Draining node ${id}`, `Node ${id} is draining.`);
}

async function onClear(button) {
  const waiting = (page.state?.queue ?? []).reduce((n, g) => n + (g.waiters ?? []).length, 0);
  if (!await confirmAction('Clear the whole queue?', `All ${waiting} waiting requests fail ` +
                           'with "session not created".', 'Clear queue')) return;
  await act(button, () => call('DELETE', '/queue'), 'Clearing the queue', 'Queue cleared.');
}

async function onCancel(button) {
  const {waiter, label} = button.dataset;
  if (!await confirmAction(`Cancel waiter ${waiter}?`, `Request ${waiter} (${label}) fails ` +
                           'with "cancelled by an operator".', 'Cancel waiter')) return;
  await act(button, () => call('DELETE', `/queue/${encodeURIComponent(waiter)}`),
            `Cancelling waiter ${waiter}`, `Waiter ${waiter} cancelled.`);
}

// The caps map is read from the effective settings and written back whole with one label
// changed, so it works whether PUT /admin/config merges the map or replaces it.
async function onCap(form) {
  const label = form.dataset.label;
  const input = form.querySelector('input');
  const raw = input.value.trim();
  const cap = raw === '' ? 0 : Number(raw);  // 0 = no cap, as in queue.concurrency-caps
  if (!(Number.isInteger(cap) && cap >= 0)) {
    showAlert(`The cap for ${label} must be a whole number (0 or empty = no cap).`);
    return;
  }
  const write = async () => {
    const current = await call('GET', '/admin/config');
    const settings = current?.value ?? current ?? {};
    const caps = {...(settings.queue?.['concurrency-caps'] ?? {})};
    caps[label] = cap;
    await call('PUT', '/admin/config', {queue: {'concurrency-caps': caps}});
    input.value = '';
  };
  const done = cap === 0 ? `Cap of ${label} removed.` : `Cap of ${label} set to ${cap}.`;
  await act(form.querySelector('button'), write, `Setting the cap of ${label}`, done);
}

function onClick(event) {
  const button = event.target.closest('button[data-action]');
  if (!button || button.disabled) return;
  const handlers = {drain: onDrain, clear: onClear, cancel: onCancel};
  handlers[button.dataset.action]?.(button);
}

function onSubmit(event) {
  const form = event.target;
  if (form.dataset.action === 'cap') {
    event.preventDefault();
    onCap(form);
  }
}

// --- start ----------------------------------------------------------------------------------

function start() {
  $('token-toggle').addEventListener('click', () => showTokenForm($('token-form').hidden));
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken($('token-input').value.trim());
    $('token-input').value = '';
    setText($('token-status'), 'Token saved for this tab.');
    poll();
  });
  $('token-forget').addEventListener('click', () => {
    setToken('');
    $('token-input').value = '';
    setText($('token-status'), 'Token forgotten.');
    poll();
  });
  $('alert-close').addEventListener('click', () => { $('alert').hidden = true; });
  $('notice-close').addEventListener('click', () => { $('notice').hidden = true; });
  document.addEventListener('click', onClick);
  document.addEventListener('submit', onSubmit);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poll();
  });
  poll();
}

start();
