// The sign-in page: the key is exchanged for a session cookie (HttpOnly, so this page
// never sees it) and is not kept anywhere.
const form = document.getElementById('sign-in');
const error = document.getElementById('error');
const MESSAGES = {
  invalid_sign_in_key: 'That key was not accepted.',
  too_many_failed_secrets: 'Too many failed attempts from here: wait 15 minutes.',
  missing_key: 'Type your sign-in key.',
};
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  const key = form.key.value.trim();
  let r;
  try {
    r = await fetch('/v1/admin/session', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }), credentials: 'same-origin',
    });
  } catch {
    r = null;
  }
  form.key.value = '';
  if (r && r.status === 201) {
    location.assign('/console');
    return;
  }
  const code = r ? (await r.json().catch(() => ({}))).error : 'network_error';
  error.textContent = MESSAGES[code] || `Sign-in failed (${code || r.status}).`;
  error.hidden = false;
  form.key.focus();
});
