// Wires the demo shop to the tag: identify + track on checkout, consent buttons, and a
// panel that shows every body the tag sends (hashes only).
const params = new URLSearchParams(location.search);
const endpoint = params.get('endpoint') || 'http://127.0.0.1:8787';
const form = document.getElementById('checkout');
const countrySelect = document.getElementById('country');
if (params.get('country')) countrySelect.value = params.get('country');

function start(country) {
  matchkey('init', { endpoint, siteKey: params.get('siteKey') || 'demo-site', country, debug: true });
}
start(countrySelect.value);
matchkey('track', 'page_view');

const sent = [];
window.addEventListener('matchkey:send', (e) => {
  sent.push(e.detail);
  document.getElementById('status').textContent = `${sent.length} request(s) sent to ${endpoint}`;
  document.getElementById('sent').textContent = sent.map((b) => JSON.stringify(b, null, 2)).join('\n\n');
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  const country = data.country;
  delete data.country;
  start(country);
  matchkey('identify', data);
  matchkey('track', 'purchase', { value: 129.9, currency: 'EUR', units: 1 });
  document.getElementById('status').textContent = 'Purchase tracked' + (sent.length ? '' : ' (waiting for consent)');
});
document.getElementById('consent-yes').onclick = () => matchkey('consent', { adStorage: 'granted', userData: 'granted' });
document.getElementById('consent-no').onclick = () => matchkey('consent', { adStorage: 'denied', userData: 'denied' });
document.getElementById('reset').onclick = () => matchkey('reset');
// The stored (hashed) identity joins an Amazon audience through the Worker.
document.getElementById('newsletter').onclick = () => matchkey('audience', 'newsletter', 'add');
