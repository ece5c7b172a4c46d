// The 15-minute chart: one small SVG per label with busy slots (filled) and waiters (line),
// drawn from /ui/api/state's history. No library; text sits in HTML around the SVG so the SVG
// can stretch to any width (preserveAspectRatio none + non-scaling strokes).
import {el, reconcile, setAttr, setText} from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const WINDOW_SECONDS = 15 * 60;
const WIDTH = 900;
const HEIGHT = 100;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

// [{at, value}] of one label and one series, oldest first.
function series(points, label, field) {
  return points.map((p) => ({at: p.at, value: p.labels?.[label]?.[field] ?? 0}));
}

// The time axis covers the last 15 minutes, or less while the hub has not been up that long,
// so that a young hub's first samples are not a sliver at the right edge. Spans are multiples
// of three, so the ticks at thirds fall on round times.
const SPANS = [60, 3 * 60, 6 * 60, 9 * 60, WINDOW_SECONDS];

function span(points, now) {
  const age = points.length ? now - points[0].at : 0;
  return SPANS.find((s) => s >= age) ?? WINDOW_SECONDS;
}

function ago(seconds) {
  if (seconds <= 0) return 'now';
  return seconds >= 120 ? `−${Math.round(seconds / 60)} min` : `−${Math.round(seconds)} s`;
}

function coordinates(values, now, seconds, top) {
  const start = now - seconds;
  return values.filter((v) => v.at >= start - 5).map((v) => {
    const x = Math.min(WIDTH, Math.max(0, ((v.at - start) / seconds) * WIDTH));
    const y = HEIGHT - (Math.min(v.value, top) / top) * HEIGHT;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  });
}

function createChart() {
  const plot = svg('svg', {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none',
                           class: 'plot', role: 'img', focusable: 'false'});
  for (const y of [0, HEIGHT / 2]) {
    plot.append(svg('line', {x1: 0, x2: WIDTH, y1: y + 0.5, y2: y + 0.5, class: 'gridline'}));
  }
  plot.append(svg('line', {x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5, class: 'axis'}));
  plot.append(svg('polygon', {class: 'busy-area'}));
  plot.append(svg('polyline', {class: 'busy-line'}));
  plot.append(svg('polyline', {class: 'queue-line'}));
  const card = el('figure', {class: 'chart'},
                  el('figcaption', {},
                     el('span', {class: 'chart-label'}),
                     el('span', {class: 'chart-now'})),
                  el('div', {class: 'chart-body'},
                     el('span', {class: 'chart-scale', 'aria-hidden': 'true'},
                        el('span', {class: 'chart-top'}), el('span', {}, '0')),
                     plot),
                  el('div', {class: 'chart-axis', 'aria-hidden': 'true'},
                     el('span'), el('span'), el('span'), el('span')));
  return card;
}

function updateChart(card, {label, points, now, slotsTotal}) {
  const busy = series(points, label, 'busy');
  const queue = series(points, label, 'queue');
  const peakBusy = Math.max(0, ...busy.map((v) => v.value));
  const peakQueue = Math.max(0, ...queue.map((v) => v.value));
  const top = Math.max(1, slotsTotal || 0, peakBusy, peakQueue);
  const seconds = span(points, now);
  const busyXY = coordinates(busy, now, seconds, top);
  const queueXY = coordinates(queue, now, seconds, top);
  card.querySelectorAll('.chart-axis span').forEach((tick, i) => {
    setText(tick, ago((seconds * (3 - i)) / 3));
  });
  const line = (xy) => xy.map(([x, y]) => `${x},${y}`).join(' ');
  const [area, busyLine, queueLine] = card.querySelectorAll('polygon, polyline');
  const areaXY = busyXY.length ? [[busyXY[0][0], HEIGHT], ...busyXY,
                                  [busyXY[busyXY.length - 1][0], HEIGHT]] : [];
  setAttr(area, 'points', line(areaXY));
  setAttr(busyLine, 'points', line(busyXY));
  setAttr(queueLine, 'points', line(queueXY));
  const lastBusy = busy.length ? busy[busy.length - 1].value : 0;
  const lastQueue = queue.length ? queue[queue.length - 1].value : 0;
  setText(card.querySelector('.chart-label'), label);
  setText(card.querySelector('.chart-now'), `${lastBusy} busy · ${lastQueue} waiting`);
  setText(card.querySelector('.chart-top'), String(top));
  const plot = card.querySelector('svg');
  plot.dataset.points = String(busyXY.length);
  setAttr(plot, 'aria-label',
          `${label}, last ${ago(seconds).slice(1)}: ` +
              `busy slots now ${lastBusy}, at most ${peakBusy}; ` +
              `waiting now ${lastQueue}, at most ${peakQueue}`);
}

// labels: /ui/api/state's labels (for order and slot totals); history: its history.
export function renderCharts(container, labels, history, now) {
  const points = history?.points ?? [];
  const names = new Set(labels.map((l) => l.label));
  for (const p of points) for (const name of Object.keys(p.labels ?? {})) names.add(name);
  const totals = new Map(labels.map((l) => [l.label, l.slotsTotal]));
  const items = [...names].map((label) => ({label, points, now, slotsTotal: totals.get(label)}));
  reconcile(container, points.length ? items : [], (i) => i.label, createChart, updateChart);
  return points.length;
}
