// seed.mjs - sends realistic traffic to a collector through its OTLP/JSON
// receiver (POST /v1/traces and /v1/logs, docs/interop.md), so the
// dashboard test has enough data for every page: a shop of eight services
// (frontend, catalog, recommendation, cart, checkout, payment, shipping,
// email) over the last MINUTES minutes with a payment slowdown in the
// middle, their logs, and one big trace of BIG spans (for the speed check).
//
//   BASE=http://127.0.0.1:PORT node seed.mjs [--traces N] [--minutes M] [--big SPANS]
//
// Prints one JSON line: {"traces":N,"spans":N,"logs":N,"big_trace_id":"..."}.
// Deterministic (seeded PRNG) except for the current time.
const BASE = process.env.BASE;
if (!BASE) {
  console.error('seed.mjs: set BASE to the collector URL, e.g. BASE=http://127.0.0.1:4380');
  process.exit(2);
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const NTRACES = arg('traces', 2400);
const MINUTES = arg('minutes', 30);
const BIG = arg('big', 5000);

let seed = 0x9e3779b9;
const rnd = () => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};
const hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16); return s; };
// Log-normal-ish latency around med ms.
const lat = (med) => med * Math.exp((rnd() + rnd() + rnd() - 1.5) * 0.9) * 1e6;

const now = BigInt(Date.now()) * 1000000n;
const spansBySvc = new Map();
const logsBySvc = new Map();
let nspans = 0;
let nlogs = 0;
const push = (m, svc, x) => { if (!m.has(svc)) m.set(svc, []); m.get(svc).push(x); };
const attr = (k, v) => ({ key: k, value: typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : { stringValue: String(v) } });

function span(tid, parent, svc, name, start, dur, opts = {}) {
  const id = hex(16);
  const s = {
    traceId: tid, spanId: id, parentSpanId: parent || '', name, kind: opts.kind || 2,
    startTimeUnixNano: String(start), endTimeUnixNano: String(start + BigInt(Math.round(dur))),
    attributes: opts.attrs || [],
    status: opts.error ? { code: 2, message: opts.error } : { code: 1 },
  };
  if (opts.events) s.events = opts.events;
  push(spansBySvc, svc, s);
  nspans++;
  return id;
}
function log(tid, sid, svc, t, sev, body, attrs) {
  push(logsBySvc, svc, {
    timeUnixNano: String(t), severityNumber: sev, severityText: sev >= 17 ? 'ERROR' : sev >= 13 ? 'WARN' : 'INFO',
    body: { stringValue: body }, traceId: tid || '', spanId: sid || '', attributes: attrs || [],
  });
  nlogs++;
}
const ms = (x) => BigInt(Math.round(x * 1e6));

// One request through the shop.  t: start (ns), slow: the payment incident.
function request(t, slow) {
  const tid = hex(32);
  const r = rnd();
  if (r < 0.5) {
    const pid = Math.floor(rnd() * 900) + 100;
    const d1 = lat(6);
    const d2 = lat(14);
    const d3 = lat(4);
    const total = d1 + d2 + d3 + 2e6;
    const root = span(tid, '', 'frontend', 'GET /product/{id}', t, total,
      { attrs: [attr('http.request.method', 'GET'), attr('http.route', '/product/{id}'), attr('http.response.status_code', 200), attr('product.id', pid)] });
    const c = span(tid, root, 'catalog', 'GetProduct', t + ms(0.5), d1, { attrs: [attr('product.id', pid), attr('db.system', 'postgresql')] });
    const rc = span(tid, root, 'recommendation', 'ListRecommendations', t + ms(1) + BigInt(Math.round(d1)), d2, { attrs: [attr('product.id', pid)] });
    span(tid, rc, 'catalog', 'ListProducts', t + ms(2) + BigInt(Math.round(d1)), d3 + d2 * 0.3, { attrs: [attr('db.system', 'postgresql')] });
    log(tid, root, 'frontend', t + ms(1), 9, `GET /product/${pid} 200`, [attr('http.route', '/product/{id}')]);
    if (rnd() < 0.1) log(tid, c, 'catalog', t + ms(2), 13, `slow query on products (${Math.round(d1 / 1e6)} ms)`, [attr('db.statement', 'SELECT * FROM products WHERE id=$1')]);
  } else if (r < 0.75) {
    const d = lat(3);
    const root = span(tid, '', 'frontend', 'GET /cart', t, d + 1.5e6, { attrs: [attr('http.request.method', 'GET'), attr('http.route', '/cart'), attr('http.response.status_code', 200)] });
    const cs = span(tid, root, 'cart', 'GetCart', t + ms(0.4), d, { attrs: [attr('cart.items', Math.floor(rnd() * 6))] });
    log(tid, cs, 'cart', t + ms(0.8), 9, 'cart loaded from redis', [attr('cache.hit', 'true')]);
  } else {
    const payErrP = slow ? 0.16 : 0.015;
    const payErr = rnd() < payErrP;
    const dc = lat(2);
    const dp = lat(slow ? 90 : 22);
    const ds = lat(8);
    const de = lat(5);
    const total = dc + dp + ds + de + 6e6;
    const amount = Math.round(rnd() * 20000) / 100;
    const root = span(tid, '', 'frontend', 'POST /checkout', t, total,
      { attrs: [attr('http.request.method', 'POST'), attr('http.route', '/checkout'), attr('http.response.status_code', payErr ? 502 : 200)], error: payErr ? 'payment failed' : '' });
    const co = span(tid, root, 'checkout', 'PlaceOrder', t + ms(1), total - 2e6, { attrs: [attr('order.amount', amount), attr('order.currency', 'EUR')], error: payErr ? 'payment failed' : '' });
    let at = t + ms(1.5);
    span(tid, co, 'cart', 'GetCart', at, dc, { attrs: [attr('cart.items', 1 + Math.floor(rnd() * 5))] });
    at += BigInt(Math.round(dc)) + ms(0.3);
    const pay = span(tid, co, 'payment', 'Charge', at, dp, {
      attrs: [attr('payment.amount', amount), attr('payment.provider', rnd() < 0.7 ? 'stripe' : 'adyen')], error: payErr ? 'card declined by issuer' : '',
      events: payErr ? [{ timeUnixNano: String(at + BigInt(Math.round(dp * 0.8))), name: 'exception', attributes: [attr('exception.type', 'CardDeclined')] }] : undefined,
    });
    log(tid, pay, 'payment', at + ms(0.5), 9, `charging ${amount} EUR`, [attr('payment.amount', amount)]);
    if (payErr) {
      log(tid, pay, 'payment', at + BigInt(Math.round(dp * 0.8)), 17, 'card declined by issuer', [attr('payment.amount', amount)]);
      log(tid, co, 'checkout', at + BigInt(Math.round(dp)) + ms(0.2), 17, 'order failed: payment declined', []);
      return;
    }
    at += BigInt(Math.round(dp)) + ms(0.3);
    span(tid, co, 'shipping', 'QuoteShipping', at, ds, { attrs: [attr('shipping.country', ['DE', 'FR', 'NL', 'US'][Math.floor(rnd() * 4)])] });
    at += BigInt(Math.round(ds)) + ms(0.3);
    span(tid, co, 'email', 'SendConfirmation', at, de, {});
    log(tid, co, 'checkout', at + ms(1), 9, 'order placed', [attr('order.amount', amount)]);
  }
}

// The big trace: a bulk import of BIG spans -- the frontend hands rows to
// an importer (a few levels of batches), which reads the catalog and
// writes carts -- with a log every tenth span and an error every 97th.
function bigTrace(t) {
  const tid = hex(32);
  const total = 2.5e9;
  const root = span(tid, '', 'frontend', 'POST /bulk-import', t, total, { attrs: [attr('http.route', '/bulk-import'), attr('import.rows', BIG - 1)] });
  let made = 1;
  const workers = [];
  while (made < BIG) {
    let id;
    const st = t + BigInt(Math.floor(rnd() * total * 0.9));
    const err = made % 97 === 0 ? 'row rejected' : '';
    if (workers.length < 50 || made % 8 === 0) {
      const p = workers.length < 10 || rnd() < 0.3 ? root : workers[Math.floor(rnd() * workers.length)];
      id = span(tid, p, 'importer', `import-batch ${made % 20}`, st, rnd() * total * 0.08, { attrs: [attr('batch', made)], error: err });
      workers.push(id);
      if (made % 10 === 0) log(tid, id, 'importer', st + ms(0.2), err ? 17 : 9, `batch ${made} imported`, []);
    } else {
      const svc = made % 2 ? 'catalog' : 'cart';
      const p = workers[Math.floor(rnd() * workers.length)];
      id = span(tid, p, svc, svc === 'catalog' ? 'GetProduct' : 'AddItem', st, rnd() * total * 0.01, { attrs: [attr('row', made)], error: err });
      if (made % 10 === 0) log(tid, id, svc, st + ms(0.2), err ? 17 : 9, `row ${made} ${svc === 'catalog' ? 'looked up' : 'written'}`, []);
    }
    made++;
  }
  return tid;
}

async function post(path, body) {
  const r = await fetch(BASE + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
}
async function flush() {
  const rs = [...spansBySvc].map(([svc, spans]) => ({
    resource: { attributes: [attr('service.name', svc)] }, scopeSpans: [{ scope: { name: 'seed' }, spans }],
  }));
  const rl = [...logsBySvc].map(([svc, logRecords]) => ({
    resource: { attributes: [attr('service.name', svc)] }, scopeLogs: [{ scope: { name: 'seed' }, logRecords }],
  }));
  spansBySvc.clear();
  logsBySvc.clear();
  if (rs.length) await post('/v1/traces', { resourceSpans: rs });
  if (rl.length) await post('/v1/logs', { resourceLogs: rl });
}

const spanMs = MINUTES * 60e3;
for (let i = 0; i < NTRACES; i++) {
  const ago = spanMs * (1 - i / NTRACES);
  const t = now - BigInt(Math.round(ago * 1e6));
  const minAgo = ago / 60e3;
  request(t, minAgo > MINUTES * 0.4 && minAgo < MINUTES * 0.55);
  if (i % 300 === 299) await flush();
}
await flush();
let big = '';
if (BIG > 0) {
  big = bigTrace(now - ms(60e3));
  await flush();
}
console.log(JSON.stringify({ traces: NTRACES + (BIG > 0 ? 1 : 0), spans: nspans, logs: nlogs, big_trace_id: big }));
