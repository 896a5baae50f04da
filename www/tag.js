// The matchkey site tag: normalizes and hashes personal data in the page (wasm), keeps
// only hashes in first-party storage, reads consent, and sends events to the matchkey
// Worker. It never throws into the host page and never sends a raw value.
import init, { matchKeys } from '../pkg/matchkey.js';

const VERSION = 1;
const ID_KEY = 'matchkey_id';
const OUTBOX_KEY = 'matchkey_outbox';
const OUTBOX_MAX = 50;
const CONVERSION_TYPES = {
  purchase: 'OFF_AMAZON_PURCHASES', add_to_cart: 'ADD_TO_SHOPPING_CART', page_view: 'PAGE_VIEW',
  sign_up: 'SIGN_UP', subscribe: 'SUBSCRIBE', lead: 'LEAD', search: 'SEARCH', checkout: 'CHECKOUT',
  contact: 'CONTACT', application: 'APPLICATION',
};
// EEA, UK and CH: consent is required before anything is sent, unless configured otherwise.
const CONSENT_COUNTRIES = new Set(('AT BE BG CH CY CZ DE DK EE ES FI FR GB GR HR HU IE IS IT LI LT LU LV MT ' +
  'NL NO PL PT RO SE SI SK UK').split(' '));

const state = {
  config: null,
  identity: null, // {EMAIL: hash, …}
  consent: null, // Events API consent object, once known
  consentDenied: false,
  pending: [], // events waiting for consent
  ready: null,
};

function safe(fn) {
  return function () {
    try {
      return fn.apply(null, arguments);
    } catch (e) {
      if (state.config && state.config.debug) console.warn('matchkey:', e && e.code ? e.code : e && e.message);
    }
  };
}

// Storage: localStorage, with a first-party cookie when it is unavailable.
function storeGet(key) {
  try {
    const v = localStorage.getItem(key);
    if (v !== null) return JSON.parse(v);
  } catch (_) { /* fall through to the cookie */ }
  const m = document.cookie.match(new RegExp('(?:^|; )' + key + '=([^;]*)'));
  try { return m ? JSON.parse(decodeURIComponent(m[1])) : null; } catch (_) { return null; }
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
  return (state.config && state.config.country) || 'US';
}

function consentRequired() {
  const mode = state.config && state.config.consentMode;
  if (mode === 'required') return true;
  if (mode === 'optional' || mode === 'none') return false;
  return CONSENT_COUNTRIES.has(country().toUpperCase());
}

function granted(c) {
  if (!c) return false;
  if (c.amazonConsent) return c.amazonConsent.amznUserData === 'GRANTED' && c.amazonConsent.amznAdStorage !== 'DENIED';
  return Boolean(c.tcf || c.gpp);
}

function readCookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : null;
}

// Consent signals present on the page: TCF, GPP, Amazon's amzn_consent cookie.
function readPageConsent() {
  const consent = {};
  if (typeof window.__tcfapi === 'function') {
    window.__tcfapi('getTCData', 2, (data, ok) => { if (ok && data && data.tcString) consent.tcf = data.tcString; });
  }
  if (typeof window.__gpp === 'function') {
    window.__gpp('ping', (data, ok) => { if (ok !== false && data && data.gppString) consent.gpp = data.gppString; });
  }
  const amzn = readCookie('amzn_consent');
  if (amzn) {
    try {
      const c = JSON.parse(amzn);
      if (c.amznUserData) consent.amazonConsent = { amznUserData: c.amznUserData, amznAdStorage: c.amznAdStorage || c.amznUserData };
    } catch (_) { /* not the JSON form */ }
  }
  return Object.keys(consent).length ? consent : null;
}

function emit(body) {
  (window.matchkey.sent = window.matchkey.sent || []).push(body);
  try { window.dispatchEvent(new CustomEvent('matchkey:send', { detail: body })); } catch (_) { /* old browsers */ }
}

async function post(path, body) {
  const url = state.config.endpoint.replace(/\/$/, '') + path;
  emit(body);
  const res = await fetch(url, {
    method: 'POST', keepalive: true, credentials: 'omit', mode: 'cors',
    headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body),
  });
  if (!res.ok && res.status !== 202) throw new Error(`status ${res.status}`);
}

function outbox(events) {
  const kept = (storeGet(OUTBOX_KEY) || []).concat(events).slice(-OUTBOX_MAX);
  storeSet(OUTBOX_KEY, kept, 7);
}

function send(events) {
  if (!events.length) return;
  post('/v1/events', { siteKey: state.config.siteKey, v: VERSION, events }).catch(() => outbox(events));
}

function flushOutbox() {
  const events = storeGet(OUTBOX_KEY);
  if (events && events.length) {
    storeRemove(OUTBOX_KEY);
    send(events);
  }
}

function deliver(event) {
  if (consentRequired() && !granted(state.consent)) {
    if (!state.consentDenied) state.pending.push(event);
    return;
  }
  if (state.consent) event.consent = state.consent;
  send([event]);
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const commands = {
  init(config) {
    state.config = Object.assign({ endpoint: '', siteKey: '', lifetimeDays: 390 }, config || {});
    const stored = storeGet(ID_KEY);
    state.identity = stored && stored.expires > Date.now() ? stored.keys : null;
    // Consent given explicitly earlier on this page stays; otherwise read the page's signals.
    if (!state.consent) state.consent = readPageConsent();
    flushOutbox();
  },
  identify(record) {
    const keys = matchKeys(record || {}, country());
    const identity = Object.assign({}, state.identity || {});
    for (const k of keys) identity[k.type] = k.values[0];
    state.identity = identity;
    const days = state.config.lifetimeDays;
    storeSet(ID_KEY, { keys: identity, expires: Date.now() + days * 86400000 }, days);
    return keys.rejected;
  },
  track(name, props) {
    props = props || {};
    const eventId = props.eventId || uuid();
    const event = {
      name,
      conversionType: CONVERSION_TYPES[name] || 'OTHER',
      eventId,
      eventTime: new Date().toISOString(),
      country: country().toUpperCase() === 'UK' ? 'GB' : country().toUpperCase(),
      matchKeys: Object.assign({}, state.identity || {}),
    };
    if (props.value !== undefined) event.value = props.value;
    if (props.currency) event.currency = props.currency;
    if (props.units !== undefined) event.units = props.units;
    if (props.customData) event.customData = props.customData;
    if (state.config.dataSetName) event.dataSetName = state.config.dataSetName;
    // Amazon's Ad Tag on the same page gets the same id, so the two paths dedupe.
    if (typeof window.amzn === 'function') {
      window.amzn('trackEvent', name, { value: props.value, currencyCode: props.currency, unitsSold: props.units, clientDedupeId: eventId });
    }
    deliver(event);
    return eventId;
  },
  consent(c) {
    c = c || {};
    const norm = (v) => (v === true || v === 'granted' || v === 'GRANTED' ? 'GRANTED' : 'DENIED');
    const consent = {};
    if (c.adStorage !== undefined || c.userData !== undefined) {
      consent.amazonConsent = { amznUserData: norm(c.userData), amznAdStorage: norm(c.adStorage) };
    }
    if (c.tcf) consent.tcf = c.tcf;
    if (c.gpp) consent.gpp = c.gpp;
    state.consent = consent;
    state.consentDenied = !granted(consent);
    const waiting = state.pending;
    state.pending = [];
    if (!state.consentDenied) for (const e of waiting) deliver(e);
  },
  audience(name, action) {
    if (!state.identity) return;
    const member = { matchKeys: state.identity };
    const body = { siteKey: state.config.siteKey, country: country(), [action === 'remove' ? 'remove' : 'add']: [member] };
    if (consentRequired() && !granted(state.consent)) return;
    if (state.consent) body.consent = state.consent;
    post(`/v1/audiences/${encodeURIComponent(name)}/members`, body).catch(() => {});
  },
  reset() {
    state.identity = null;
    storeRemove(ID_KEY);
    storeRemove(OUTBOX_KEY);
  },
};

function api(command, ...args) {
  if (!state.config && command !== 'init') return;
  const fn = commands[command];
  return fn ? safe(fn)(...args) : undefined;
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
