// Shared pieces of the zfkeras explorer page: DOM building, the JSON API,
// and the permanent link (the unit's run, layer and map in TensorBoard's URL).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function picture(src, title, cls = 'panel') {
  return el('img', {src, title, alt: title, class: cls});
}

export function note(text, cls = 'note') {
  return el('p', {class: cls}, text);
}

// GET (or POST with init) a route of the plugin; rejects with the server's message.
// A POST carries X-XSRF-Protected: 1, which the server requires (as TensorBoard's
// own POST routes do). A 503 (the server is busy) is retried after its Retry-After,
// a few times, before it is reported.
export async function api(route, params = {}, init = {}) {
  const query = new URLSearchParams(params).toString();
  if ((init.method || 'GET').toUpperCase() === 'POST') {
    init = {...init, headers: {...(init.headers || {}), 'X-XSRF-Protected': '1'}};
  }
  let response;
  for (let attempt = 0; ; attempt++) {
    response = await fetch(query ? `${route}?${query}` : route, init);
    if (response.status !== 503 || attempt >= 4) break;
    const wait = Number(response.headers.get('Retry-After')) || 2;
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 30) * 1000));
  }
  let body;
  try {
    body = await response.json();
  } catch (error) {
    body = {error: `${response.status} ${response.statusText}`};
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// What both views keep: where they draw, the run's info, the shared link state.
export class View {
  constructor(root, info, link) {
    this.root = root;
    this.info = info;
    this.link = link;
  }

  // A menu of registered methods (the server reads them from zfkeras' method
  // registry): by default those that explain units, as /unit and /project take.
  methodSelect(id, methods = this.info.methods, title = 'how the unit is shown') {
    const summaries = this.info.method_summaries || {};
    const select = el('select', {id, title});
    for (const method of methods) {
      select.append(el('option', {value: method, title: summaries[method] || method}, method));
    }
    if (this.link.method && methods.includes(this.link.method)) select.value = this.link.method;
    return select;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The permanent link lives in the parent (TensorBoard) page's hash, after the
// plugin's own id: #zfkeras&run=...&layer=...&map=...
const PLUGIN = 'zfkeras';
const LINK_KEYS = ['run', 'view', 'layer', 'map', 'method'];

function topLocation() {
  try {
    return window.parent.location;
  } catch (error) {
    return window.location;
  }
}

export function readLink() {
  const hash = topLocation().hash.replace(/^#/, '');
  const amp = hash.indexOf('&');
  const params = new URLSearchParams(amp >= 0 ? hash.slice(amp + 1) : '');
  const state = {};
  for (const key of LINK_KEYS) if (params.get(key) !== null) state[key] = params.get(key);
  return state;
}

export function linkFor(state) {
  const location = topLocation();
  const params = new URLSearchParams();
  for (const key of LINK_KEYS) if (state[key] !== undefined && state[key] !== null) params.set(key, state[key]);
  return `${location.origin}${location.pathname}${location.search}#${PLUGIN}&${params.toString()}`;
}

export function writeLink(state) {
  try {
    window.parent.history.replaceState(window.parent.history.state, '', linkFor(state));
  } catch (error) {
    // not inside TensorBoard's page (or another origin): the link is still shown on the page
  }
}
