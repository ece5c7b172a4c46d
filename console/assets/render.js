// Draws one /ui/api/state answer into the page. Every value from the grid goes through
// textContent (el/setText); admin controls are created only when the viewer is an admin, so a
// read-only console has none in its DOM at all.
import {clockTime, duration, el, percent, reconcile, setText, shortId} from './dom.js';

const REASONS = [
  ['queue_full', 'queue full'], ['run_limit', 'run limit'], ['unsatisfiable', 'unsatisfiable'],
  ['no_wait', 'no wait'], ['timeout', 'timeout'], ['cancelled', 'cancelled'], ['failed', 'failed'],
];
const AVAILABILITY = [['UP', 'Up'], ['DRAINING', 'Draining'], ['DOWN', 'Down']];
const $ = (id) => document.getElementById(id);

function sum(items, f) {
  return items.reduce((total, item) => total + (Number(f(item)) || 0), 0);
}

function refusalTotal(label) {
  return sum(REASONS, ([key]) => label.refusals?.[key]);
}

export function renderSummary(state) {
  const labels = state.labels ?? [];
  const nodes = state.nodes ?? [];
  const sessions = sum(nodes, (n) => sum(n.slots ?? [], (s) => (s.sessions ?? []).length));
  const waiting = sum(labels, (l) => l.queueLength);
  const oldest = Math.max(-1, ...labels.map((l) => l.oldestWaitSeconds ?? -1));
  const count = (a) => nodes.filter((n) => n.availability === a).length;
  setText($('fig-sessions'), sessions);
  const busy = sum(labels, (l) => l.slotsBusy);
  setText($('fig-slots'), `${busy} / ${sum(labels, (l) => l.slotsTotal)}`);
  setText($('fig-queue'), waiting);
  setText($('fig-oldest'), oldest < 0 ? '–' : duration(oldest));
  setText($('fig-nodes'), count('UP'));
  const others = [count('DRAINING') && `${count('DRAINING')} draining`,
                  count('DOWN') && `${count('DOWN')} down`].filter(Boolean);
  setText($('fig-nodes-name'), ['nodes up', ...others].join(' · '));
  setText($('fig-refusals'), sum(labels, refusalTotal));
  $('fig-queue').parentElement.dataset.alert = waiting > 0 ? 'warn' : '';
  $('fig-nodes').parentElement.dataset.alert = count('DOWN') > 0 ? 'bad' : '';
}

// --- labels ---------------------------------------------------------------------------------

function createLabelRow({admin}) {
  const cells = [
    el('th', {scope: 'row', class: 'label-name'}),
    el('td', {class: 'num big', dataset: {field: 'queue', title: 'Waiting'}}),
    el('td', {class: 'num', dataset: {field: 'oldest', title: 'Oldest wait'}}),
    el('td', {class: 'num', dataset: {field: 'running', title: 'Running / cap'}}),
    el('td', {dataset: {field: 'util', title: 'Utilisation'}},
       el('span', {class: 'bar', 'aria-hidden': 'true'}, el('span', {class: 'fill'})),
       el('span', {class: 'bar-text'})),
    el('td', {dataset: {field: 'refusals', title: 'Refusals'}}),
  ];
  if (admin) {
    const form = el('form', {class: 'cap-form', dataset: {action: 'cap'}},
                    el('label', {class: 'visually-hidden'}),
                    el('input', {type: 'number', min: '0', step: '1', inputmode: 'numeric',
                                 name: 'cap', placeholder: 'none'}),
                    el('button', {type: 'submit', class: 'small'}, 'Set cap'));
    cells.push(el('td', {class: 'cap-cell', dataset: {title: 'Change cap'}}, form));
  }
  return el('tr', {}, ...cells);
}

function updateLabelRow(row, {label, admin}) {
  const field = (name) => row.querySelector(`[data-field="${name}"]`);
  setText(row.firstElementChild, label.label);
  setText(field('queue'), label.queueLength);
  field('queue').dataset.alert = label.queueLength > 0 ? 'warn' : '';
  const oldest = label.oldestWaitSeconds;
  setText(field('oldest'), oldest == null ? '–' : duration(oldest));
  setText(field('running'), `${label.running} / ${label.cap > 0 ? label.cap : 'no cap'}`);
  const util = field('util');
  util.querySelector('.fill').style.width = percent(label.utilization).replace(' ', '');
  setText(util.querySelector('.bar-text'),
          `${percent(label.utilization)} · ${label.slotsBusy}/${label.slotsTotal} slots`);
  const refusals = REASONS.filter(([key]) => label.refusals?.[key] > 0);
  const cell = field('refusals');
  const summary = refusals.map(([key, name]) => `${key}:${label.refusals[key]}:${name}`).join();
  if (cell.dataset.summary !== summary) {
    cell.dataset.summary = summary;
    cell.replaceChildren(...(refusals.length ? refusals.map(([key, name]) =>
        el('span', {class: 'chip', dataset: {reason: key}}, `${name} ${label.refusals[key]}`))
                                             : [el('span', {class: 'muted'}, 'none')]));
  }
  if (admin) {
    const form = row.querySelector('form');
    form.dataset.label = label.label;
    const input = form.querySelector('input');
    input.id = `cap-${row.dataset.key ?? label.label}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const caption = form.querySelector('label');
    caption.htmlFor = input.id;
    setText(caption, `Concurrency cap for ${label.label}`);
  }
}

export function renderLabels(state, admin) {
  const labels = state.labels ?? [];
  $('labels-empty').hidden = labels.length > 0;
  const head = document.querySelector('#labels-table thead tr');
  const capHead = head.querySelector('.cap-head');
  if (admin && !capHead) head.append(el('th', {scope: 'col', class: 'cap-head'}, 'Change cap'));
  if (!admin && capHead) capHead.remove();
  reconcile($('labels-body'), labels.map((label) => ({label, admin})),
            (i) => `${admin ? 'a' : 'r'}:${i.label.label}`, createLabelRow, updateLabelRow);
}

// --- queue ----------------------------------------------------------------------------------

function createWaiter({admin}) {
  return el('li', {class: 'waiter'},
            el('span', {class: 'position'}),
            el('span', {class: 'waiter-main'},
               el('span', {class: 'waiter-browser'}), el('span', {class: 'waiter-meta'})),
            el('span', {class: 'waiter-wait num'}),
            admin ? el('button', {type: 'button', class: 'small danger',
                                  dataset: {action: 'cancel'}}, 'Cancel') : null);
}

function updateWaiter(item, {waiter, label}) {
  item.dataset.waiter = waiter.id;
  const position = item.querySelector('.position');
  setText(position, `#${waiter.position}`);
  position.title = `position ${waiter.position} in ${label}`;
  const browser = [waiter.browserName || 'any browser', waiter.browserVersion].filter(Boolean);
  setText(item.querySelector('.waiter-browser'), browser.join(' '));
  const meta = [`${waiter.kind === 'ticket' ? 'ticket' : 'request'} ${waiter.id}`,
                waiter.runId ? `run ${waiter.runId}` : null].filter(Boolean);
  setText(item.querySelector('.waiter-meta'), meta.join(' · '));
  setText(item.querySelector('.waiter-wait'), duration(waiter.waitSeconds));
  const cancel = item.querySelector('button');
  if (cancel) {
    cancel.dataset.waiter = waiter.id;
    cancel.dataset.label = label;
    cancel.setAttribute('aria-label', `Cancel waiter ${waiter.id} (${label}, #${waiter.position})`);
  }
}

function createQueueGroup() {
  return el('div', {class: 'queue-group'},
            el('h3', {}, el('span', {class: 'group-label'}), el('span', {class: 'count'})),
            el('ol', {class: 'waiters'}));
}

function updateQueueGroup(group, {label, waiters, admin}) {
  setText(group.querySelector('.group-label'), label);
  setText(group.querySelector('.count'), waiters.length);
  reconcile(group.querySelector('ol'), waiters.map((waiter) => ({waiter, label, admin})),
            (i) => `${admin ? 'a' : 'r'}:${i.waiter.id}`, createWaiter, updateWaiter);
}

export function renderQueue(state, admin) {
  const groups = (state.queue ?? []).filter((g) => (g.waiters ?? []).length > 0);
  const total = sum(groups, (g) => g.waiters.length);
  setText($('queue-count'), total || '');
  $('queue-empty').hidden = total > 0;
  reconcile($('queue-groups'), groups.map((g) => ({...g, admin})), (g) => g.label,
            createQueueGroup, updateQueueGroup);
  const actions = $('queue-actions');
  const clear = actions.querySelector('button');
  if (admin && !clear) {
    actions.append(el('button', {type: 'button', class: 'danger', dataset: {action: 'clear'}},
                      'Clear queue'));
  }
  if (!admin && clear) clear.remove();
  if (admin) actions.querySelector('button').disabled = total === 0;
}

// --- nodes ----------------------------------------------------------------------------------

function sessionRow({session, slot}, now) {
  const browser = [session.browserName, session.browserVersion].filter(Boolean).join(' ');
  const lastEvent = session.lastEvent ?
      `${session.lastEvent.type} (${duration(now - session.lastEvent.at)} ago)` : '–';
  const idle = session.lastCommandAt == null ? 'none yet' : duration(now - session.lastCommandAt);
  return el('tr', {class: 'session', dataset: {session: session.id}},
            el('td', {class: 'mono', title: session.id}, shortId(session.id)),
            el('td', {}, slot.id), el('td', {}, session.label), el('td', {}, browser || '–'),
            el('td', {}, session.runId || '–'),
            el('td', {class: 'num'}, duration(now - session.startedAt)),
            el('td', {class: 'num'}, idle), el('td', {}, lastEvent));
}

// One pill per slot (busy ones filled): a node's capacity at a glance, while the table below
// lists only what runs — a wall of free-slot rows would hide the sessions.
function slotPill(slot) {
  const busy = (slot.sessions ?? []).length;
  return el('li', {class: 'slot', dataset: {busy: busy > 0 ? 'true' : 'false'}},
            el('span', {class: 'slot-id'}, slot.id), el('span', {}, slot.label),
            el('span', {class: 'slot-load'}, `${busy}/${slot.maxSessions}`));
}

const SESSION_COLUMNS = [['Session'], ['Slot'], ['Label'], ['Browser'], ['Run'], ['Age', true],
                         ['Since command', true], ['Last event']];

function createNode({admin}) {
  return el('article', {class: 'node'},
            el('header', {class: 'node-head'},
               el('h4', {class: 'node-id'}), el('span', {class: 'availability'}),
               el('span', {class: 'node-load'}),
               admin ? el('button', {type: 'button', class: 'small danger',
                                     dataset: {action: 'drain'}}, 'Drain') : null),
            el('p', {class: 'node-uri mono'}),
            el('ul', {class: 'slots'}),
            el('div', {class: 'scroll', role: 'region', tabindex: '0'},
               el('table', {class: 'sessions'},
                  el('thead', {}, el('tr', {}, ...SESSION_COLUMNS.map(([h, numeric]) =>
                      el('th', {scope: 'col', class: numeric ? 'num' : null}, h)))),
                  el('tbody'))));
}

function updateNode(card, {node, now}) {
  const slots = node.slots ?? [];
  const sessions = slots.flatMap((slot) => (slot.sessions ?? []).map((session) => ({session,
                                                                                     slot})));
  card.dataset.availability = node.availability;
  setText(card.querySelector('.node-id'), node.id);
  setText(card.querySelector('.availability'), node.availability);
  setText(card.querySelector('.node-load'), `${sessions.length} / ${node.maxSessions} sessions`);
  setText(card.querySelector('.node-uri'), node.uri);
  const pills = card.querySelector('.slots');
  pills.setAttribute('aria-label', `Slots of ${node.id}`);
  pills.replaceChildren(...slots.map(slotPill));
  const table = card.querySelector('.scroll');
  table.hidden = sessions.length === 0;
  table.setAttribute('aria-label', `Sessions on ${node.id}`);
  card.querySelector('tbody').replaceChildren(...sessions.map((s) => sessionRow(s, now)));
  const drain = card.querySelector('[data-action="drain"]');
  if (drain) {
    drain.dataset.node = node.id;
    drain.hidden = node.availability !== 'UP';
    drain.setAttribute('aria-label', `Drain node ${node.id}`);
  }
}

function createAvailabilityGroup() {
  return el('div', {class: 'node-group'}, el('h3', {}), el('div', {class: 'node-cards'}));
}

function updateAvailabilityGroup(group, {name, nodes, now, admin}) {
  setText(group.querySelector('h3'), `${name} (${nodes.length})`);
  reconcile(group.querySelector('.node-cards'), nodes.map((node) => ({node, now, admin})),
            (i) => `${admin ? 'a' : 'r'}:${i.node.id}`, createNode, updateNode);
}

export function renderNodes(state, admin) {
  const nodes = state.nodes ?? [];
  setText($('nodes-count'), nodes.length || '');
  $('nodes-empty').hidden = nodes.length > 0;
  const groups = AVAILABILITY.map(([value, name]) => ({
    name, value, admin, now: state.now,
    nodes: nodes.filter((n) => n.availability === value).sort((a, b) => (a.id < b.id ? -1 : 1)),
  })).filter((g) => g.nodes.length > 0);
  reconcile($('nodes'), groups, (g) => g.value, createAvailabilityGroup, updateAvailabilityGroup);
}

// --- events ---------------------------------------------------------------------------------

const EVENT_TONE = {
  granted: 'good', session_ended: 'info', refused: 'bad', timeout: 'bad', failed: 'bad',
  cancelled: 'warn', node_up: 'good', node_down: 'bad', node_draining: 'warn',
  node_removed: 'info',
};

function eventItem(event, now) {
  const subject = [event.label && `label ${event.label}`,
                   event.nodeId && `node ${event.nodeId}`,
                   event.sessionId && `session ${shortId(event.sessionId)}`,
                   event.runId && `run ${event.runId}`].filter(Boolean).join(' · ');
  const detail = event.reason || event.message ?
      el('span', {class: 'event-detail'},
         event.reason ? el('span', {class: 'reason'}, event.reason) : null,
         event.message || null) : null;
  const tone = EVENT_TONE[event.kind] ?? 'info';
  return el('li', {class: 'event', dataset: {kind: event.kind, tone}},
            el('time', {datetime: new Date(event.at * 1000).toISOString(),
                        title: `${duration(now - event.at)} ago`}, clockTime(event.at)),
            el('span', {class: 'kind'}, event.kind.replace('_', ' ')),
            el('span', {class: 'event-text'},
               el('span', {class: 'event-subject'}, subject),
               detail));
}

export function renderEvents(state) {
  const events = state.events ?? [];
  $('events-empty').hidden = events.length > 0;
  const list = $('events');
  const signature = events.length ? JSON.stringify([events.length, events[0]]) : '';
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  list.replaceChildren(...events.map((e) => eventItem(e, state.now)));
}
