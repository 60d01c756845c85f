import { createHmac, randomBytes } from 'node:crypto';
import type { RateLimiter } from '../rate-limiter';
import type { ClientLimit } from '../types';
import { ErrorCodes, typeError } from '../errors';
import type { MetricsSnapshot } from './limiter-metrics';

/** The status figures of one limiter: its metrics snapshot plus its configuration. */
export interface StatusSnapshot extends MetricsSnapshot {
  /** The limiter's default limit. */
  limit: ClientLimit;
  algorithm: string;
  adaptive: { enabled: boolean; shared: boolean; signal: number | null; proposal: number };
}

/** What `GET /status.json` returns: one snapshot per limiter. */
export interface StatusReport {
  /** Milliseconds since the Unix epoch. */
  time: number;
  limiters: StatusSnapshot[];
}

/** Options of `statusReport` and `statusSnapshot`. */
export interface StatusOptions {
  /**
   * How the most limited clients are named. Client ids are often secrets (API keys) or personal data (IP
   * addresses), and the page may be seen by more people than should see them.
   * - `'hashed'`: `#` and 12 hex digits of an HMAC-SHA256 under a key drawn when the process starts: one id keeps
   *   one name in this process, and names cannot be turned back into ids (not even short ones such as IPs).
   * - `'full'`: the ids as they are.
   * @default 'hashed'
   */
  clientIds?: 'hashed' | 'full';
}

const CLIENT_ID_MODES = ['hashed', 'full'];
const CLIENT_ID_KEY = randomBytes(32);

/** The name `clientIds: 'hashed'` gives a client id in this process. */
export function hashClientId(clientId: string): string {
  return `#${createHmac('sha256', CLIENT_ID_KEY).update(clientId).digest('hex').slice(0, 12)}`;
}

function checkStatusOptions(options: StatusOptions | undefined, where: string): 'hashed' | 'full' {
  if (options === undefined) return 'hashed';
  if (typeof options !== 'object' || options === null) throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${where} options must be an object; got ${String(options)}`);
  const mode = options.clientIds ?? 'hashed';
  if (!CLIENT_ID_MODES.includes(mode)) {
    throw typeError(ErrorCodes.INVALID_ARGUMENT, `slidegate: ${where} options.clientIds must be 'hashed' or 'full'; got ${JSON.stringify(mode)}`);
  }
  return mode;
}

/**
 * The status page's JSON for one or several limiters (each created with `metrics` on), shown in this order.
 * Client ids are hashed unless `options.clientIds` is `'full'`.
 */
export function statusReport(limiters: RateLimiter | readonly RateLimiter[], options?: StatusOptions): StatusReport {
  const list: readonly RateLimiter[] = Array.isArray(limiters) ? limiters : [limiters as RateLimiter];
  const clientIds = checkStatusOptions(options, 'statusReport');
  return { time: Date.now(), limiters: list.map((limiter) => statusSnapshot(limiter, { clientIds })) };
}

/**
 * The figures of one limiter for the status page. Needs a limiter created with `metrics` on (Prometheus may be
 * off: `metrics: { prometheus: false }`). Client ids are hashed unless `options.clientIds` is `'full'`.
 */
export function statusSnapshot(limiter: RateLimiter, options?: StatusOptions): StatusSnapshot {
  const clientIds = checkStatusOptions(options, 'statusSnapshot');
  const metrics = limiter.metrics;
  if (metrics === undefined) {
    throw typeError(
      ErrorCodes.INVALID_ARGUMENT,
      'slidegate: statusSnapshot(limiter) needs a limiter created with the metrics option on (metrics: true, or metrics: { prometheus: false })',
    );
  }
  const adaptive = limiter.adaptive;
  const snapshot = metrics.snapshot();
  if (clientIds === 'hashed') snapshot.topClients = snapshot.topClients.map((c) => ({ ...c, clientId: hashClientId(c.clientId) }));
  return {
    ...snapshot,
    limit: limiter.defaults,
    algorithm: limiter.algorithm,
    adaptive: {
      enabled: adaptive !== undefined,
      shared: adaptive?.shared ?? false,
      signal: adaptive?.lastSignal ?? null,
      proposal: adaptive?.proposal ?? 1,
    },
  };
}

/**
 * The live status page: one self-contained HTML document (no build step, no external resource)
 * that polls `status.json` beside its own URL every second (a `StatusReport`, or a single
 * `StatusSnapshot`) and draws each limiter's allowed and denied decisions per second on a canvas.
 * Serve it at `GET /status` and `statusReport(limiters)` at `GET /status.json`. Each canvas exposes
 * what it drew as data attributes (`data-name`, `data-points`, `data-allowed`, `data-denied`,
 * `data-max`, `data-draws`) so tests can read it.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>slidegate status</title>
<style>
  :root { --bg: #0f1419; --panel: #182029; --text: #e6edf3; --muted: #8b98a5; --allowed: #3fb950; --denied: #f85149; --warn: #d29922; --grid: #26313d; --factor: #58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 24px; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 8px; }
  h1 { font-size: 20px; margin: 0; font-weight: 600; }
  h2 { font-size: 16px; margin: 18px 0 10px; font-weight: 600; }
  h3 { font-size: 12px; margin: 0 0 10px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .muted { color: var(--muted); }
  .dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: var(--muted); margin-right: 6px; }
  .dot.live { background: var(--allowed); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin-bottom: 12px; }
  .card, .panel { background: var(--panel); border-radius: 8px; padding: 12px 14px; }
  .card .label { color: var(--muted); font-size: 12px; }
  .card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .allowed { color: var(--allowed); } .denied { color: var(--denied); } .factor-line { color: var(--factor); }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 15px; }
  .badge.closed { background: #1f3d2a; color: var(--allowed); } .badge.open { background: #4a1f1f; color: var(--denied); } .badge.half-open { background: #4a3b12; color: var(--warn); }
  .grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(240px, 1fr); gap: 12px; }
  @media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
  canvas { width: 100%; height: 260px; display: block; }
  .legend { display: flex; gap: 16px; margin-top: 6px; font-size: 12px; color: var(--muted); }
  .legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; background: currentColor; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 4px; border-bottom: 1px solid var(--grid); }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  td.num, th.num { text-align: right; }
  td.client { max-width: 220px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, monospace; font-size: 12px; }
  #error { color: var(--denied); }
</style>
</head>
<body>
<header>
  <h1>slidegate status</h1>
  <span class="muted" id="operator">An operator page: serve it on an internal port or behind your authentication.</span>
  <span class="muted"><span id="dot" class="dot"></span><span id="updated">connecting…</span></span>
  <span id="error"></span>
</header>
<main id="limiters"></main>
<template id="limiter">
  <section class="limiter">
    <h2><span class="name"></span> <span class="muted config"></span></h2>
    <div class="cards">
      <div class="card"><div class="label">Allowed / s</div><div class="value allowed allowed-rate">–</div></div>
      <div class="card"><div class="label">Denied / s</div><div class="value denied denied-rate">–</div></div>
      <div class="card"><div class="label">Circuit breaker</div><div class="value"><span class="badge breaker">–</span></div></div>
      <div class="card"><div class="label">Adaptive factor</div><div class="value factor">–</div><div class="label factor-detail"></div></div>
      <div class="card"><div class="label">Clients tracked here</div><div class="value clients">–</div></div>
    </div>
    <div class="grid">
      <div class="panel">
        <h3>Decisions per second <span class="muted range"></span></h3>
        <canvas class="chart" data-points="0" data-allowed="0" data-denied="0" data-max="0" data-draws="0"></canvas>
        <div class="legend"><span class="allowed">allowed</span><span class="denied">denied</span><span class="factor-line" hidden>adaptive factor (right axis)</span></div>
      </div>
      <div class="panel">
        <h3>Most limited clients</h3>
        <table><thead><tr><th>Client</th><th class="num">Denied</th></tr></thead><tbody class="top"></tbody></table>
        <p class="muted top-note" style="font-size:12px"></p>
      </div>
    </div>
  </section>
</template>
<script>
(function () {
  'use strict';
  var POLL_MS = 1000;
  var source = new URL('status.json', location.href).toString();
  var sections = {};
  var last = null;
  function $(id) { return document.getElementById(id); }
  function fmt(n) { return n >= 10000 ? (n / 1000).toFixed(n >= 100000 ? 0 : 1) + 'k' : String(Math.round(n)); }

  function draw(canvas, series, showFactor) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var left = 48, right = showFactor ? 44 : 12, top = 10, bottom = 26;
    var pw = w - left - right, ph = h - top - bottom;
    var max = 0, sumA = 0, sumD = 0;
    series.forEach(function (p) { max = Math.max(max, p.allowed, p.denied); sumA += p.allowed; sumD += p.denied; });
    var step = Math.pow(10, Math.floor(Math.log10(Math.max(1, max))));
    var yMax = Math.max(1, Math.ceil(max / step) * step);
    var style = getComputedStyle(document.documentElement);
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = style.getPropertyValue('--grid'); ctx.fillStyle = style.getPropertyValue('--muted');
    ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = top + ph - (ph * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + pw, y + 0.5); ctx.stroke();
      ctx.textAlign = 'right'; ctx.fillText(fmt((yMax * i) / 4), left - 6, y + 4);
      if (showFactor) { ctx.textAlign = 'left'; ctx.fillText((25 * i) + '%', left + pw + 6, y + 4); }
    }
    var n = series.length;
    var span = Math.max(60, n);
    var x = function (idx) { return left + pw - ((n - 1 - idx) / (span - 1)) * pw; };
    var yOf = function (v) { return top + ph - (v / yMax) * ph; };
    ctx.textAlign = 'center';
    for (var s = 0; s < span; s += 60) ctx.fillText(s === 0 ? 'now' : '-' + (s / 60) + 'm', left + pw - (s / (span - 1)) * pw, h - 8);
    function line(key, color) {
      if (n === 0) return;
      ctx.beginPath();
      for (var k = 0; k < n; k++) { var X = x(k), Y = yOf(series[k][key]); if (k === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y); }
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.stroke();
      ctx.lineTo(x(n - 1), top + ph); ctx.lineTo(x(0), top + ph); ctx.closePath();
      ctx.globalAlpha = 0.15; ctx.fillStyle = color; ctx.fill(); ctx.globalAlpha = 1;
    }
    line('allowed', style.getPropertyValue('--allowed'));
    line('denied', style.getPropertyValue('--denied'));
    var minFactor = 1;
    if (showFactor && n > 0) {
      ctx.beginPath();
      for (var f = 0; f < n; f++) {
        var fy = top + ph - series[f].factor * ph;
        minFactor = Math.min(minFactor, series[f].factor);
        if (f === 0) ctx.moveTo(x(f), fy); else ctx.lineTo(x(f), fy);
      }
      ctx.setLineDash([5, 4]); ctx.strokeStyle = style.getPropertyValue('--factor'); ctx.lineWidth = 1.5; ctx.stroke(); ctx.setLineDash([]);
    }
    canvas.dataset.factorMin = String(minFactor);
    canvas.dataset.points = String(n);
    canvas.dataset.allowed = String(sumA);
    canvas.dataset.denied = String(sumD);
    canvas.dataset.max = String(max);
    canvas.dataset.draws = String(Number(canvas.dataset.draws) + 1);
  }

  function section(name) {
    if (sections[name]) return sections[name];
    var node = $('limiter').content.firstElementChild.cloneNode(true);
    node.dataset.name = name;
    node.querySelector('.chart').dataset.name = name;
    $('limiters').appendChild(node);
    sections[name] = node;
    return node;
  }

  function renderLimiter(s) {
    var el = section(s.name);
    function q(c) { return el.querySelector('.' + c); }
    var pts = s.series;
    // The last point is the second in progress: rates come from the newest complete second.
    var full = pts.length > 1 ? pts[pts.length - 2] : pts[pts.length - 1];
    q('name').textContent = s.name;
    q('config').textContent = s.limit.limit + ' per ' + s.limit.windowSeconds + ' s, ' + s.algorithm;
    q('allowed-rate').textContent = full ? fmt(full.allowed) : '0';
    q('denied-rate').textContent = full ? fmt(full.denied) : '0';
    var b = q('breaker'); b.textContent = s.breaker; b.className = 'badge breaker ' + s.breaker;
    q('factor').textContent = (s.adaptiveFactor * 100).toFixed(0) + '%';
    q('factor').dataset.factor = String(s.adaptiveFactor);
    q('factor-detail').textContent = s.adaptive.enabled
      ? (s.adaptive.shared ? 'shared by all instances' : 'this instance') + (s.adaptive.signal === null ? '' : ', load ' + Number(s.adaptive.signal).toFixed(1))
      : 'adaptive limits off';
    q('clients').textContent = fmt(s.clientsTracked);
    var body = q('top');
    body.textContent = '';
    if (s.topClients.length === 0) {
      var tr0 = document.createElement('tr'); var td0 = document.createElement('td');
      td0.colSpan = 2; td0.className = 'muted'; td0.textContent = 'none denied lately'; tr0.appendChild(td0); body.appendChild(tr0);
    }
    s.topClients.forEach(function (c) {
      var tr = document.createElement('tr');
      var id = document.createElement('td'); id.className = 'client'; id.textContent = c.clientId; id.title = c.clientId;
      var n = document.createElement('td'); n.className = 'num denied'; n.textContent = (c.undercount > 0 ? '≥ ' : '') + fmt(c.count);
      tr.appendChild(id); tr.appendChild(n); body.appendChild(tr);
    });
    q('top-note').textContent = s.topClients.some(function (c) { return c.undercount > 0; }) ? '≥: at least (bounded tracking of many clients)' : '';
    // The chart shows complete seconds only: the one in progress would dip at its right edge.
    var complete = pts.length > 1 ? pts.slice(0, -1) : pts;
    q('range').textContent = '(last ' + (Math.round(complete.length / 6) / 10) + ' min)';
    q('factor-line').hidden = !s.adaptive.enabled;
    draw(q('chart'), complete, s.adaptive.enabled);
  }

  function render(report) {
    last = report;
    var list = report.limiters || [report];
    list.forEach(renderLimiter);
    $('updated').textContent = 'updated ' + new Date(report.time).toLocaleTimeString();
    $('dot').className = 'dot live';
    $('error').textContent = '';
  }

  function poll() {
    fetch(source, { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function (e) { $('dot').className = 'dot'; $('error').textContent = 'cannot reach ' + source + ': ' + e.message; })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  window.addEventListener('resize', function () { if (last) render(last); });
  poll();
})();
</script>
</body>
</html>
`;
