/* privacy-pipeline browser tracker: source of tracker.min.js (scripts/build-tracker.sh).
 *
 * Served by the collector at /v1/tracker.js (classic script: window.privacyPipeline) and
 * /v1/tracker.mjs (the same code with ES module exports). No dependency, no cookie, no
 * fingerprint: it sends only the events the page asks for, plus consent/1 from an IAB TCF CMP
 * already on the page. Events wait in a bounded queue kept in localStorage until sent; sends use
 * fetch(keepalive) while the page is visible and navigator.sendBeacon when it is hidden, with
 * the key in the URL and a text/plain body, so no CORS preflight is needed.
 */
(function (w) {
  'use strict';
  if (w.privacyPipeline && w.privacyPipeline.version) return;  // loaded twice: keep the first
  var VERSION = '1.0.0';
  var MAX_BODY = 60000;  // bytes: keepalive fetch and sendBeacon carry at most 64 KiB in flight
  var BEACON_BODY = 16000;  // smaller beacons waste less of that shared quota at the end
  var EVENTS = '/v1/events', CONSENT = '/v1/consent';
  var cfg = null, user = null, queue = [], busy = {}, waiters = [];
  var timer = 0, inflight = false, retryAt = 0, attempt = 0, lastTcf = '';
  var doc = w.document, nav = w.navigator;

  function warn(msg) { if (w.console) w.console.warn('privacyPipeline: ' + msg); }

  function uuid() {
    var c = w.crypto;
    if (c.randomUUID) return c.randomUUID();
    var b = c.getRandomValues(new Uint8Array(16)), h = '';
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1);
    return h.replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  }

  function storage() { try { return w.localStorage; } catch (e) { return null; } }
  function storeKey() { return 'privacyPipeline:' + cfg.app.name; }

  function save() {
    var s = storage();
    try { if (s) s.setItem(storeKey(), JSON.stringify(queue)); } catch (e) { /* full: memory only */ }
  }

  function load() {
    var s = storage(), q;
    try { q = JSON.parse((s && s.getItem(storeKey())) || '[]'); } catch (e) { q = []; }
    queue = Array.isArray(q) ? q.filter(function (e) { return e && e.event_id; }) : [];
  }

  function pathOf(e) { return e.schema === 'consent/1' ? CONSENT : EVENTS; }
  function ready(e) { return e.user_id && !busy[e.event_id]; }

  function enqueue(e) {
    e.schema = e.schema || 'navigation/1';
    e.event_id = uuid();
    e.occurred_at = new Date().toISOString();
    if (user) e.user_id = user;
    queue.push(e);
    while (queue.length > cfg.maxQueue) {  // bounded: drop the oldest, consent last
      var i = 0;
      while (i < queue.length - 1 && queue[i].schema === 'consent/1') i++;
      queue.splice(i, 1);
    }
    save();
    if (queue.filter(ready).length >= cfg.batchSize) pump();
    else if (!timer) timer = w.setTimeout(pump, cfg.flushInterval);
    return e.event_id;
  }

  /* The next batch: ready events of one endpoint, in order, within count and byte bounds. */
  function take(limit, maxBytes) {
    var out = [], path = null, size = 2;
    for (var i = 0; i < queue.length && out.length < limit; i++) {
      var e = queue[i];
      if (!ready(e)) continue;
      var p = pathOf(e), n = new Blob([JSON.stringify(e)]).size + 1;
      if (path && p !== path) continue;
      if (out.length && size + n > maxBytes) break;
      path = p; size += n; out.push(e);
    }
    return out.length ? { path: path, events: out, body: JSON.stringify(out) } : null;
  }

  function url(path) {
    return cfg.endpoint + path + '?key=' + encodeURIComponent(cfg.key);
  }

  function drop(events) {
    var ids = {};
    events.forEach(function (e) { ids[e.event_id] = 1; delete busy[e.event_id]; });
    queue = queue.filter(function (e) { return !ids[e.event_id]; });
    save();
  }

  function retryLater(res) {
    var after = res ? parseFloat(res.headers.get('Retry-After')) : NaN;
    var backoff = Math.min(60000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt++;
    retryAt = Date.now() + (after >= 0 ? after * 1000 : backoff);
  }

  function answered(batch, res) {
    if (res.status === 429 || res.status >= 500) {
      batch.events.forEach(function (e) { delete busy[e.event_id]; });
      return retryLater(res);
    }
    attempt = 0;
    drop(batch.events);
    if (res.ok) return res.json().then(function (b) { report(b.rejected); }, function () {});
    return res.json().then(function (b) {  // another 4xx: never retried
      warn(res.status + ' ' + b.error + ': ' + b.message);
      report(b.rejected);
    }, function () { warn('HTTP ' + res.status); });
  }

  function report(rejected) {
    (rejected || []).forEach(function (r) { warn('event rejected: ' + r.reason); });
  }

  function pump() {
    w.clearTimeout(timer); timer = 0;
    if (!cfg || inflight) return;
    var wait = retryAt - Date.now();
    if (wait > 0) { timer = w.setTimeout(pump, wait); return; }
    var batch = take(cfg.batchSize, MAX_BODY);
    if (!batch) return settle();
    inflight = true;
    batch.events.forEach(function (e) { busy[e.event_id] = 1; });
    w.fetch(url(batch.path), { method: 'POST', body: batch.body, keepalive: true,
      credentials: 'omit', mode: 'cors' })
      .then(function (res) { return answered(batch, res); }, function () {
        batch.events.forEach(function (e) { delete busy[e.event_id]; });
        retryLater(null);  // offline or refused: the events stay queued
      })
      .then(function () { inflight = false; pump(); });
  }

  function settle() {
    if (queue.some(ready)) return;
    var done = waiters; waiters = [];
    done.forEach(function (resolve) { resolve(); });
  }

  /* The page is going away or hidden: hand every ready event to sendBeacon, in chunks. */
  function beacon() {
    if (!cfg || !nav.sendBeacon || nav.onLine === false) return;  // offline: kept for next load
    var batch;
    while ((batch = take(cfg.batchSize, BEACON_BODY))) {
      if (!nav.sendBeacon(url(batch.path), batch.body)) break;  // quota: left for next load
      drop(batch.events);
    }
  }

  function onTcf(tc, ok) {
    var status = tc && tc.eventStatus;
    if (!ok || !tc.tcString || tc.tcString === lastTcf) return;
    if (status !== 'tcloaded' && status !== 'useractioncomplete') return;
    lastTcf = tc.tcString;
    consent({}, { tcf: tc.tcString, source: 'banner' });
  }

  function listenCmp() {
    if (typeof w.__tcfapi !== 'function') return false;
    w.__tcfapi('addEventListener', 2, onTcf);
    return true;
  }

  function need(value, name) {
    if (!value) throw new Error('privacyPipeline.init: ' + name + ' is required');
    return value;
  }

  function init(options) {
    var o = options || {}, app = need(o.app, 'app'), first = !cfg;
    cfg = {
      endpoint: String(need(o.endpoint, 'endpoint')).replace(/\/+$/, ''),
      key: need(o.key, 'key'),
      app: { name: need(app.name, 'app.name'), platform: app.platform || 'web',
        version: need(app.version, 'app.version') },
      batchSize: o.batchSize || 20,
      flushInterval: o.flushInterval || 5000,
      maxQueue: o.maxQueue || 500
    };
    load();
    identify(o.userId || user);  // identify() may have been called before init()
    if (first) {
      doc.addEventListener('visibilitychange', function () {
        if (doc.visibilityState === 'hidden') beacon();
      });
      w.addEventListener('pagehide', beacon);
      w.addEventListener('online', function () { retryAt = 0; pump(); });
      if (o.tcf !== false && !listenCmp()) w.addEventListener('load', listenCmp);
    }
    pump();
  }

  /* Who the events are about; events recorded while nobody is identified wait for the next. */
  function identify(userId) {
    user = userId ? String(userId) : null;
    if (!cfg || !user) return;
    queue.forEach(function (e) { if (!e.user_id) e.user_id = user; });
    save();
    pump();
  }

  function check() { if (!cfg) throw new Error('privacyPipeline: call init() first'); }

  function page(screen, props) {
    check();
    var p = props || {}, e = { schema: 'navigation/1', type: p.type || 'page_view',
      screen: String(screen || '/').split(/[?#]/)[0] || '/', app: cfg.app };
    if (p.referrer) e.referrer = String(p.referrer);
    if (p.campaign) e.campaign = String(p.campaign);
    return enqueue(e);
  }

  function geolocation(lat, lon, accuracyM) {
    check();
    var e = { schema: 'geolocation/1', lat: lat, lon: lon, app: cfg.app };
    if (accuracyM != null) e.accuracy_m = accuracyM;
    return enqueue(e);
  }

  function consent(purposes, options) {
    check();
    var o = options || {}, e = { schema: 'consent/1', purposes: purposes || {},
      source: o.source || 'banner', app: cfg.app };
    if (o.tcf) e.tcf = o.tcf;
    if (nav.globalPrivacyControl === true) e.gpc = true;
    return enqueue(e);
  }

  /* A promise resolved once every event of a known user has been sent (or refused). */
  function flush() {
    if (!cfg) return Promise.resolve();
    return new Promise(function (resolve) { waiters.push(resolve); pump(); });
  }

  w.privacyPipeline = { version: VERSION, init: init, identify: identify, page: page,
    geolocation: geolocation, consent: consent, flush: flush };
})(window);
