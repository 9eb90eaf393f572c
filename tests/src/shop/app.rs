//! `/app`: the shop as a small single-page app, so a journey through it
//! needs a browser. The login form is built by JavaScript, the order is
//! placed with `fetch` calls to the JSON API, and "Thank you" appears only
//! once the checkout answered. `/app/stalled` never finishes loading: its
//! script is never served.

/// The single-page app.
pub const APP: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Sonde demo shop app</title>
<style>body{font-family:sans-serif;margin:2em;background:#f4f6fb}main{background:#fff;padding:1.5em;border-radius:8px;max-width:28em}
h1{color:#1d4ed8}button{background:#1d4ed8;color:#fff;border:0;padding:.5em 1em;border-radius:4px}#message{color:#b91c1c}</style>
</head><body><main id="app"><p>Loading…</p></main>
<script>
const app = document.getElementById('app');
let token = null;
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  if (text) e.textContent = text;
  return e;
}
function loginForm() {
  app.replaceChildren(
    el('h1', {}, 'Sign in to the demo shop'),
    el('label', { htmlFor: 'user' }, 'User '), el('input', { id: 'user', name: 'user' }),
    el('br'),
    el('label', { htmlFor: 'password' }, 'Password '),
    el('input', { id: 'password', name: 'password', type: 'password' }),
    el('br'),
    el('label', { htmlFor: 'product' }, 'Product '),
    productSelect(),
    el('br'),
    el('button', { id: 'login', onclick: login }, 'Sign in'),
    el('p', { id: 'message' }));
}
function productSelect() {
  const s = el('select', { id: 'product' });
  s.append(el('option', { value: '42' }, 'Radiosonde weather balloon'));
  s.append(el('option', { value: '7' }, 'Anemometer'));
  return s;
}
async function call(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(json.error || r.status);
  return json;
}
async function login() {
  const username = document.getElementById('user').value;
  const password = document.getElementById('password').value;
  const product = document.getElementById('product').value;
  try {
    token = (await call('/api/login', { username, password })).token;
  } catch (e) {
    document.getElementById('message').textContent = 'Sign-in failed: ' + e.message;
    return;
  }
  app.replaceChildren(
    el('h1', {}, 'Hello ' + username),
    el('button', { id: 'buy', onclick: () => buy(product) }, 'Buy now'),
    el('p', { id: 'message' }));
}
async function buy(product) {
  try {
    await call('/api/cart', { product_id: Number(product), quantity: 1 });
    const order = await call('/api/checkout', { payment: 'card' });
    app.replaceChildren(el('h1', {}, 'Thank you for your order'),
      el('p', { id: 'order' }, 'Order ' + order.order_id + ': ' + order.total + ' ' + order.currency));
  } catch (e) {
    document.getElementById('message').textContent = 'Order failed: ' + e.message;
  }
}
loginForm();
</script></body></html>
"#;

/// A page whose `load` event never comes: it waits on a script that the
/// shop never finishes sending.
pub const STALLED: &str = r#"<!doctype html>
<html><head><title>Stalled</title></head><body><p>Still loading…</p>
<script src="/app/never.js"></script></body></html>
"#;
