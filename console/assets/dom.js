// DOM helpers of the console. Grid data is attacker-controlled text (labels, run ids,
// capabilities), so everything here writes with textContent and attributes, never HTML.

// el('td', {class: 'num', dataset: {key: 'x'}}, 'text', childNode, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Writes only on change: no needless layout, and screen readers hear real changes only.
export function setText(node, value) {
  const text = value === undefined || value === null ? '' : String(value);
  if (node.textContent !== text) node.textContent = text;
}

export function setAttr(node, name, value) {
  const text = String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

// Keeps one child of `container` per key, in the order of `items`: existing children are
// updated in place (a focused button or an input being typed into survives the next poll),
// new ones created, vanished ones removed.
export function reconcile(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of Array.from(container.children)) {
    if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
    else child.remove();
  }
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    let node = existing.get(key);
    if (node) {
      existing.delete(key);
    } else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (node !== cursor) container.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const gone of existing.values()) gone.remove();
}

// 7 s, 4 min 05 s, 2 h 10 min — compact enough for a wall screen and still exact.
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function clockTime(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit',
                                   hour12: false});
}

export function percent(fraction) {
  if (!Number.isFinite(fraction)) return '–';
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)} %`;
}

// Session ids are 32 hex digits: the first 8 tell them apart on screen, the title has all.
export function shortId(id) {
  const text = String(id ?? '');
  return text.length > 12 ? `${text.slice(0, 8)}…` : text;
}
