/**
 * The cluster page's script (plain ES2020, runs as is in the browser). It builds the DOM with
 * textContent only: agent names and texts are free-form strings and must never become markup.
 */
export const CLUSTER_PAGE_SCRIPT = String.raw`
'use strict';
const $ = (id) => document.getElementById(id);
const keyInput = $('api-key');
keyInput.value = localStorage.getItem('edgerelay-api-key') || '';
keyInput.addEventListener('change', () => {
  localStorage.setItem('edgerelay-api-key', keyInput.value);
  restart();
});
const auth = () => (keyInput.value ? { authorization: 'Bearer ' + keyInput.value } : {});

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
const fmtMs = (v) => (v === null || v === undefined ? '-' : v.toFixed(1) + ' ms');
const pct = (v) => (100 * v).toFixed(0) + '%';
function fill(table, header, rows) {
  table.replaceChildren(el('tr', {}, ...header.map((h) => el('th', {}, h))), ...rows);
}

function renderTopology(view) {
  const box = $('topology');
  if (!view.stages.length) {
    box.replaceChildren('no plan yet');
    return;
  }
  const parts = [];
  view.stages.forEach((s, i) => {
    if (i > 0) parts.push(el('div', { class: 'arrow' }, '→'));
    const members = s.members.length
      ? s.members.map((m) => el('div', { class: 'member' }, m.agent + ': ' + m.heads.length + ' heads, ' + m.ffnColumns + ' FFN columns'))
      : [el('div', { class: 'member' }, 'whole layers')];
    parts.push(
      el('div', { class: 'stage', 'data-stage': String(i) },
        el('div', { class: 'layers' }, 'stage ' + i + ': layers ' + s.layers[0] + '–' + (s.layers[1] - 1)),
        el('div', {}, 'host ', el('b', {}, s.host)),
        ...members),
    );
  });
  box.classList.remove('muted');
  box.replaceChildren(...parts);
}

function renderAgents(view) {
  fill($('agents'), ['agent', 'state', 'device', 'load', 'free memory', 'last heartbeat', 'holds'],
    view.agents.map((a) =>
      el('tr', { 'data-agent': a.id },
        el('td', {}, a.id),
        el('td', {}, el('span', { class: 'state state-' + a.state }, a.state)),
        el('td', {}, a.device.cores ? a.device.cores + ' cores, ' + a.device.gflops.toFixed(1) + ' GFLOP/s, ' + a.device.memoryTotalMB + ' MB' : '-'),
        el('td', { class: 'num' }, a.loadAverage.toFixed(2)),
        el('td', { class: 'num' }, a.memoryFreeMB + ' MB'),
        el('td', { class: 'num' }, a.lastSeenMsAgo === null ? 'gone' : a.lastSeenMsAgo + ' ms ago'),
        el('td', {}, a.downReason || a.loadError || a.roles.join('; ') || '-'))));
}

function bars(container, entries, format) {
  const max = Math.max(...entries.map((e) => e[1]), 1e-9);
  container.classList.remove('muted');
  container.replaceChildren(...entries.map(([name, value]) =>
    el('div', { class: 'bar-row' }, el('span', {}, name),
      el('div', {}, el('div', { class: 'bar', style: 'width:' + (100 * value / max).toFixed(1) + '%' })),
      el('span', { class: 'num' }, format(value)))));
}

function render(view) {
  $('summary').textContent = 'plan ' + (view.planVersion === null ? 'none' : view.planVersion) + ' · ' + view.model.id +
    ' (' + view.model.numLayers + ' layers) · exit policy ' + view.exitPolicy + ' · wire ' + view.wireDtype;
  renderTopology(view);
  renderAgents(view);
  const r = view.recent;
  bars($('stage-latency'), Object.entries(r.stageMedianMs).map(([s, v]) => ['stage ' + s, v]), fmtMs);
  $('latency').textContent = r.requests + ' recent requests: p50 ' + fmtMs(r.p50Ms) + ', p95 ' + fmtMs(r.p95Ms) +
    (r.earlyExitShare === null ? '' : ', early exits ' + pct(r.earlyExitShare));
  if (r.requests) bars($('exits'), Object.entries(r.exitLayers).map(([l, v]) => ['layer ' + l, v]), pct);
  fill($('links'), ['link', 'bandwidth', 'latency'], view.links.map((l) =>
    el('tr', {}, el('td', {}, l.from + ' → ' + l.to), el('td', { class: 'num' }, l.bandwidthMbps.toFixed(0) + ' Mbit/s'),
      el('td', { class: 'num' }, fmtMs(l.latencyMs)))));
  fill($('recent'), ['time', 'label', 'score', 'exit layer', 'total', 'path'], view.requests.map((q) =>
    el('tr', {}, el('td', {}, new Date(q.at).toLocaleTimeString()), el('td', {}, q.label),
      el('td', { class: 'num' }, q.score.toFixed(3)), el('td', { class: 'num' }, q.exitLayer + (q.early ? ' (early)' : '')),
      el('td', { class: 'num' }, fmtMs(q.totalMs)),
      el('td', {}, q.path.map((h) => h.agent + (h.members.length ? ' + ' + h.members.join(', ') : '')).join(' → ')))));
}

let controller;
function setConnection(text, cls) {
  const c = $('connection');
  c.textContent = text;
  c.className = cls;
}
async function stream() {
  controller = new AbortController();
  const mine = controller;
  try {
    const res = await fetch('/v1/events', { headers: auth(), signal: mine.signal });
    if (res.status === 401) {
      setConnection('API key needed', 'lost');
      return;
    }
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    setConnection('live', 'live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data) render(JSON.parse(data));
      }
    }
  } catch (err) {
    if (mine.signal.aborted) return;
  }
  setConnection('connection lost: retrying', 'lost');
  setTimeout(() => { if (controller === mine) stream(); }, 2000);
}
function restart() {
  if (controller) controller.abort();
  stream();
  loadCalibration();
}

// The same chart as calibrate's PNG, drawn by the same Vega-Lite spec (the coordinator renders the SVG).
async function loadCalibration() {
  const box = $('calibration');
  try {
    const res = await fetch('/v1/calibration.svg', { headers: auth() });
    if (res.status === 404) {
      box.textContent = 'This deployment uses no calibration (start the coordinator with --exit-policy calibrated).';
      return;
    }
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const svg = await res.text();
    box.classList.remove('muted');
    box.replaceChildren(el('img', { alt: 'calibration curves', src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg) }));
  } catch (err) {
    box.textContent = 'could not load the calibration curves: ' + err.message;
  }
}

$('classify').addEventListener('submit', async (e) => {
  e.preventDefault();
  const answer = $('answer');
  answer.className = 'muted';
  answer.textContent = 'classifying…';
  try {
    const res = await fetch('/v1/classify', {
      method: 'POST',
      headers: Object.assign({ 'content-type': 'application/json' }, auth()),
      body: JSON.stringify({ inputs: $('text').value, parameters: { details: true } }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
    const best = body.results[0][0];
    const d = body.details[0];
    answer.className = '';
    answer.replaceChildren(
      el('span', { class: 'label', id: 'answer-label' }, best.label), ' ' + best.score.toFixed(3) + ' · answered at layer ' +
        d.exitLayer + (d.early ? ' (early exit)' : '') + ' in ' + fmtMs(d.totalMs) + ' · agents ',
      el('span', { id: 'answer-agents' }, d.agents.join(' → ')));
  } catch (err) {
    answer.className = 'error';
    answer.textContent = 'could not classify: ' + err.message;
  }
});
stream();
loadCalibration();
`;
