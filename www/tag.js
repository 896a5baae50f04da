// The matchkey site tag: normalizes and hashes personal data in the page (wasm), keeps
// only hashes in first-party storage, reads consent, and sends events to the matchkey
// Worker. It never throws into the host page and never sends a raw value.
//
// Consent comes from the core (`matchkey::consent` through the wasm exports): which
// countries need it, what TCF data and which GPP sections grant it. This file only
// gathers the page's signals and acts on the answer.
import init, {
  matchKeys, needsFull, prepare, requiresConsent, tcfGranted, gppGranted, validTcfString, validGppString,
} from '../pkg/matchkey.js';

const VERSION = 1;
const ID_KEY = 'matchkey_id';
const OUTBOX_KEY = 'matchkey_outbox';
const VISITOR_KEY = 'matchkey_vid'; // the random first-party visitor id (cookie sync)
const SYNC_KEY = 'matchkey_sync'; // when the visitor id was last matched, and which
const OPT_OUT_KEY = 'matchkey_optout';
const AUDIENCE_KEY = 'matchkey_aud'; // audience changes the Worker could not take yet
const OUTBOX_MAX = 50;
// Amazon's window, which the Worker keeps too: an older event is refused.
const OUTBOX_DAYS = 21;
// An event sent waits this long for its answer before any tab or page sends it again
// (the page may have closed, or another tab sent it); also the pause after a request
// that got no answer at all.
const LEASE_MS = 10000;
// What the Worker accepts as an event name and an event id.
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const EVENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
// The only fields an event carries (the Worker adds conversionType, dataSetName and the
// user agent from its own configuration and the request).
const EVENT_FIELDS = ['name', 'eventId', 'eventTime', 'country', 'matchKeys', 'value', 'currency', 'units', 'customData'];
// GPP section ids the core judges; any other applicable section grants nothing.
const GPP_SECTIONS = { 2: 'tcfeuv2', 7: 'usnat' };
// A 429 or 503 whose Retry-After the page cannot read waits this long.
const DEFAULT_RETRY_MS = 60000;
// The events of one page view leave together: this long after the first one (config
// `batchMs`), at once when the page is hidden or left, or when this many are waiting.
const BATCH_MS = 200;
const BATCH_NOW = 25;
// One request body stays under the browser's 64 KB budget for keepalive requests (the
// sum of those in flight) and under the Worker's 500 events.
const BODY_MAX_BYTES = 60000;
const BODY_MAX_EVENTS = 500;

const state = {
  config: null,
  identity: null, // {EMAIL: hash, …}, in memory; in storage only with consent where required
  visitor: null, // {id, expires}: random, never derived from personal data; stored like the identity
  expires: 0,
  acs: null, // {amznUserData, amznAdStorage}: consent() or the amzn_consent cookie
  acsExplicit: false,
  strings: {}, // TCF / GPP strings given to consent()
  tcData: null, // the CMP's last final TCData (__tcfapi)
  gpp: null, // the CMP's last ready ping data (__gpp)
  gppSections: {}, // sections fetched with getSection when ping did not parse them
  listening: {},
  pending: [], // events waiting for consent, in memory only
  timer: null, // the outbox's retry timer (Retry-After)
  batchTimer: null, // the page view's batch window
  waiting: null, // while identify waits for the full build: the commands called after it
  unstored: [], // events to send that storage could not hold (full, or no storage at all)
  ready: null,
};

function warn(code) {
  if (state.config && state.config.debug) console.warn('matchkey:', code);
}

function safe(fn) {
  return function () {
    try {
      return fn.apply(null, arguments);
    } catch (e) {
      warn(e && e.code ? e.code : e && e.message);
    }
  };
}

// Storage: localStorage, with a first-party cookie when it is unavailable.
function readCookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : null;
}

function storeGet(key) {
  try {
    const v = localStorage.getItem(key);
    if (v !== null) return JSON.parse(v);
  } catch (_) { /* fall through to the cookie */ }
  try {
    const c = readCookie(key);
    return c ? JSON.parse(c) : null;
  } catch (_) {
    return null;
  }
}

function storeSet(key, value, days) {
  const json = JSON.stringify(value);
  try {
    localStorage.setItem(key, json);
    return;
  } catch (_) { /* cookie fallback */ }
  document.cookie = `${key}=${encodeURIComponent(json)}; Max-Age=${Math.round(days * 86400)}; Path=/; SameSite=Lax`;
}

function storeRemove(key) {
  try { localStorage.removeItem(key); } catch (_) { /* ignore */ }
  document.cookie = `${key}=; Max-Age=0; Path=/; SameSite=Lax`;
}

function country() {
  const c = String((state.config && state.config.country) || 'US').toUpperCase();
  return c === 'UK' ? 'GB' : c;
}

// Whether events from `c` (default: the page's country) need a consent signal: the
// core's list of countries, or everywhere with `consentMode: 'required'`. A site cannot
// turn it off for a country on the list. An unreadable country needs one.
function consentRequired(c) {
  if (state.config && state.config.consentMode === 'required') return true;
  try {
    return requiresConsent(c === undefined ? country() : String(c));
  } catch (_) {
    return true;
  }
}

// ---- Consent -------------------------------------------------------------------------

function applicableGppSections(ping) {
  const ids = Array.isArray(ping.applicableSections) ? ping.applicableSections : [];
  return ids.filter((id) => typeof id === 'number' && id > 0);
}

// 'granted', 'denied' or 'unknown'. Each signal the page has gives a verdict; any refusal
// denies, otherwise any grant grants. Where consent is not required, signals that do not
// apply (TCF with gdprApplies false, a GPP section the core does not judge) say nothing,
// but an explicit refusal (ACS denied, a usnat opt-out) still stops sending.
function consentStatus(required) {
  const verdicts = [];
  if (state.acs) verdicts.push(state.acs.amznUserData === 'GRANTED' && state.acs.amznAdStorage !== 'DENIED');
  if (state.tcData && (required || state.tcData.gdprApplies !== false)) verdicts.push(tcfGranted(state.tcData));
  if (state.gpp) {
    for (const id of applicableGppSections(state.gpp)) {
      const name = GPP_SECTIONS[id];
      const parsed = name && ((state.gpp.parsedSections || {})[name] || state.gppSections[name]);
      if (name && !parsed) continue; // getSection has not answered yet: no verdict
      const ok = gppGranted(name || String(id), parsed, required);
      if (ok || name || required) verdicts.push(ok);
    }
  }
  if (verdicts.includes(false)) return 'denied';
  return verdicts.includes(true) ? 'granted' : 'unknown';
}

// Whether an event may go now: 'send', 'wait' or 'drop'.
function verdict(required) {
  const status = consentStatus(required);
  if (status === 'denied') return 'drop';
  if (!required || status === 'granted') return 'send';
  return 'wait';
}

// The consent object events carry (Events API shape): the ACS values and the raw TCF and
// GPP strings Amazon reads, each only when it has the right shape.
function consentBody() {
  const c = {};
  if (state.acs) c.amazonConsent = { amznUserData: state.acs.amznUserData, amznAdStorage: state.acs.amznAdStorage };
  const tcf = state.strings.tcf || (state.tcData && state.tcData.tcString);
  if (typeof tcf === 'string' && validTcfString(tcf)) c.tcf = tcf;
  const gpp = state.strings.gpp || (state.gpp && state.gpp.gppString);
  if (typeof gpp === 'string' && validGppString(gpp)) c.gpp = gpp;
  return Object.keys(c).length ? c : null;
}

function attachConsent(event) {
  const c = consentBody();
  if (c) event.consent = c;
  else delete event.consent;
  return event;
}

const acsValue = (v) => (v === 'GRANTED' || v === 'DENIED' ? v : null);

// Amazon's ConsentJS cookie: {amazonConsentFormat: {amznAdStorage, amznUserData}, …}
// (older pages wrote the two values at the top level).
function readAmznCookie() {
  try {
    const c = JSON.parse(readCookie('amzn_consent'));
    const f = (c && c.amazonConsentFormat) || c || {};
    const userData = acsValue(f.amznUserData);
    return userData ? { amznUserData: userData, amznAdStorage: acsValue(f.amznAdStorage) || userData } : null;
  } catch (_) {
    return null;
  }
}

// TCF: the CMP's decoded data, once final (tcloaded, useractioncomplete), and every later
// change through the listener.
function listenTcf() {
  if (state.listening.tcf || typeof window.__tcfapi !== 'function') return;
  state.listening.tcf = true;
  const take = (data) => {
    state.tcData = data;
    consentChanged();
  };
  window.__tcfapi('addEventListener', 2, safe((data, ok) => {
    if (ok && data && (data.eventStatus === 'tcloaded' || data.eventStatus === 'useractioncomplete')) take(data);
  }));
  // CMPs without a listener: their getTCData answer, unless their banner is still open.
  window.__tcfapi('getTCData', 2, safe((data, ok) => {
    if (ok && data && typeof data === 'object' && !state.tcData && data.eventStatus !== 'cmpuishown') take(data);
  }));
}

// GPP: the applicable sections the CMP reports (ping, then every event), with the parsed
// section from ping or getSection.
function onGpp(ping) {
  if (!ping || typeof ping !== 'object' || ping.signalStatus === 'not ready') return;
  state.gpp = ping;
  for (const id of applicableGppSections(ping)) {
    const name = GPP_SECTIONS[id];
    if (name && !(ping.parsedSections || {})[name] && !state.gppSections[name]) {
      window.__gpp('getSection', safe((data, ok) => {
        if (ok !== false && data) {
          state.gppSections[name] = data;
          consentChanged();
        }
      }), name);
    }
  }
  consentChanged();
}

function listenGpp() {
  if (state.listening.gpp || typeof window.__gpp !== 'function') return;
  state.listening.gpp = true;
  window.__gpp('addEventListener', safe((event, ok) => { if (ok !== false && event) onGpp(event.pingData); }));
  window.__gpp('ping', safe((data, ok) => { if (ok !== false) onGpp(data); }));
}

// After any consent change: waiting events go or are dropped, the identity is stored or
// erased, and the outbox is looked at again.
function consentChanged() {
  if (!state.config) return;
  const now = verdict(consentRequired());
  if (now === 'drop') {
    if (state.pending.length) warn('consent_denied');
    state.pending = [];
    storeRemove(ID_KEY);
    storeRemove(AUDIENCE_KEY);
    // Consent withdrawn: Amazon is asked to forget the visitor, and so is the page.
    forgetVisitor(true);
  } else if (now === 'send') {
    persistIdentity();
    ensureVisitor();
    matchCookie();
    sendAudiences();
    const waiting = state.pending;
    state.pending = [];
    send(waiting.map(attachConsent));
  }
  // Events left by an earlier page join this page view's batch.
  if (readOutbox().events.length) flushSoon();
}

// ---- Transport -----------------------------------------------------------------------

function emit(body) {
  // A copy of each body (the visitor id included) that any script on the page can read:
  // only while debugging is switched on.
  if (!(state.config && state.config.debug)) return;
  (window.matchkey.sent = window.matchkey.sent || []).push(body);
  try { window.dispatchEvent(new CustomEvent('matchkey:send', { detail: body })); } catch (_) { /* old browsers */ }
}

// The site key travels in the query: the Worker authenticates before it reads a body.
function post(path, body) {
  const url = state.config.endpoint.replace(/\/$/, '') + path + '?siteKey=' + encodeURIComponent(state.config.siteKey);
  emit(body);
  return fetch(url, {
    method: 'POST', keepalive: true, credentials: 'omit', mode: 'cors',
    headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body),
  });
}

// Milliseconds to wait before the next attempt, from Retry-After (seconds or a date; the
// Worker must expose the header to CORS) or the default for 429 and 503.
function retryDelay(res) {
  const h = res.headers.get('retry-after');
  if (h) {
    const ms = /^\d+$/.test(h.trim()) ? Number(h) * 1000 : Date.parse(h) - Date.now();
    if (ms >= 0) return ms;
  }
  return res.status === 429 || res.status === 503 ? DEFAULT_RETRY_MS : 0;
}

// Overloaded or failing: what was sent waits and goes again.
const busy = (res) => res.status >= 500 || res.status === 429 || res.status === 408;

function readOutbox() {
  const o = storeGet(OUTBOX_KEY);
  if (Array.isArray(o)) return { events: o, retryAt: 0 }; // an earlier tag's form
  return o && Array.isArray(o.events) ? { events: o.events, retryAt: Number(o.retryAt) || 0 } : { events: [], retryAt: 0 };
}

function writeOutbox(o) {
  if (o.events.length) storeSet(OUTBOX_KEY, o, OUTBOX_DAYS);
  else storeRemove(OUTBOX_KEY);
}

function scheduleFlush(at) {
  clearTimeout(state.timer);
  state.timer = setTimeout(safe(flushOutbox), Math.min(Math.max(at - Date.now(), 0) + 50, 2147483647));
}

// Keeps new events until the Worker answers for them (bounded; the oldest go first).
function outbox(events) {
  const o = readOutbox();
  const at = (e) => String(e && e.eventTime);
  o.events = o.events.concat(events).sort((x, y) => (at(x) < at(y) ? -1 : at(x) > at(y) ? 1 : 0)).slice(-OUTBOX_MAX);
  writeOutbox(o);
}

// The Worker answered for `batch` (or nothing did): the events in `done` (accepted, or
// refused for good) leave the outbox; the others may go again, not before `delay` ms.
function answered(batch, done, delay) {
  if (optedOut()) return;
  const o = readOutbox();
  const sent = new Set(batch.map((e) => e.eventId));
  const stored = new Set();
  o.events = o.events.filter((e) => {
    stored.add(e.eventId);
    if (sent.has(e.eventId)) delete e.sending;
    return !done.has(e.eventId);
  });
  // Sent events storage does not hold wait in memory, unless the bound let them go.
  if (o.events.length < OUTBOX_MAX) state.unstored = state.unstored.concat(batch.filter((e) => !done.has(e.eventId) && !stored.has(e.eventId)));
  if (delay > 0) o.retryAt = Math.max(o.retryAt, Date.now() + delay);
  writeOutbox(o);
  if (o.retryAt > Date.now()) scheduleFlush(o.retryAt);
}

// Events that may go join the outbox in storage at once (so a page closed within the
// batch window loses none) and leave with the rest of the page view's events.
function send(events) {
  if (!events.length) return;
  outbox(events);
  // What storage did not take waits in memory (another tab's flush cannot see it, so it
  // is not sent twice).
  const box = readOutbox().events;
  const stored = new Set(box.map((e) => e && e.eventId));
  state.unstored = state.unstored.concat(events.filter((e) => !stored.has(e.eventId))).slice(-BODY_MAX_EVENTS);
  // Events already sent, waiting for their answer, do not count.
  if (box.filter((e) => !(e.sending > Date.now())).length + state.unstored.length >= BATCH_NOW) flushNow();
  else flushSoon();
}

// The batch window: the first event starts it, later ones join it.
function flushSoon() {
  if (state.batchTimer) return;
  const ms = Number(state.config.batchMs);
  state.batchTimer = setTimeout(safe(flushNow), ms >= 0 ? ms : BATCH_MS);
}

function flushNow() {
  clearTimeout(state.batchTimer);
  state.batchTimer = null;
  flushOutbox();
}

// Posts events as few bodies as the limits allow, `{v, events: [...]}` each.
function deliver(events) {
  let body = [];
  let bytes = 0;
  const go = () => {
    if (!body.length) return;
    const batch = body;
    const none = new Set();
    // No answer (the connection dropped, perhaps after the Worker took them): they go
    // again on the next page, or after a pause on this one; the Worker answers a repeat
    // as accepted.
    const lost = safe(() => {
      answered(batch, none, 0);
      scheduleFlush(Date.now() + LEASE_MS);
    });
    post('/v1/events', { v: VERSION, events: batch }).then(safe((res) => {
      if (res.ok) {
        // Each event the answer lists as accepted, or refused for good, leaves; those a
        // shard could not queue now (a retryable reason) wait for Retry-After.
        return res.json().then(safe((answer) => {
          const done = new Set();
          for (const a of answer.accepted || []) done.add(batch[a.index]?.eventId);
          for (const r of answer.rejected || []) {
            if (r.reason !== 'backlog_full' && r.reason !== 'queue_unavailable') done.add(batch[r.index]?.eventId);
          }
          answered(batch, done, retryDelay(res));
        }), lost);
      }
      // Overloaded or failing: they wait; refused for good (4xx): retrying would not help.
      if (busy(res)) return answered(batch, none, retryDelay(res));
      warn(`refused_${res.status}`);
      answered(batch, new Set(batch.map((e) => e.eventId)), 0);
    }), lost);
    body = [];
    bytes = 0;
  };
  for (const e of events) {
    const size = JSON.stringify(e).length + 1;
    if (body.length && (bytes + size > BODY_MAX_BYTES || body.length === BODY_MAX_EVENTS)) go();
    body.push(e);
    bytes += size;
  }
  go();
}

// Audience changes (`{path: {b: body, t: when}}`, the last intent per audience) go now,
// with those an earlier page or request kept; those the Worker could not take (503, 429,
// 408, 5xx, no answer) wait in storage for its Retry-After, on this page or a later one,
// bounded and aged as the outbox is; a refusal for good (another 4xx) drops them.
function sendAudiences(changes, at) {
  const o = storeGet(AUDIENCE_KEY) || {};
  const now = Date.now();
  const c = {};
  at = Math.max(o.at || 0, at || 0);
  for (const [p, x] of Object.entries(Object.assign(o.c || {}, changes)).slice(-OUTBOX_MAX)) if (x.t > now - OUTBOX_DAYS * 864e5) c[p] = x;
  if (at > now) {
    storeSet(AUDIENCE_KEY, { c, at }, OUTBOX_DAYS);
    return setTimeout(safe(sendAudiences), at - now + 50);
  }
  storeRemove(AUDIENCE_KEY);
  for (const p in c) {
    // Kept for later; a change of this audience made meanwhile wins.
    const later = (delay) => sendAudiences({ [p]: c[p], ...(storeGet(AUDIENCE_KEY) || {}).c }, Date.now() + delay);
    post(p, c[p].b).then(safe((res) => busy(res) && later(retryDelay(res))), safe(() => later(LEASE_MS)));
  }
}

// Only the fields an event may carry, so an outbox written by an earlier tag version
// (conversionType, dataSetName) does not get its events refused.
function clean(e) {
  const out = {};
  for (const k of EVENT_FIELDS) if (e[k] !== undefined) out[k] = e[k];
  return out;
}

// Outboxed events go when the Worker's wait is over and, for a country that needs
// consent, only with consent granted now (the current consent is attached); events whose
// consent is refused now are dropped, those still unknown are kept. Events sent stay,
// marked, until an answer settles them; a mark not yet expired (a request of this page,
// another tab's, or one whose page has gone) holds them back until it expires.
function flushOutbox() {
  const o = readOutbox();
  const events = o.events.concat(state.unstored);
  const now = Date.now();
  if (!events.length) return;
  if (o.retryAt > now) return scheduleFlush(o.retryAt);
  state.unstored = [];
  const oldest = now - OUTBOX_DAYS * 86400000;
  const keep = [];
  const go = [];
  let next = 0;
  for (const e of events) {
    if (!e || typeof e !== 'object' || !EVENT_NAME.test(e.name) || !EVENT_ID.test(e.eventId) || !(Date.parse(e.eventTime) > oldest)) continue;
    const v = verdict(consentRequired() || consentRequired(e.country));
    if (v === 'drop') continue;
    keep.push(e);
    if (v !== 'send') continue;
    if (e.sending > now) next = Math.min(next || Infinity, e.sending);
    else {
      e.sending = now + LEASE_MS;
      go.push(attachConsent(clean(e)));
    }
  }
  writeOutbox({ events: keep, retryAt: 0 });
  if (next) scheduleFlush(next);
  deliver(go);
}

// ---- Commands ------------------------------------------------------------------------

// The identity goes to storage only where consent is not required or has been granted.
function persistIdentity() {
  if (!state.identity || !Object.keys(state.identity).length || optedOut()) return;
  if (verdict(consentRequired()) !== 'send') return;
  storeSet(ID_KEY, { keys: state.identity, expires: state.expires }, state.config.lifetimeDays);
}

// ---- Cookie sync: a random visitor id, matched to Amazon's cookie ----------------------

function optedOut() {
  return !!storeGet(OPT_OUT_KEY);
}

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// The visitor id, for sites with cookie sync: read, or made once events may be sent (so
// never stored before consent where it is required), kept as long as the identity.
function ensureVisitor() {
  if (!state.config.cookieSync || optedOut()) return null;
  if (!state.visitor) {
    const stored = storeGet(VISITOR_KEY);
    state.visitor = stored && /^[0-9a-f]{32}$/.test(stored.id) && stored.expires > Date.now()
      ? stored
      : { id: randomId(), expires: Date.now() + state.config.lifetimeDays * 86400000 };
  }
  storeSet(VISITOR_KEY, state.visitor, state.config.lifetimeDays);
  return state.visitor.id;
}

// Amazon's cookie matching: one request for the visitor id per `periodHours`, only with a
// partner code, only while events may be sent, and where consent is required only with a
// TCF string to pass on.
function matchCookie() {
  const sync = state.config.cookieSync;
  if (!sync || !sync.partnerCode || !sync.matchUrl || !state.visitor || optedOut()) return;
  const required = consentRequired();
  if (verdict(required) !== 'send') return;
  const tcf = state.strings.tcf || (state.tcData && state.tcData.tcString);
  const applies = required || (state.tcData && state.tcData.gdprApplies === true);
  if (applies && !(typeof tcf === 'string' && validTcfString(tcf))) return warn('cookie_sync_needs_tcf');
  const last = storeGet(SYNC_KEY);
  const period = (Number(sync.periodHours) || 24) * 3600000;
  if (last && last.id === state.visitor.id && Date.now() - last.at < period) return;
  let url = `${sync.matchUrl}?ex=${encodeURIComponent(sync.partnerCode)}&id=${state.visitor.id}`;
  if (state.tcData || applies) url += `&gdpr=${applies ? 1 : 0}`;
  if (applies) url += `&gdpr_consent=${encodeURIComponent(tcf)}`;
  const img = new Image();
  img.referrerPolicy = 'strict-origin';
  img.src = url;
  emit({ cookieSync: url });
  storeSet(SYNC_KEY, { id: state.visitor.id, at: Date.now() }, state.config.lifetimeDays);
}

// Forgets the visitor id here; with `erase`, first asks the Worker to erase it at Amazon.
function forgetVisitor(erase) {
  const id = state.visitor ? state.visitor.id : (storeGet(VISITOR_KEY) || {}).id;
  if (erase && typeof id === 'string' && /^[0-9a-f]{32}$/.test(id)) {
    post('/v1/erasure', { visitorIds: [id] }).catch(() => {});
  }
  state.visitor = null;
  storeRemove(VISITOR_KEY);
  storeRemove(SYNC_KEY);
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// The match keys of `record`, hashed, join the identity (the build loaded answers them).
function identifyNow(record) {
  const keys = matchKeys(record, country());
  const identity = Object.assign({}, state.identity || {});
  for (const k of keys) identity[k.type] = k.values[0];
  for (const r of keys.rejected) warn(`${r.field} ${r.code}`);
  state.identity = identity;
  state.expires = Date.now() + state.config.lifetimeDays * 86400000;
  persistIdentity();
  // User timing for the site (and scripts/bench-cold-start.mjs): when identities were hashed.
  try { performance.mark('matchkey:identified'); } catch (_) { /* old browsers */ }
  return keys.rejected;
}

// An identify that needs the full build (ADDRESS, STATE, or a phone number the lite build
// defers) holds the commands called after it until the build is there, so
// their events carry the whole identity. `finish` hashes the record with whatever build
// is loaded and runs the held commands in order; it runs when the full build arrives or
// fails, or at once when the page is left or hidden (the events then go without those
// fields rather than not at all).
function hold(record) {
  const held = [];
  const done = new Promise((resolve) => {
    held.finish = () => {
      if (state.waiting !== held) return;
      state.waiting = null;
      resolve(safe(identifyNow)(record));
      for (let i = 0; i < held.length; i++) {
        // A later identify may hold again: the rest waits behind it.
        if (state.waiting) {
          state.waiting.push(...held.slice(i));
          break;
        }
        api(...held[i]);
      }
    };
  });
  state.waiting = held;
  prepare(record, country()).then(held.finish, () => {
    warn('full_build_unavailable'); // the other fields still count
    held.finish();
  });
  return done;
}

// Leaving or hiding the page: held commands run now, then the batch window ends
// (keepalive carries the request).
function pageGoing() {
  if (state.waiting) state.waiting.finish();
  flushNow();
}

const commands = {
  init(config) {
    state.config = Object.assign({ endpoint: '', siteKey: '', lifetimeDays: 390, consentWait: true }, config || {});
    if (!state.identity) {
      const stored = storeGet(ID_KEY);
      if (stored && stored.keys && stored.expires > Date.now()) {
        state.identity = stored.keys;
        state.expires = stored.expires;
      }
    }
    // Consent given with `consent` earlier on this page stays; otherwise the cookie.
    if (!state.acsExplicit) state.acs = readAmznCookie();
    listenTcf();
    listenGpp();
    if (!state.listening.page) {
      state.listening.page = true;
      window.addEventListener('pagehide', safe(pageGoing));
      document.addEventListener('visibilitychange', safe(() => { if (document.visibilityState === 'hidden') pageGoing(); }));
    }
    consentChanged();
  },
  // ADDRESS, STATE and the phones the lite build defers need the full build, fetched
  // on first use: then identify answers a Promise of the rejects, and the commands after it wait for it, in order (`hold`).
  identify(record) {
    if (optedOut()) return warn('opted_out');
    record = record || {};
    return needsFull(record, country()) ? hold(record) : identifyNow(record);
  },
  track(name, props) {
    if (optedOut()) return warn('opted_out');
    props = props || {};
    const eventId = props.eventId === undefined ? uuid() : String(props.eventId);
    if (typeof name !== 'string' || !EVENT_NAME.test(name)) return warn('invalid_event_name');
    if (!EVENT_ID.test(eventId)) return warn('invalid_event_id');
    const event = {
      name,
      eventId,
      eventTime: new Date().toISOString(),
      country: country(),
      matchKeys: Object.assign({}, state.identity || {}),
    };
    if (props.value !== undefined) event.value = props.value;
    if (props.currency) event.currency = props.currency;
    if (props.units !== undefined) event.units = props.units;
    if (props.customData) event.customData = props.customData;
    // Amazon's Ad Tag on the same page gets the same id, so the two paths dedupe.
    if (typeof window.amzn === 'function') {
      window.amzn('trackEvent', name, { value: props.value, currencyCode: props.currency, unitsSold: props.units, clientDedupeId: eventId });
    }
    const now = verdict(consentRequired());
    if (now === 'send') send([attachConsent(event)]);
    else if (now === 'drop') warn('consent_denied');
    else if (state.config.consentWait === false) warn('consent_unknown');
    else state.pending = state.pending.concat(event).slice(-OUTBOX_MAX);
    return eventId;
  },
  consent(c) {
    c = c || {};
    const norm = (v) => (v === true || v === 'granted' || v === 'GRANTED' ? 'GRANTED' : 'DENIED');
    if (c.adStorage !== undefined || c.userData !== undefined) {
      state.acs = { amznUserData: norm(c.userData), amznAdStorage: norm(c.adStorage) };
      state.acsExplicit = true;
    }
    // The raw strings travel to Amazon; they grant nothing by themselves (only the CMP's
    // decoded data does).
    if (c.tcf !== undefined) state.strings.tcf = c.tcf;
    if (c.gpp !== undefined) state.strings.gpp = c.gpp;
    consentChanged();
  },
  // Joins or leaves an audience: with the hashed identity and the visitor id (the
  // audience's match method at the Worker decides which count); a removal only with the
  // visitor id, the one id a browser holds that nobody else can name.
  audience(name, action) {
    action = action === undefined ? 'add' : action;
    if (action !== 'add' && action !== 'remove') return warn('unknown_audience_action');
    if (typeof name !== 'string' || !name) return warn('invalid_audience_name');
    if (optedOut()) return warn('opted_out');
    if (verdict(consentRequired()) !== 'send') return warn('consent_not_granted');
    const visitorId = ensureVisitor();
    const who = {};
    if (visitorId) who.visitorId = visitorId;
    const hashed = state.identity && Object.keys(state.identity).length;
    if (action === 'add' && hashed) who.matchKeys = state.identity;
    if (!who.visitorId && !who.matchKeys) return warn('no_identity');
    if (action === 'remove' && !who.visitorId) return warn('no_visitor_id');
    const body = { country: country(), [action]: [who] };
    const c = consentBody();
    if (c) body.consent = c;
    sendAudiences({ [`/v1/audiences/${encodeURIComponent(name)}/members`]: { b: body, t: Date.now() } });
  },
  // The visitor says no: Amazon is asked to erase the visitor id, the page forgets it and
  // the hashed identity, and nothing is matched, stored or sent for them from now on.
  optOut() {
    forgetVisitor(true);
    state.identity = null;
    state.pending = [];
    state.unstored = [];
    storeRemove(ID_KEY);
    storeRemove(OUTBOX_KEY);
    storeRemove(AUDIENCE_KEY);
    storeSet(OPT_OUT_KEY, 1, 3650);
  },
  reset() {
    forgetVisitor(false);
    state.identity = null;
    state.pending = [];
    state.unstored = [];
    storeRemove(ID_KEY);
    storeRemove(OUTBOX_KEY);
  },
};

function api(command, ...args) {
  if (!state.config && command !== 'init') return;
  const fn = commands[command];
  if (!fn) return undefined;
  // Held behind an identify that waits for the full build; like the snippet's queue, the
  // call answers nothing.
  if (state.waiting) return void state.waiting.push([command, ...args]);
  return safe(fn)(...args);
}

// Replace the stub and replay its queue once the wasm is ready. Calls made meanwhile
// still land in the stub's queue and are replayed in order.
state.ready = init().then(safe(() => {
  const stub = window.matchkey;
  const queued = (stub && stub.q) || [];
  const real = (...args) => api(...args);
  real.loaded = true;
  real.v = VERSION;
  real.sent = (stub && stub.sent) || [];
  window.matchkey = real;
  for (const args of queued) api(...args);
}));
