// The matchkey console: plain ES module, no framework. Each view reads the admin API
// (with the session cookie; changes carry the session's CSRF token) and renders with
// textContent only, so nothing the API answers is ever parsed as HTML. No match-key
// value, secret or token is shown, except a new ingest secret or sign-in key, once.
const view = document.getElementById('view');
let session = null;
let poll = null;

/** An element: h('td', {class: 'x'}, 'text', child, …). */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

function table(headers, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c ?? '—'))))));
}

function when(iso) {
  if (!iso) return '—';
  const d = typeof iso === 'number' ? new Date(iso) : new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

function badge(text, kind = text) {
  return h('span', { class: `badge ${kind}` }, text);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** The admin API: JSON in and out, the CSRF token on every change. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (method !== 'GET') headers['x-csrf-token'] = session?.csrf || '';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (r.status === 401) {
    location.assign('/console/sign-in');
    throw new ApiError(401, { error: 'session_expired' });
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function failure(e) {
  return h('p', { class: 'err', role: 'alert' }, `Failed: ${e.body?.error || e.message}`);
}

/** A confirmation in a modal <dialog> (keyboard: Tab, Enter, Esc). */
function confirmed(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

async function integrations() {
  const data = await api('/v1/admin/integrations');
  const list = data.integrations.map((i) => ({ id: i.id, label: `${i.name} (${i.id})`, i }));
  if (data.default) list.unshift({ id: 'default', label: `Default from vars (${data.default.advertiser_id})`, i: null });
  return list;
}

async function integrationPicker(onChange) {
  const list = await integrations();
  const chosen = new URLSearchParams(location.hash.split('?')[1] || '').get('integration') || list[0]?.id;
  const select = h('select', { id: 'integration', 'aria-label': 'Integration' },
    list.map((x) => h('option', { value: x.id, selected: x.id === chosen }, x.label)));
  select.addEventListener('change', () => onChange(select.value));
  return { select, chosen, list };
}

// ---- Integrations ---------------------------------------------------------------------

// Connections are an admin's: for an operator or a viewer, none to show.
function connectionsOrNone() {
  return api('/v1/admin/connections').catch((e) => (e.status === 403 ? { connections: [] } : Promise.reject(e)));
}

async function showIntegrations() {
  const [data, conns] = await Promise.all([api('/v1/admin/integrations'), connectionsOrNone()]);
  const rows = data.integrations.map((i) => [
    h('a', { href: `#integration?id=${encodeURIComponent(i.id)}` }, i.name),
    i.id, i.config.advertiser_id, i.config.region, h('code', {}, i.site_key), i.connection_id || 'Worker grant',
    i.disabled ? badge('disabled', 'warn') : badge('enabled', 'ok'),
    h('span', {}, h('a', { href: `#integration?id=${encodeURIComponent(i.id)}` }, 'Edit'), ' ',
      h('button', { type: 'button', onclick: () => toggle(i) }, i.disabled ? 'Enable' : 'Disable')),
  ]);
  view.replaceChildren(
    h('h1', {}, 'Integrations'),
    h('p', {}, h('a', { class: 'button', href: '#integration' }, 'Install an integration')),
    table(['Name', 'Id', 'Advertiser', 'Region', 'Site key', 'Connection', 'State', ''], rows, 'No integration installed yet.'),
    data.default ? h('p', { class: 'hint' }, `The default integration comes from the Worker's vars (advertiser ${data.default.advertiser_id}, ${data.default.region}).`) : '',
    conns.connections.length ? '' : h('p', { class: 'hint' }, 'No Amazon account connected: an integration without a connection uses the Worker\'s own grant.'),
  );
}

async function toggle(i) {
  const action = i.disabled ? 'enable' : 'disable';
  if (!i.disabled && !(await confirmed(`Disable ${i.name}? New events are refused; what was accepted is still delivered.`))) return;
  await api(`/v1/admin/integrations/${encodeURIComponent(i.id)}/${action}`, { method: 'POST' });
  route();
}

function field(label, name, input, hint) {
  return h('div', { class: 'field', 'data-field': name }, h('label', { for: `f-${name}` }, label), input,
    hint ? h('small', { class: 'hint' }, hint) : '', h('span', { class: 'err', 'aria-live': 'polite' }));
}

function lines(text) {
  return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

async function showIntegrationForm(id) {
  const [conns, existing] = await Promise.all([
    connectionsOrNone(),
    id ? api(`/v1/admin/integrations/${encodeURIComponent(id)}`) : null,
  ]);
  const i = existing || { config: { region: 'NA' }, event_map: {}, allowed_origins: [], audiences: [] };
  const input = (name, value, attrs = {}) => h('input', { id: `f-${name}`, name, value: value ?? '', ...attrs });
  const types = session.defaults.conversionTypes;
  const typeSelect = (name, value) => h('select', { name: 'type', 'aria-label': `Conversion type of ${name || 'the new event'}` },
    h('option', { value: '' }, '(default)'), types.map((t) => h('option', { value: t, selected: t === value }, t)));
  const defaults = new Map(session.defaults.eventMap);
  const mapRows = h('tbody');
  const addMapRow = (name, type, fixed) => {
    const nameInput = h('input', { name: 'event', value: name, 'aria-label': 'Event name', readonly: fixed });
    mapRows.append(h('tr', {}, h('td', {}, nameInput), h('td', {}, typeSelect(name, type)),
      h('td', {}, fixed ? h('small', { class: 'hint' }, `default ${defaults.get(name)}`) : '')));
  };
  for (const [name] of defaults) addMapRow(name, i.event_map[name] || '', true);
  for (const [name, type] of Object.entries(i.event_map)) if (!defaults.has(name)) addMapRow(name, type, false);
  const connection = h('select', { id: 'f-connection_id', name: 'connection_id' },
    h('option', { value: '' }, 'The Worker\'s own grant (LWA_REFRESH_TOKEN)'),
    conns.connections.map((c) => h('option', { value: c.id, selected: c.id === i.connection_id }, `${c.label || c.id} (${c.region}, ${c.token_state})`)));
  const advertiser = input('advertiser_id', i.config.advertiser_id, { required: true, list: 'advertisers' });
  const advertisers = h('datalist', { id: 'advertisers' });
  const region = h('select', { id: 'f-region', name: 'region' }, ['NA', 'EU', 'FE'].map((r) => h('option', { selected: r === i.config.region }, r)));
  const picked = h('span', { class: 'hint', 'aria-live': 'polite' });
  const loadAccounts = async () => {
    picked.textContent = '';
    if (!connection.value) { picked.textContent = 'Pick a connection first.'; return; }
    try {
      const a = await api(`/v1/admin/connections/${encodeURIComponent(connection.value)}/accounts`);
      const options = [
        ...a.profiles.filter((p) => p.accountType !== 'agency').map((p) => [p.accountId, `${p.accountName} (${p.accountType}, profile ${p.profileId})`]),
        ...a.advertisers.map((d) => [d.advertiserId, `${d.name} (DSP advertiser, ${d.country})`]),
      ];
      advertisers.replaceChildren(...options.map(([v, l]) => h('option', { value: v }, l)));
      region.value = a.region;
      picked.textContent = `${options.length} advertiser(s) found in ${a.region}: type or pick one.`;
    } catch (e) {
      picked.textContent = `Could not list advertisers: ${e.body?.error || e.message}`;
    }
  };
  const form = h('form', { id: 'integration-form', novalidate: true },
    h('p', { id: 'form-errors', class: 'err', role: 'alert', hidden: true }),
    field('Name', 'name', input('name', i.name, { required: true, maxlength: 100 })),
    field('Variant', 'variant', h('select', { id: 'f-variant', name: 'variant' }, ['events', 'legacy_dsp', 'audiences'].map((v) => h('option', { selected: v === (i.variant || 'events') }, v)))),
    field('Amazon connection', 'connection_id', connection),
    h('div', { class: 'field', 'data-field': 'config.advertiser_id' },
      h('label', { for: 'f-advertiser_id' }, 'Advertiser id'), advertiser, advertisers,
      h('button', { type: 'button', onclick: loadAccounts }, 'Find advertisers'), picked, h('span', { class: 'err', 'aria-live': 'polite' })),
    field('Region', 'config.region', region),
    field('Data set name', 'config.data_set_name', input('data_set_name', i.config.data_set_name), 'Optional: Events API dataSetName.'),
    field('Audience advertiser number', 'config.amc_advertiser_id', input('amc_advertiser_id', i.config.amc_advertiser_id, { inputmode: 'numeric' }), 'The numeric DSP advertiser id audiences target: needed when browsers may join audiences.'),
    field('Allowed origins', 'allowed_origins', h('textarea', { id: 'f-allowed_origins', name: 'allowed_origins', rows: 2 }, i.allowed_origins.join('\n')), 'One https://host per line: the pages that may send.'),
    h('fieldset', { 'data-field': 'event_map' }, h('legend', {}, 'Event map'),
      h('table', { class: 'map' }, h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Conversion type'), h('th', {}, ''))), mapRows),
      h('button', { type: 'button', onclick: () => addMapRow('', 'OTHER', false) }, 'Add a custom event'),
      h('span', { class: 'err', 'aria-live': 'polite' })),
    field('Audiences browsers may join', 'audiences', h('textarea', { id: 'f-audiences', name: 'audiences', rows: 2 }, i.audiences.map((a) => (a.match_method && a.match_method !== 'hashed' ? `${a.name}:${a.match_method}` : a.name)).join('\n')), 'One per line: name, or name:cookie / name:both.'),
    h('button', { type: 'submit' }, id ? 'Save' : 'Install'),
  );
  const result = h('section', { id: 'result' });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const s of form.querySelectorAll('.err')) { s.textContent = ''; }
    form.querySelector('#form-errors').hidden = true;
    const eventMap = {};
    for (const row of mapRows.querySelectorAll('tr')) {
      const name = row.querySelector('[name=event]').value.trim();
      const type = row.querySelector('[name=type]').value;
      if (name && type) eventMap[name] = type;
    }
    const config = { ...i.config, advertiser_id: advertiser.value.trim(), region: region.value };
    const ds = form.querySelector('#f-data_set_name').value.trim();
    if (ds) config.data_set_name = ds; else delete config.data_set_name;
    const amc = form.querySelector('#f-amc_advertiser_id').value.trim();
    if (amc) config.amc_advertiser_id = amc; else delete config.amc_advertiser_id;
    const body = {
      name: form.querySelector('#f-name').value.trim(),
      variant: form.querySelector('#f-variant').value,
      connection_id: connection.value || null,
      config,
      delivery_mode: 'server_side',
      allowed_origins: lines(form.querySelector('#f-allowed_origins').value),
      event_map: eventMap,
      // `name`, or `name:cookie` / `name:both` (cookie matching needs the Data Provider API).
      audiences: lines(form.querySelector('#f-audiences').value).map((line) => {
        const [name, method] = line.split(':').map((x) => x.trim());
        return { name, match_method: method || 'hashed' };
      }),
    };
    if (id) body.site_key = i.site_key;
    try {
      const saved = await api(id ? `/v1/admin/integrations/${encodeURIComponent(id)}` : '/v1/admin/integrations', { method: id ? 'PUT' : 'POST', body });
      result.replaceChildren(
        h('h2', {}, id ? 'Saved' : 'Installed'),
        h('p', {}, 'Site key ', h('code', { id: 'site-key' }, saved.site_key), ' · id ', h('code', {}, saved.id)),
        saved.ingest_secret ? h('p', { class: 'once' }, 'Ingest secret for your servers (shown this once): ', h('code', {}, saved.ingest_secret)) : '',
        h('p', {}, 'Paste this in the <head> of every page of the site:'),
        h('pre', { id: 'snippet' }, saved.snippet),
      );
      result.focus();
    } catch (err) {
      const fields = err.body?.fields || [];
      const unplaced = [];
      for (const f of fields) {
        const host = form.querySelector(`[data-field="${CSS.escape(f.field)}"]`)
          || form.querySelector(`[data-field="${CSS.escape(f.field.split(/[.[]/)[0])}"]`);
        const slot = host?.querySelector(':scope > .err');
        if (slot) slot.textContent = `${f.field}: ${f.reason}`; else unplaced.push(`${f.field}: ${f.reason}`);
      }
      const summary = form.querySelector('#form-errors');
      summary.textContent = fields.length ? `Not saved: ${fields.length} field(s) to fix. ${unplaced.join('; ')}` : `Not saved: ${err.body?.error || err.message}`;
      summary.hidden = false;
      (form.querySelector('.field .err:not(:empty)')?.closest('[data-field]')?.querySelector('input, select, textarea') || summary).focus?.();
    }
  });
  view.replaceChildren(h('h1', {}, id ? `Edit ${i.name}` : 'Install an integration'),
    id ? h('p', {}, 'Site key ', h('code', {}, i.site_key), ' · snippet:', h('pre', {}, i.snippet)) : '', form, result);
  result.tabIndex = -1;
}

// ---- Connections ----------------------------------------------------------------------

function daysLeft(granted) {
  const t = Date.parse(granted);
  return Number.isNaN(t) ? null : Math.floor((t + 365 * 86400000 - Date.now()) / 86400000);
}

async function showConnections() {
  const data = await connectionsOrNone();
  const accounts = h('section', { id: 'accounts' });
  const rows = data.connections.map((c) => {
    const left = daysLeft(c.granted_at);
    return [c.label || '—', h('code', {}, c.id), c.region,
      c.token_state === 'reconnect_needed' ? badge('reconnect needed', 'bad') : badge(c.token_state, c.token_state === 'ok' ? 'ok' : 'warn'),
      left === null ? '—' : (left <= 30 ? badge(`${left} days left`, 'warn') : `${left} days`),
      when(c.token_checked_at), c.last_error || '—',
      h('button', { type: 'button', onclick: () => showAccounts(c.id, accounts) }, 'Advertisers')];
  });
  const form = h('form', { id: 'connect-form' },
    h('h2', {}, 'Connect an Amazon Ads account'),
    h('label', { for: 'c-label' }, 'Label'), h('input', { id: 'c-label', maxlength: 100 }),
    h('label', { for: 'c-region' }, 'Region'), h('select', { id: 'c-region' }, ['NA', 'EU', 'FE'].map((r) => h('option', {}, r))),
    h('label', {}, h('input', { type: 'checkbox', id: 'c-audiences' }), ' also audiences (AMC) scope'),
    h('button', { type: 'submit' }, 'Connect'),
    h('p', { id: 'connect-result', 'aria-live': 'polite' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = form.querySelector('#connect-result');
    try {
      const r = await api('/v1/connect/start', { method: 'POST', body: { region: form.querySelector('#c-region').value, label: form.querySelector('#c-label').value || null, audiences: form.querySelector('#c-audiences').checked } });
      out.replaceChildren('Open Amazon\'s consent page (signed in to the Ads account); it returns to this Worker within 10 minutes: ',
        h('a', { id: 'authorization-url', href: r.authorization_url, target: '_blank', rel: 'noopener noreferrer' }, 'Authorize at Amazon'),
        h('br'), h('small', { class: 'hint' }, `Redirect URI (must be an Allowed Return URL of the security profile): ${r.redirect_uri}`));
      window.open(r.authorization_url, '_blank', 'noopener,noreferrer');
    } catch (err) {
      out.replaceChildren(failure(err));
    }
  });
  view.replaceChildren(h('h1', {}, 'Connections'),
    table(['Label', 'Id', 'Region', 'Token', 'Refresh token', 'Checked', 'Last error', ''], rows, 'No Amazon account connected yet.'),
    h('p', { class: 'hint' }, 'Amazon\'s refresh tokens end 365 days after consent: reconnect before then.'),
    accounts, form);
}

async function showAccounts(id, into) {
  into.replaceChildren(h('p', {}, 'Asking Amazon…'));
  try {
    const a = await api(`/v1/admin/connections/${encodeURIComponent(id)}/accounts`);
    into.replaceChildren(h('h2', {}, `What ${id} reaches (${a.region})`),
      table(['Profile', 'Account', 'Name', 'Type', 'Country'], a.profiles.map((p) => [p.profileId, p.accountId, p.accountName, p.accountType, p.countryCode])),
      a.advertisers.length ? table(['DSP advertiser', 'Name', 'Country', 'Profile'], a.advertisers.map((d) => [d.advertiserId, d.name, d.country, d.profileId])) : '');
  } catch (e) {
    into.replaceChildren(failure(e));
  }
}

// ---- Live events ----------------------------------------------------------------------

async function showLive() {
  const body = h('div', { id: 'live' });
  const { select, chosen } = await integrationPicker((v) => { location.hash = `#live?integration=${encodeURIComponent(v)}`; });
  view.replaceChildren(h('h1', {}, 'Live events'), h('p', {}, select, ' ', h('small', { class: 'hint' }, 'The last 300 events, newest first; refreshed every 2 seconds. Match keys are shown by type only.')), body);
  if (!chosen) { body.replaceChildren(h('p', { class: 'empty' }, 'No integration yet.')); return; }
  const refresh = async () => {
    try {
      const data = await api(`/v1/admin/integrations/${encodeURIComponent(chosen)}/live`);
      body.replaceChildren(table(['Accepted', 'Event', 'Conversion type', 'Country', 'Match keys', 'Consent', 'State', 'Event id'],
        data.events.map((e) => [when(e.at), e.name, e.conversionType || '—', e.country || '—', e.matchKeys.join(', '), e.consent,
          h('span', {}, badge(e.state.replace('_', ' '), e.state), e.code ? ` ${e.code}` : '', e.field ? ` (${e.field})` : '', e.replayed ? ' replayed' : ''),
          h('code', {}, e.eventId)]), 'No event yet: send one from the site.'));
    } catch (e) {
      body.replaceChildren(failure(e));
    }
  };
  await refresh();
  poll = setInterval(refresh, 2000);
}

// ---- Deliveries -----------------------------------------------------------------------

async function showDeliveries() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const list = await integrations();
  const filters = h('form', { id: 'filters', class: 'row' },
    h('label', {}, 'Integration ', h('select', { name: 'integration' }, h('option', { value: '' }, 'All'), list.map((x) => h('option', { value: x.id, selected: x.id === params.get('integration') }, x.label)))),
    h('label', {}, 'Status ', h('select', { name: 'status' }, ['', 'delivered', 'retry', 'dead_lettered'].map((s) => h('option', { value: s, selected: s === (params.get('status') || '') }, s || 'Any')))),
    h('label', {}, 'Since ', h('input', { type: 'datetime-local', name: 'since', value: params.get('since') || '' })),
    h('label', {}, 'Until ', h('input', { type: 'datetime-local', name: 'until', value: params.get('until') || '' })),
    h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) q.set(k, v);
    location.hash = `#deliveries?${q}`;
  });
  const q = new URLSearchParams({ limit: '200' });
  for (const k of ['integration', 'status']) if (params.get(k)) q.set(k, params.get(k));
  for (const k of ['since', 'until']) if (params.get(k)) q.set(k, new Date(params.get(k)).toISOString());
  let data;
  try {
    data = await api(`/v1/deliveries?${q}`);
  } catch (e) {
    view.replaceChildren(h('h1', {}, 'Deliveries'), filters, failure(e));
    return;
  }
  const identity = Object.entries(data.accounting).map(([id, a]) => {
    const balanced = a.accepted === a.delivered + a.rejected + a.deadLettered + a.pending;
    return h('li', {}, h('strong', {}, id), `: accepted ${a.accepted} = delivered ${a.delivered} + rejected ${a.rejected} + dead-lettered ${a.deadLettered} + pending ${a.pending} `,
      balanced ? badge('balanced', 'ok') : badge('unbalanced', 'bad'), a.replayed ? ` (replayed ${a.replayed})` : '',
      a.repeats ? ` (repeats absorbed ${a.repeats})` : '', a.unchecked ? ` (unchecked ${a.unchecked})` : '',
      h('button', { type: 'button', onclick: () => replay(id) }, 'Replay dead letters'));
  });
  view.replaceChildren(h('h1', {}, 'Deliveries'), h('ul', { id: 'accounting', class: 'identity' }, identity), filters,
    h('h2', {}, 'Batches'),
    table(['At', 'Integration', 'Batch', 'Events', 'Accepted', 'Failed', 'HTTP', 'Status', 'Amazon code'],
      data.deliveries.map((d) => [when(d.at), d.integration, h('code', {}, d.batch_id.slice(0, 8)), d.events, d.accepted, d.failed, d.http_status, badge(d.status), d.amazon_code])),
    h('h2', {}, 'Events Amazon refused'),
    table(['At', 'Integration', 'Event id', 'Code', 'Field'], data.failedEvents.map((f) => [when(f.at), f.integration, h('code', {}, f.event_id), f.amazon_code, f.field_location])),
    h('h2', {}, 'Dead letters'),
    table(['At', 'Integration', 'Event id', 'Event time', 'Reason', 'Replayed'],
      data.deadLetters.map((d) => [when(d.at), d.integration, h('code', {}, d.event_id), when(d.event_time), d.reason, d.replayed_at ? when(d.replayed_at.split('#')[0]) : badge('waiting', 'warn')]), 'No dead letter.'),
    h('p', { id: 'replay-result', 'aria-live': 'polite' }));
}

async function replay(id) {
  if (!(await confirmed(`Replay the dead letters of ${id}? Those still inside Amazon's 21-day window are queued again (up to 500).`))) return;
  const out = document.getElementById('replay-result');
  try {
    const r = await api(`/v1/replay?integration=${encodeURIComponent(id)}`, { method: 'POST' });
    await showDeliveries();
    document.getElementById('replay-result').textContent = `Replayed ${r.replayed}${r.more ? ' (more waiting: replay again)' : ''}.`;
  } catch (e) {
    out.replaceChildren(failure(e));
  }
}

// ---- Health ---------------------------------------------------------------------------

async function showHealth() {
  const list = await integrations();
  const conns = await connectionsOrNone();
  const rows = [];
  for (const x of list) {
    try {
      const hd = await api(`/v1/health?integration=${encodeURIComponent(x.id)}`);
      rows.push([x.label, badge(hd.status, hd.status === 'ok' ? 'ok' : 'bad'), hd.tokenState, hd.queueBacklog ?? 0, when(hd.lastSuccessAt),
        hd.lastErrorCode ? `${hd.lastErrorCode} (${when(hd.lastErrorAt)})` : '—',
        hd.warnings.map((w) => (w.code === 'refresh_token_expiring' ? `refresh token: ${w.daysLeft} days left, reconnect` : 'reconnect the Amazon account, then replay')).join('; ') || '—']);
    } catch (e) {
      rows.push([x.label, badge('unknown', 'warn'), '—', '—', '—', e.body?.error || e.message, '—']);
    }
  }
  const connRows = conns.connections.map((c) => {
    const left = daysLeft(c.granted_at);
    return [c.label || c.id, c.token_state, left ?? '—', c.token_state === 'reconnect_needed' ? 'Reconnect it (Connections), then replay dead letters.' : (left !== null && left <= 30 ? 'Reconnect before the refresh token expires.' : '—')];
  });
  const checks = h('section', { id: 'checks' }, h('p', {}, 'Running the checks…'));
  view.replaceChildren(h('h1', {}, 'Health'),
    table(['Integration', 'Status', 'Token', 'Backlog', 'Last success', 'Last error', 'What to do'], rows),
    h('h2', {}, 'Connections'), table(['Connection', 'Token', 'Days left of 365', 'What to do'], connRows, 'No connection.'), checks);
  try {
    const c = await api('/v1/admin/check');
    checks.replaceChildren(h('h2', {}, c.ok ? 'Checks: all pass' : 'Checks: something to fix'),
      table(['Check', 'Status', 'Detail', 'Fix'], c.items.map((i) => [i.id, badge(i.status, i.status === 'ok' ? 'ok' : i.status === 'warn' ? 'warn' : 'bad'), i.detail, i.fix || '—'])),
      c.manual?.length ? h('ul', {}, c.manual.map((m) => h('li', {}, typeof m === 'string' ? m : (m.detail || m.id)))) : '');
  } catch (e) {
    checks.replaceChildren(failure(e));
  }
}

// ---- Try it ---------------------------------------------------------------------------

async function sha256hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The request body with each match-key value named, not shown (the console shows no match-key value). */
function withoutValues(body) {
  const copy = structuredClone(body ?? {});
  for (const event of copy.events || copy.eventData || []) {
    for (const key of event.matchKeys || []) {
      if (Array.isArray(key.values)) key.values = key.values.map(() => `<SHA-256 of the ${key.type} typed here>`);
    }
  }
  return copy;
}

async function showTry() {
  const { select, chosen } = await integrationPicker(() => {});
  const example = { name: 'purchase', country: 'US', value: 42.5, currency: 'USD', consent: { amazonConsent: { amznUserData: 'GRANTED', amznAdStorage: 'GRANTED' } } };
  const form = h('form', { id: 'try-form' },
    h('label', {}, 'Integration ', select),
    h('label', { for: 't-event' }, 'Event (as the tag sends it, without match keys)'),
    h('textarea', { id: 't-event', rows: 6 }, JSON.stringify(example, null, 2)),
    h('label', { for: 't-email' }, 'E-mail (already normalized: trimmed, lower case)'), h('input', { id: 't-email', type: 'email', autocomplete: 'off' }),
    h('label', { for: 't-phone' }, 'Phone (already normalized: E.164 digits)'), h('input', { id: 't-phone', autocomplete: 'off' }),
    h('p', { class: 'hint' }, 'Personal values are hashed here with SHA-256 (Web Crypto) before anything is sent; only the digests leave the page, and the request below names them rather than showing them. Normalize them first (the page does not apply matchkey\'s full rules).'),
    h('button', { type: 'submit' }, 'Show the Amazon request'));
  const out = h('section', { id: 'try-result', 'aria-live': 'polite' });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let event;
    try { event = JSON.parse(form.querySelector('#t-event').value); } catch { out.replaceChildren(h('p', { class: 'err' }, 'The event is not valid JSON.')); return; }
    event.matchKeys = {};
    const email = form.querySelector('#t-email').value.trim().toLowerCase();
    const phone = form.querySelector('#t-phone').value.trim();
    if (email) event.matchKeys.EMAIL = await sha256hex(email);
    if (phone) event.matchKeys.PHONE = await sha256hex(phone);
    form.querySelector('#t-email').value = '';
    form.querySelector('#t-phone').value = '';
    try {
      const r = await api(`/v1/admin/integrations/${encodeURIComponent(select.value || chosen)}/validate`, { method: 'POST', body: event });
      out.replaceChildren(
        r.rejected.length ? h('ul', { class: 'err' }, r.rejected.map((x) => h('li', {}, `${x.field}: ${x.reason}`))) : h('p', {}, badge('accepted', 'ok'), ' Amazon would receive:'),
        r.warnings.length ? h('p', { class: 'hint' }, `Warnings: ${r.warnings.map((w) => `${w.field}: ${w.reason}`).join('; ')}`) : '',
        h('pre', { id: 'amazon-request' }, `${r.request.method} ${r.request.url}\n${Object.entries(r.request.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${JSON.stringify(withoutValues(r.request.body), null, 2)}`));
    } catch (err) {
      out.replaceChildren(failure(err));
    }
  });
  view.replaceChildren(h('h1', {}, 'Try it'), form, out);
}

// ---- Audiences ------------------------------------------------------------------------

async function showAudiences() {
  const body = h('div', { id: 'audiences' });
  const { select, chosen } = await integrationPicker((v) => { location.hash = `#audiences?integration=${encodeURIComponent(v)}`; });
  view.replaceChildren(h('h1', {}, 'Audiences'), h('p', {}, select), body);
  if (!chosen) return;
  try {
    const data = await api(`/v1/admin/integrations/${encodeURIComponent(chosen)}/audiences`);
    body.replaceChildren(table(['Audience', 'Members sent', 'Pending', 'Rejected', 'Superseded', 'Note'],
      data.audiences.map((a) => [a.name, a.counters?.sent ?? 0, a.pending ?? 0, a.counters?.rejected ?? 0, a.counters?.superseded ?? 0,
        a.belowThreshold ? badge(`under Amazon's ${a.activationThreshold.toLocaleString('en-US')}-member activation threshold`, 'warn') : badge('above the activation threshold', 'ok')]),
    'This integration has no audience.'),
    h('p', { class: 'hint' }, 'Members sent counts adds and removes the Worker delivered; Amazon matches only part of them, and an audience is usable for targeting from about 2,000 matched members.'));
  } catch (e) {
    body.replaceChildren(failure(e));
  }
}

// ---- People ---------------------------------------------------------------------------

async function showPeople() {
  const [users, sessions, audit] = await Promise.all([api('/v1/admin/users'), api('/v1/admin/sessions'), api('/v1/admin/audit?limit=200')]);
  const invite = h('form', { id: 'invite-form', class: 'row' },
    h('div', { class: 'field', 'data-field': 'name' }, h('label', { for: 'u-name' }, 'Name'), h('input', { id: 'u-name', maxlength: 100 }), h('span', { class: 'err' })),
    h('div', { class: 'field', 'data-field': 'role' }, h('label', { for: 'u-role' }, 'Role'),
      h('select', { id: 'u-role' }, h('option', { value: 'viewer' }, 'viewer: reads'), h('option', { value: 'operator' }, 'operator: replay, flush, edit'), h('option', { value: 'admin' }, 'admin: everything'))),
    h('div', { class: 'field', 'data-field': 'integrations' }, h('label', { for: 'u-integrations' }, 'Integrations (ids, comma-separated)'), h('input', { id: 'u-integrations', maxlength: 2000 })),
    h('button', { type: 'submit' }, 'Invite'));
  const out = h('p', { id: 'invite-result', 'aria-live': 'polite' });
  invite.addEventListener('submit', async (e) => {
    e.preventDefault();
    invite.querySelector('.err').textContent = '';
    try {
      const integrations = invite.querySelector('#u-integrations').value.split(',').map((x) => x.trim()).filter(Boolean);
      const u = await api('/v1/admin/users', { method: 'POST', body: { name: invite.querySelector('#u-name').value, role: invite.querySelector('#u-role').value, integrations } });
      await showPeople();
      document.getElementById('invite-result').replaceChildren(`${u.name}'s sign-in key (shown this once; hand it over privately): `, h('code', { id: 'new-key' }, u.sign_in_key));
    } catch (err) {
      const f = err.body?.fields?.[0];
      if (f) invite.querySelector('.err').textContent = `${f.field}: ${f.reason}`; else out.replaceChildren(failure(err));
    }
  });
  const revoke = async (kind, id, what) => {
    if (!(await confirmed(`Revoke ${what}?`))) return;
    await api(`/v1/admin/${kind}/${encodeURIComponent(id)}/revoke`, { method: 'POST' });
    showPeople();
  };
  view.replaceChildren(h('h1', {}, 'People'),
    table(['Name', 'Id', 'Role', 'Integrations', 'Invited by', 'Since', 'State', ''], users.users.map((u) => [u.name, h('code', {}, u.id), u.role, u.role === 'admin' ? 'all' : (u.integrations || []).join(', '), u.invited_by, when(u.created_at),
      u.revoked_at ? badge('revoked', 'bad') : badge('active', 'ok'),
      u.revoked_at ? '' : h('button', { type: 'button', onclick: () => revoke('users', u.id, `${u.name}'s key and sessions, and those of everyone they invited`) }, 'Revoke')]), 'Only the admin key so far.'),
    h('h2', {}, 'Invite someone'), invite, out,
    h('h2', {}, 'Sessions'),
    h('p', {}, h('button', { type: 'button', id: 'revoke-all', onclick: async () => {
      if (!(await confirmed('Sign out everyone, you too? (After a leaked key: rotate ADMIN_KEY first.)'))) return;
      await api('/v1/admin/sessions/revoke-all', { method: 'POST' });
      location.assign('/console/sign-in');
    } }, 'Sign out everyone')),
    table(['Who', 'Session', 'Signed in', 'Last seen', 'State', ''], sessions.sessions.map((s) => [s.user_name, h('code', {}, s.id), when(s.created_ms), when(s.last_ms),
      s.current ? badge('this one', 'ok') : (s.alive ? badge('active', 'ok') : badge('ended', 'muted')),
      s.alive && !s.current ? h('button', { type: 'button', onclick: () => revoke('sessions', s.id, `${s.user_name}'s session`) }, 'Revoke') : ''])),
    h('h2', {}, 'Audit log'),
    h('section', { id: 'audit' }, table(['When', 'Who', 'Action', 'Target', 'Status', 'With'],
      audit.audit.map((a) => [when(a.at), `${a.actor_name} (${a.actor_id})`, a.action, a.target, a.status, a.via]), 'No change yet.')));
}

// ---- Hash a file ------------------------------------------------------------------------

/** The CLI's field names (`--map column=FIELD`). */
const FIELDS = ['EMAIL', 'PHONE', 'FIRST_NAME', 'LAST_NAME', 'ADDRESS', 'CITY', 'STATE', 'POSTAL', 'MAID', 'RAMP_ID', 'MATCH_ID'];
/** A first guess from a column's name (the operator changes it). */
const GUESS = [[/e-?mail/, 'EMAIL'], [/phone|mobile|tel/, 'PHONE'], [/^first|given/, 'FIRST_NAME'], [/^last|surname|family/, 'LAST_NAME'],
  [/address|street/, 'ADDRESS'], [/city|town/, 'CITY'], [/^state|province|region/, 'STATE'], [/zip|postal|postcode/, 'POSTAL'], [/^country/, 'country']];

function guess(name) {
  const n = name.toLowerCase();
  return (GUESS.find(([re]) => re.test(n)) || [null, ''])[1];
}

/** One run of hash-worker.js: resolves with its last message (done or error), reports progress. */
function inWorker(message, onProgress = () => {}) {
  const worker = new Worker('/console/hash-worker.js', { type: 'module' });
  return new Promise((resolve) => {
    worker.onmessage = ({ data }) => {
      if (data.progress !== undefined) { onProgress(data.progress); return; }
      worker.terminate();
      resolve(data);
    };
    worker.onerror = () => { worker.terminate(); resolve({ error: 'worker_failed', message: 'the hashing worker could not start' }); };
    worker.postMessage(message);
  });
}

function countsTable(counts) {
  const rows = [['Rows read', counts.rowsRead], ['Rows written', counts.rowsWritten], ['Written without any match key', counts.noMatchKeys]];
  for (const r of counts.rejects) rows.push([`${r.field} rejected: ${r.code}`, r.count]);
  for (const [kind, list] of [['refused', counts.refused], ['warned', counts.warnings]]) {
    for (const t of list) rows.push([`Rows ${kind}: ${t.reason}`, `${t.count} (rows ${t.rows.join(', ')}${t.count > t.rows.length ? ', …' : ''})`]);
  }
  return table(['', 'Count'], rows);
}

async function showFile() {
  const input = h('input', { id: 'file-input', type: 'file', accept: '.csv,.tsv,.txt,text/csv' });
  const drop = h('label', { class: 'drop', for: 'file-input' }, 'Drop a CSV file here, or choose one: ', input);
  const body = h('div', { id: 'file-body' });
  let url = null;
  const pick = async (file) => {
    if (!file) return;
    if (url) { URL.revokeObjectURL(url); url = null; }
    body.replaceChildren(h('p', {}, 'Reading the header…'));
    const r = await inWorker({ type: 'header', file });
    if (r.error) { body.replaceChildren(h('p', { class: 'err', role: 'alert' }, `The header could not be read: ${r.error}`)); return; }
    const { names, delimiter, encoding } = r.header;
    const selects = names.map((name, i) => h('select', { id: `col-${i}`, 'aria-label': `Column ${i + 1} (${name})` },
      h('option', { value: '' }, '— not written —'), h('option', { value: 'keep' }, 'copy unchanged'), h('option', { value: 'country' }, 'country of the row'),
      FIELDS.map((f) => h('option', { value: f }, f))));
    selects.forEach((s, i) => { s.value = guess(names[i]); });
    const country = h('input', { id: 'f-file-country', value: 'US', size: 6, autocomplete: 'off' });
    const strict = h('input', { id: 'f-file-strict', type: 'checkbox' });
    const progress = h('progress', { id: 'file-progress', max: file.size, value: 0 });
    const result = h('section', { id: 'file-result', 'aria-live': 'polite' });
    const run = h('button', { type: 'submit' }, 'Hash the file');
    const form = h('form', { id: 'file-form' },
      h('p', {}, `${file.name}: ${file.size.toLocaleString()} bytes, read as ${encoding} separated by ${delimiter === '\t' ? 'tabs' : `“${delimiter}”`}.`),
      h('table', { class: 'map' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Column'), h('th', { scope: 'col' }, 'Becomes'))),
        h('tbody', {}, names.map((name, i) => h('tr', {}, h('td', {}, h('label', { for: `col-${i}` }, name || `(column ${i + 1})`)), h('td', {}, selects[i]))))),
      field('Country of every row', 'file-country', country, 'ISO 3166-1 alpha-2 (UK and en-GB accepted); ignored when a column holds each row\'s country.'),
      field('Refuse short and long rows', 'file-strict', strict, 'As --strict: rows with fewer or more cells than the header are refused, not read.'),
      h('p', {}, run), progress, result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const map = [];
      const keep = [];
      let countryColumn = -1;
      selects.forEach((s, i) => {
        if (s.value === 'keep') keep.push(i);
        else if (s.value === 'country') countryColumn = countryColumn < 0 ? i : countryColumn;
        else if (s.value) map.push([i, s.value]);
      });
      if (!map.length) { result.replaceChildren(h('p', { class: 'err', role: 'alert' }, 'Map at least one column to a field.')); return; }
      if (url) { URL.revokeObjectURL(url); url = null; }
      run.disabled = true;
      progress.value = 0;
      result.replaceChildren(h('p', {}, 'Hashing in this page…'));
      const options = { names, delimiter, encoding, map, keep, countryColumn, country: country.value.trim(), strict: strict.checked };
      const started = performance.now();
      const r = await inWorker({ type: 'hash', file, options }, (read) => { progress.value = read; });
      run.disabled = false;
      if (r.error) { result.replaceChildren(h('p', { class: 'err', role: 'alert' }, `Not hashed: ${r.error}`)); return; }
      url = URL.createObjectURL(r.done);
      const out = file.name.replace(/\.(csv|tsv|txt)$/i, '') + '-hashed.csv';
      // What would make `hash-csv` exit 1 (its output is the same): said, not hidden.
      const c = r.counts;
      const refused = c.refused.reduce((n, t) => n + t.count, 0);
      const verdict = refused ? `${refused} rows refused: hash-csv would exit 1 unless --max-bad-rows allows them.`
        : c.rowsWritten === 0 ? 'No row written.'
          : c.noMatchKeys === c.rowsWritten ? 'No row has a usable match key: is the mapping right?' : '';
      result.replaceChildren(
        verdict ? h('p', { class: 'err', role: 'alert' }, verdict) : '',
        h('p', {}, badge('done', 'ok'), ` ${r.counts.rowsWritten.toLocaleString()} rows in ${((performance.now() - started) / 1000).toFixed(1)} s. `,
          h('a', { id: 'file-download', class: 'button', href: url, download: out }, `Download ${out}`)),
        countsTable(r.counts));
    });
    body.replaceChildren(form);
  };
  input.addEventListener('change', () => pick(input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); pick(e.dataTransfer.files[0]); });
  view.replaceChildren(h('h1', {}, 'Hash a file'),
    h('p', {}, 'The file is read and hashed in this page by the matchkey wasm package, in a Web Worker: nothing is uploaded. The download is what ',
      h('code', {}, 'matchkey hash-csv'), ' writes for the same mapping, country and --strict, byte for byte: mapped columns hold the SHA-256 of their normalized value (MAID, RAMP_ID and MATCH_ID the value), rejected cells are empty, the country column holds ISO codes, other columns are dropped unless copied.'),
    h('p', { class: 'hint' }, 'Where it can differ from the CLI: non-ASCII cells are put in Unicode normal form by this browser (String.prototype.normalize) rather than the CLI\'s tables (Unicode 18); the two agree on every character both Unicode versions know, so only a character newer than this browser\'s Unicode can hash differently. A UTF-16 file with a broken character has it replaced (U+FFFD) here, where the CLI refuses the row. Refused rows are numbered by row here, by line in the file by the CLI.'),
    drop, body);
}

// ---- Routing --------------------------------------------------------------------------

const VIEWS = {
  integrations: showIntegrations, integration: () => showIntegrationForm(new URLSearchParams(location.hash.split('?')[1] || '').get('id')),
  connections: showConnections, live: showLive, deliveries: showDeliveries, health: showHealth, try: showTry, file: showFile,
  audiences: showAudiences, people: showPeople,
};

async function route() {
  if (poll) { clearInterval(poll); poll = null; }
  const name = (location.hash.slice(1).split('?')[0]) || 'integrations';
  const show = VIEWS[name] || showIntegrations;
  for (const a of document.querySelectorAll('nav a')) a.toggleAttribute('aria-current', a.getAttribute('href') === `#${name === 'integration' ? 'integrations' : name}`);
  view.replaceChildren(h('p', {}, 'Loading…'));
  try {
    await show();
  } catch (e) {
    view.replaceChildren(failure(e));
  }
  document.body.dataset.view = name;
}

async function start() {
  session = await api('/v1/admin/session');
  document.getElementById('who').textContent = session.user.name;
  document.getElementById('sign-out').addEventListener('click', async () => {
    await api('/v1/admin/session', { method: 'DELETE' }).catch(() => {});
    location.assign('/console/sign-in');
  });
  window.addEventListener('hashchange', route);
  await route();
}

start();
