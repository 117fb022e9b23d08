/*
 * The ortak dashboard: plain JavaScript, ECharts for the charts (vendored, served by ortakd).
 *
 * Live updates by polling: the visible view's JSON endpoint every POLL_MS while the page is visible. Polling, not
 * server-sent events, because an EventSource cannot send the Authorization header of demo mode, and a request
 * that ends keeps no server connection open. The server decides what each caller may see; the page only hides
 * the views whose endpoints would refuse it.
 */
'use strict';

const POLL_MS = 2000;
const TOKEN_KEY = 'ortak.token';
const $ = (id) => document.getElementById(id);
const state = { me: null, view: 'overview', timer: null, charts: {}, overview: {}, cur: {}, busy: false };

/* ---- HTTP ---------------------------------------------------------------------------------------------------- */

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.method && opts.method !== 'GET') {
    headers['Idempotency-Key'] = opts.key || `dash-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
  }
  const resp = await fetch(path, {
    method: opts.method || 'GET', headers, cache: 'no-store',
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  const text = await resp.text();
  let body = null;
  if (text && (resp.headers.get('Content-Type') || '').startsWith('application/json')) body = JSON.parse(text);
  else body = text;
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

/* ---- formatting ---------------------------------------------------------------------------------------------- */

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
};
const nf = new Intl.NumberFormat('en-US');
const fmtInt = (n) => nf.format(n || 0);
/* minor units (integer) as a major-unit number, for charts only */
const major = (minor, mu) => (minor === null || minor === undefined ? null : Number(minor) / 10 ** mu);
const fmtMinor = (minor, mu) => nf.format(major(minor, mu) || 0);
const cf = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const fmtCompact = (minor, mu) => cf.format(major(minor, mu) || 0);
/* a decimal amount string from the API, with thousands separators */
const fmtAmount = (s) => {
  if (typeof s !== 'string') return '';
  const [w, f] = s.split('.');
  const neg = w.startsWith('-');
  const digits = (neg ? w.slice(1) : w).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg ? '-' : '') + digits + (f ? `.${f}` : '');
};
const fmtTime = (t) => (t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z').slice(0, 20) : '');
const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
const statusCell = (s) => el('td', { class: `status-${s}` }, s);
const pct = (x) => `${(100 * x).toFixed(2)} %`;

function status(text, isError) {
  $('status').textContent = text;
  $('live').className = `live ${isError ? 'err' : 'on'}`;
}

function kpi(label, value, small, testid) {
  return el('div', { class: 'kpi', 'data-testid': testid }, el('div', { class: 'label' }, label),
    el('div', { class: 'value' }, value), small ? el('div', { class: 'small' }, small) : null);
}

function fillTable(table, rows) {
  const tb = table.tBodies[0];
  tb.replaceChildren(...rows);
}

function fillSelect(sel, codes) {
  const keep = sel.value;
  const have = [...sel.options].map((o) => o.value).join(',');
  if (have !== codes.join(',')) sel.replaceChildren(...codes.map((c) => el('option', { value: c }, c)));
  if (codes.includes(keep)) sel.value = keep;
}

function chart(id) {
  if (!window.echarts) return null;
  if (!state.charts[id]) state.charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
  return state.charts[id];
}

window.addEventListener('resize', () => Object.values(state.charts).forEach((c) => c.resize()));

const baseChart = () => ({
  animation: false,
  tooltip: { trigger: 'axis' },
  legend: { type: 'scroll', top: 0 },
  grid: { left: 60, right: 20, top: 36, bottom: 30 },
  xAxis: { type: 'category' },
  yAxis: { type: 'value', axisLabel: { formatter: (v) => cf.format(v) } },
});

/* ---- views --------------------------------------------------------------------------------------------------- */

/* Overview: the first load takes the whole day, later ones the minutes from the last one seen. */
async function showOverview() {
  const from = state.overview.last !== undefined ? Math.max(0, state.overview.last - 1) : 0;
  const o = await api(`/v1/dashboard/overview?from_minute=${from}`);
  if (state.overview.day !== o.day) state.overview = { day: o.day, series: {} };
  let last = 0;
  for (const c of o.currencies) {
    const s = c.series;
    const into = (state.overview.series[c.code] = state.overview.series[c.code] || new Map());
    s.minute.forEach((m, i) => {
      into.set(m, { settled: s.settled[i], value: s.value[i], rejected: s.rejected[i] });
      last = Math.max(last, m);
    });
    state.cur[c.code] = c.minor_units;
  }
  state.overview.last = last;
  const active = o.currencies.filter((c) => c.settled || c.rejected || c.queued_now || c.accepted || c.held);
  const quiet = o.currencies.filter((c) => !active.includes(c)).map((c) => c.code);
  const sum = (k) => o.currencies.reduce((t, c) => t + (c[k] || 0), 0);
  const own = o.scope === 'own';
  const cards = [
    kpi(own ? 'Your payments sent today' : 'Payments settled today', fmtInt(sum('settled')),
      `${fmtInt(sum('rejected'))} rejected${own ? '' : ` · ${fmtInt(sum('held'))} held by screening`}`, 'kpi-settled'),
    kpi('Queued now', own ? '—' : fmtInt(sum('queued_now')), own ? 'see Queues' : 'all currencies shown', 'kpi-queued'),
    kpi('Payment requests p99', `${o.latency.p99_ms} ms`,
      `p50 ${o.latency.p50_ms} ms · ${fmtInt(o.latency.requests)} requests since start`, 'kpi-latency'),
  ];
  if (quiet.length) cards.push(kpi('No payment today', quiet.join(' · '), null, 'kpi-quiet'));
  const num = (testid, text, title) => el('td', { class: 'num', 'data-testid': testid, title },
    el('span', { class: 'value' }, text));
  fillTable($('ov-table'), active.map((c) => el('tr', { 'data-code': c.code }, el('th', { scope: 'row' }, c.code),
    num(`kpi-${c.code}-settled`, fmtInt(c.settled)),
    num(`kpi-${c.code}-value`, fmtCompact(c.value, c.minor_units), fmtMinor(c.value, c.minor_units)),
    num(`kpi-${c.code}-rejected`, fmtInt(c.rejected)),
    num(`kpi-${c.code}-queued`, own ? '—' : fmtInt(c.queued_now)),
    num(`kpi-${c.code}-share`, pct(c.settled_share)),
    num(`kpi-${c.code}-wait`, own ? '—' : `${fmtInt(c.queue_delay_p99_ms)} ms`))));
  $('ov-kpis').replaceChildren(...cards);
  const codes = o.currencies.map((c) => c.code);
  const byValue = [...active].sort((a, b) => b.value - a.value).map((c) => c.code);
  fillSelect($('ov-cur'), [...byValue, ...quiet]);
  $('ov-note').textContent = o.scope === 'own'
    ? `Your own accounts, by hour (${o.day}).`
    : `Business day ${o.day} (UTC), per minute; ${o.scope === 'currency' ? 'your currency' : 'every currency'}.`;
  const minutes = new Set();
  Object.values(state.overview.series).forEach((m) => m.forEach((_, k) => minutes.add(k)));
  const axis = [...minutes].sort((a, b) => a - b);
  const cc = chart('ov-count');
  if (cc) {
    const opt = baseChart();
    opt.xAxis.data = axis.map(hhmm);
    opt.series = codes.filter((code) => !quiet.includes(code)).map((code) => ({ name: code, type: 'line',
      showSymbol: axis.length < 30, stack: 'n', areaStyle: {},
      data: axis.map((m) => (state.overview.series[code].get(m) || {}).settled || 0) }));
    cc.setOption(opt, true);
  }
  const sel = $('ov-cur').value;
  const cv = chart('ov-value');
  if (cv && sel) {
    const opt = baseChart();
    opt.xAxis.data = axis.map(hhmm);
    opt.series = [{ name: `${sel} settled`, type: 'bar', data: axis.map((m) => major((state.overview.series[sel].get(m) || {}).value || 0, state.cur[sel])) }];
    cv.setOption(opt, true);
  }
}

async function showLiquidity() {
  const l = await api('/v1/dashboard/liquidity');
  const rows = l.accounts.map((a) => el('tr', { 'data-bic': a.bic },
    el('td', {}, a.bic), el('td', {}, a.name || ''), el('td', {}, a.currency),
    el('td', { class: 'num' }, fmtAmount(a.balance)), el('td', { class: 'num' }, fmtAmount(a.available)),
    el('td', { class: 'num' }, fmtAmount(a.credit_line)), el('td', { class: 'num' }, fmtAmount(a.reserved)),
    el('td', { class: 'num' }, fmtInt(a.queued ? a.queued.count : 0)),
    el('td', { class: 'num' }, fmtAmount(a.queued ? a.queued.value : '0'))));
  fillTable($('lq-table'), rows);
  const n = (code) => l.accounts.filter((a) => a.currency === code).length;
  const codes = [...new Set(l.accounts.map((a) => a.currency))].sort((a, b) => n(b) - n(a));
  fillSelect($('lq-cur'), codes);
  const sel = $('lq-cur').value;
  const c = chart('lq-chart');
  if (!c || !sel) return;
  const opt = baseChart();
  opt.xAxis.data = l.samples.minute.map(hhmm);
  const mine = Object.values(l.samples.accounts).filter((s) => s.currency === sel);
  /* the largest balances: a wall screen has room for a dozen lines */
  mine.sort((a, b) => Math.max(...b.balance, 0) - Math.max(...a.balance, 0));
  const few = l.samples.minute.length < 30;
  opt.series = mine.slice(0, 12).map((s) => ({ name: `${s.bic} balance`, type: 'line', showSymbol: few,
    data: s.balance.map((v) => major(v, s.minor_units)) }));
  const queued = mine.map((s) => s.queued_value);
  if (queued.length) {
    opt.series.push({ name: 'queued value (all shown)', type: 'line', showSymbol: few, lineStyle: { type: 'dashed' },
      data: l.samples.minute.map((_, i) => major(queued.reduce((t, q) => t + (q[i] || 0), 0), mine[0].minor_units)) });
  }
  c.setOption(opt, true);
}

async function showQueues() {
  const q = await api('/v1/dashboard/queues');
  $('q-totals').replaceChildren(...Object.entries(q.totals).map(([code, t]) =>
    kpi(`${code} queued`, fmtInt(t.count), `value ${fmtAmount(t.value)}`, `qt-${code}`)));
  const pr = (a, p) => `${fmtInt(a.by_priority[p].count)} · ${fmtAmount(a.by_priority[p].value)}`;
  fillTable($('q-table'), q.queues.map((a) => el('tr', { 'data-bic': a.bic },
    el('td', {}, a.bic), el('td', {}, a.currency), el('td', { class: 'num' }, pr(a, 'highly_urgent')),
    el('td', { class: 'num' }, pr(a, 'urgent')), el('td', { class: 'num' }, pr(a, 'normal')),
    el('td', {}, a.head.slice(0, 3).map((p) => `${fmtAmount(p.amount)} → ${p.creditor_agent}`).join('; ')))));
  $('q-empty').hidden = q.queues.length > 0;
  fillTable($('q-runs'), q.gridlock_runs.map((r) => el('tr', {}, el('td', {}, fmtTime(r.at)), el('td', {}, r.currency),
    el('td', {}, r.mode), el('td', { class: 'num' }, fmtInt(r.queued)), el('td', { class: 'num' }, fmtInt(r.settled)),
    el('td', { class: 'num' }, fmtAmount(r.value)))));
}

async function showFlows() {
  const f = await api('/v1/dashboard/flows');
  const count = (code) => f.flows.filter((x) => x.currency === code).reduce((t, x) => t + x.count, 0);
  const codes = f.currencies.map((c) => c.code).filter((c) => count(c) > 0).sort((a, b) => count(b) - count(a));
  fillSelect($('fl-cur'), codes);
  const mu = Object.fromEntries(f.currencies.map((c) => [c.code, c.minor_units]));
  const sel = $('fl-cur').value;
  const shown = f.flows.filter((x) => x.currency === sel).sort((a, b) => b.value - a.value);
  fillTable($('fl-table'), shown.map((x) => el('tr', {}, el('td', {}, x.from), el('td', {}, x.to),
    el('td', {}, x.currency), el('td', { class: 'num' }, fmtInt(x.count)),
    el('td', { class: 'num' }, fmtMinor(x.value, mu[x.currency])))));
  const c = chart('fl-chart');
  if (!c) return;
  /* payers' countries on the left, payees' on the right: a sankey needs no cycle, so each side has its own nodes */
  const nodes = new Set();
  const links = shown.map((x) => {
    nodes.add(`${x.from} pays`);
    nodes.add(`${x.to} receives`);
    return { source: `${x.from} pays`, target: `${x.to} receives`, value: major(x.value, mu[x.currency]) };
  });
  c.setOption({
    animation: false,
    tooltip: { trigger: 'item' },
    series: [{ type: 'sankey', data: [...nodes].map((name) => ({ name })), links, emphasis: { focus: 'adjacency' },
      lineStyle: { color: 'gradient', curveness: 0.5 }, label: { fontSize: 14 } }],
  }, true);
}

async function showWindows() {
  const codes = Object.keys(state.cur).length ? Object.keys(state.cur)
    : (await api('/v1/dashboard/overview?from_minute=1439')).currencies.map((c) => c.code);
  const open = [];
  const closed = [];
  for (const code of codes) {
    let w;
    try {
      w = await api(`/v1/net/windows/${code}`);
    } catch (e) {
      continue;
    }
    open.push(el('tr', {}, el('td', {}, code), el('td', {}, w.id), el('td', {}, fmtTime(w.opened_at)),
      el('td', { class: 'num' }, fmtInt(w.payments)), el('td', { class: 'num' }, fmtInt(w.participants)),
      el('td', { class: 'num' }, fmtAmount(w.gross))));
    if (w.id > 1) {
      try {
        const rep = await api(`/v1/net/windows/${code}/report?id=${w.id - 1}`);
        if (!rep.positions.length) continue;
        closed.push(el('h3', {}, `${code} window ${rep.window.id}, closed ${fmtTime(rep.window.closed_at)}: `
          + `${fmtInt(rep.window.payments)} payments, ${fmtAmount(rep.window.moved)} moved`));
        const t = el('table', {}, el('thead', {}, el('tr', {}, ...['Participant', 'Sent', 'Received', 'Net',
          'From collateral'].map((h, i) => el('th', { class: i ? 'num' : '' }, h)))), el('tbody'));
        fillTable(t, rep.positions.map((p) => el('tr', {}, el('td', {}, p.bic), el('td', { class: 'num' }, fmtAmount(p.sent)),
          el('td', { class: 'num' }, fmtAmount(p.received)), el('td', { class: 'num' }, fmtAmount(p.net)),
          el('td', { class: 'num' }, fmtAmount(p.from_collateral)))));
        closed.push(el('div', { class: 'scroll' }, t));
      } catch (e) { /* not this caller's to read */ }
    }
  }
  fillTable($('nw-open'), open);
  $('nw-closed').replaceChildren(...(closed.length ? closed : [el('p', { class: 'empty' }, 'No window closed yet today.')]));
}

async function showPayments() {
  const q = $('pay-q').value.trim();
  const bic = $('pay-bic').value.trim().toUpperCase();
  const params = new URLSearchParams({ limit: '50' });
  if (q) params.set('q', q);
  if (bic) params.set('bic', bic);
  const r = await api(`/v1/dashboard/payments?${params}`);
  fillTable($('pay-table'), r.payments.map((p) => el('tr', { class: 'clickable', 'data-id': p.id, tabindex: '0',
    onclick: () => showPayment(p.id), onkeydown: (ev) => { if (ev.key === 'Enter') showPayment(p.id); } },
  el('td', {}, fmtTime(p.received_at)), el('td', {}, p.uetr), el('td', {}, p.debtor_agent), el('td', {}, p.creditor_agent),
  el('td', {}, p.currency), el('td', { class: 'num' }, fmtAmount(p.amount)), el('td', {}, p.priority), statusCell(p.status))));
}

async function showPayment(id) {
  const p = await api(`/v1/dashboard/payments/${id}`);
  const kv = el('dl', { class: 'kv' });
  for (const k of ['id', 'uetr', 'status', 'debtor_agent', 'creditor_agent', 'currency', 'amount', 'priority', 'method',
    'received_at', 'ended_at', 'reason', 'message']) {
    if (p[k] !== undefined && p[k] !== null) kv.append(el('dt', {}, k.replace(/_/g, ' ')), el('dd', {}, p[k]));
  }
  const ev = el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'At'), el('th', {}, 'Event'))), el('tbody'));
  fillTable(ev, p.events.map((e) => el('tr', {}, el('td', {}, fmtTime(e.at)), el('td', {}, e.event))));
  const msgs = p.messages.map((m) => el('li', {}, `${m.direction} ${m.type} from ${m.sender}: MsgId ${m.msg_id}, EndToEndId ${m.end_to_end_id}`));
  $('pay-detail-body').replaceChildren(kv, el('h3', {}, 'Events'), ev, el('h3', {}, 'Messages'),
    msgs.length ? el('ul', {}, ...msgs) : el('p', { class: 'empty' }, 'Sent as JSON: no ISO 20022 message.'));
  $('pay-detail').hidden = false;
}

async function decide(id, what, button) {
  button.disabled = true;
  try {
    const p = await api(`/v1/screening/holds/${id}/${what}`, { method: 'POST', key: `dash-${what}-${id}` });
    status(`payment ${p.uetr || id}: ${p.status}`);
  } catch (e) {
    status(`${what} failed: ${e.message}`, true);
  }
  await refresh();
}

async function showScreening() {
  let r;
  try {
    r = await api('/v1/screening/holds');
  } catch (e) {
    if (e.status === 404) {
      $('sc-note').textContent = 'Screening is not enabled on this server.';
      fillTable($('sc-table'), []);
      $('sc-empty').hidden = true;
      return;
    }
    throw e;
  }
  const operator = state.me.role === 'operator';
  $('sc-note').textContent = operator ? 'Release lets the payment settle (or queue); reject returns it (RR04).'
    : 'Only the operator releases or rejects a held payment.';
  /* the hit's fields: flat, or in the payment's "screening" object */
  const hit = (h, k) => (h[k] !== undefined ? h[k] : (h.screening || {})[k]);
  fillTable($('sc-table'), r.holds.map((h) => el('tr', { 'data-id': h.id },
    el('td', {}, fmtTime(h.held_at || h.received_at)), el('td', {}, h.uetr), el('td', {}, h.debtor_agent),
    el('td', {}, h.creditor_agent), el('td', {}, h.currency), el('td', { class: 'num' }, fmtAmount(h.amount)),
    el('td', {}, hit(h, 'party') || ''), el('td', {}, hit(h, 'list') || ''), el('td', {}, hit(h, 'entry_id') || ''),
    el('td', { class: 'num' }, hit(h, 'score') !== undefined ? Number(hit(h, 'score')).toFixed(2) : ''),
    el('td', {}, operator ? el('span', {},
      el('button', { type: 'button', 'data-testid': `release-${h.id}`, onclick: (ev) => decide(h.id, 'release', ev.target) }, 'Release'), ' ',
      el('button', { type: 'button', class: 'danger', 'data-testid': `reject-${h.id}`, onclick: (ev) => decide(h.id, 'reject', ev.target) }, 'Reject'))
      : '—'))));
  $('sc-empty').hidden = r.holds.length > 0;
}

async function showHealth() {
  const h = await api('/v1/dashboard/health');
  const s = h.sequencer;
  $('h-kpis').replaceChildren(
    kpi('Journal head', `#${fmtInt(h.journal.head_seq)}`, `engine time ${fmtTime(h.journal.engine_time)}`, 'h-head'),
    kpi('Sequencer', `${fmtInt(s.batches)} batches`, `${fmtInt(s.commands)} commands · ${s.queued} waiting`, 'h-seq'),
    kpi('Journal sync', `${s.sync_mean_ms.toFixed(3)} ms mean`, `max ${s.sync_max_ms.toFixed(3)} ms · ${fmtInt(s.syncs)} syncs`, 'h-sync-kpi'),
    kpi('Outboxes', `${fmtInt(h.outbox_pending)} pending`, `${fmtInt(h.inbound_messages)} inbound messages kept`, 'h-outbox'),
    kpi('Server', h.ready ? 'ready' : 'not ready', `${h.connections} connections · up ${fmtInt(h.uptime_s)} s`, 'h-server'),
    kpi('Dashboard', `#${fmtInt(h.dashboard.events_seq)}`, `saved at #${fmtInt(h.dashboard.saved_seq)}`, 'h-dash'));
  const c = chart('h-sync');
  if (c) {
    const opt = baseChart();
    opt.legend = { show: false };
    opt.xAxis.data = s.sync_buckets.map((_, k) => (k === s.sync_buckets.length - 1 ? 'more' : `≤${(0.1 * 2 ** k).toFixed(1)} ms`));
    opt.series = [{ type: 'bar', data: s.sync_buckets }];
    c.setOption(opt, true);
  }
  /* replication: its status endpoint when the server has one, and what /metrics says of it */
  let repl = null;
  try {
    repl = await api('/v1/replication');
  } catch (e) { /* no replication module, or not configured */ }
  const kv = el('dl', { class: 'kv', 'data-testid': 'h-repl-status' });
  if (repl && typeof repl === 'object') {
    for (const [k, v] of Object.entries(repl)) {
      kv.append(el('dt', {}, k.replace(/_/g, ' ')), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)));
    }
  }
  let lines = [];
  try {
    const text = await api('/metrics');
    lines = String(text).split('\n').filter((l) => /^ortak_(replica|replication)/.test(l));
  } catch (e) { /* metrics unavailable */ }
  const parts = [];
  if (kv.childElementCount) parts.push(kv);
  if (lines.length) parts.push(el('pre', { class: 'metrics' }, lines.join('\n')));
  if (!parts.length) parts.push(el('p', { class: 'empty' }, 'No replication reported by this server: a single local journal.'));
  $('h-repl').replaceChildren(...parts);
}

const views = { overview: showOverview, liquidity: showLiquidity, queues: showQueues, flows: showFlows,
  windows: showWindows, payments: showPayments, screening: showScreening, health: showHealth };

/* ---- the page ------------------------------------------------------------------------------------------------ */

async function refresh() {
  if (state.busy || !state.me) return;
  state.busy = true;
  try {
    await views[state.view]();
    status(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    if (e.status === 401) return logout('Your session ended: log in again.');
    status(`${state.view}: ${e.message}`, true);
  } finally {
    state.busy = false;
  }
}

function allowed(button) {
  const roles = button.dataset.roles;
  return !roles || roles.split(' ').includes(state.me.role);
}

function select(view) {
  state.view = view;
  for (const b of $('tabs').querySelectorAll('button')) b.setAttribute('aria-selected', String(b.dataset.view === view));
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`;
  if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
  refresh().then(() => Object.values(state.charts).forEach((c) => c.resize()));
}

function startPolling() {
  clearInterval(state.timer);
  state.timer = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
}

async function enter() {
  try {
    state.me = await api('/v1/me');
  } catch (e) {
    state.me = null;
    $('login').hidden = false;
    $('tabs').hidden = true;
    if (sessionStorage.getItem(TOKEN_KEY)) {
      $('login-error').textContent = e.status === 401 ? 'This token is not one of a participant\'s.' : e.message;
      sessionStorage.removeItem(TOKEN_KEY);
    }
    return;
  }
  $('login').hidden = true;
  $('tabs').hidden = false;
  $('who').hidden = false;
  $('who').textContent = `${state.me.bic} · ${state.me.role.replace('_', ' ')} · ${state.me.name}`;
  $('logout').hidden = !sessionStorage.getItem(TOKEN_KEY);
  document.body.dataset.role = state.me.role;
  for (const b of document.querySelectorAll('[data-roles]')) b.hidden = !allowed(b);
  const want = location.hash.slice(1);
  const tab = $('tabs').querySelector(`button[data-view="${want}"]`);
  select(tab && !tab.hidden ? want : 'overview');
  startPolling();
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  state.me = null;
  state.overview = {};
  for (const s of document.querySelectorAll('.view')) s.hidden = true;
  $('who').hidden = true;
  $('logout').hidden = true;
  $('tabs').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}

document.addEventListener('DOMContentLoaded', () => {
  $('large').checked = localStorage.getItem('ortak.large') === '1';
  document.documentElement.classList.toggle('large', $('large').checked);
  $('large').addEventListener('change', () => {
    document.documentElement.classList.toggle('large', $('large').checked);
    localStorage.setItem('ortak.large', $('large').checked ? '1' : '0');
    Object.values(state.charts).forEach((c) => c.resize());
  });
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    $('login-error').textContent = '';
    enter();
  });
  $('logout').addEventListener('click', () => logout());
  for (const b of $('tabs').querySelectorAll('button')) b.addEventListener('click', () => select(b.dataset.view));
  for (const id of ['ov-cur', 'lq-cur', 'fl-cur']) $(id).addEventListener('change', refresh);
  $('pay-form').addEventListener('submit', (ev) => { ev.preventDefault(); $('pay-detail').hidden = true; refresh(); });
  $('q-resolve').addEventListener('click', async () => {
    try {
      await api('/v1/gridlock', { method: 'POST', body: {} });
    } catch (e) {
      status(`gridlock resolution: ${e.message}`, true);
    }
    refresh();
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  enter();
});
