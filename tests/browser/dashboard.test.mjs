// dashboard.test.mjs - drives Debian's headless Chromium through the
// dashboard served by a real collector holding real demo traffic, and
// compares what the pages show with what the JSON API says.
//
//   BASE=http://127.0.0.1:PORT SHOTS=build/screenshots node dashboard.test.mjs
//
// Prints one line per check, "RESULT ok <what>" or "RESULT not_ok <what>",
// which test_dashboard.sh turns into TAP; anything else is commentary.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const BASE = process.env.BASE;
const BIG_TRACE = process.env.BIG_TRACE || '';
const SHOTS = process.env.SHOTS || 'build/screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE) {
  console.error('dashboard.test.mjs: set BASE to the collector URL, e.g. BASE=http://127.0.0.1:8080');
  process.exit(2);
}
mkdirSync(SHOTS, { recursive: true });

let failures = 0;
function check(cond, what, detail) {
  if (!cond) failures++;
  console.log(`RESULT ${cond ? 'ok' : 'not_ok'} ${what}${!cond && detail !== undefined ? ` (${detail})` : ''}`);
  return cond;
}
async function api(path) {
  const r = await fetch(BASE + '/api/v1/' + path);
  if (!r.ok) throw new Error(`GET /api/v1/${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const shot = (page, name) => page.screenshot({ path: join(SHOTS, name + '.png') });
// Text nodes that read "null", "undefined" or "NaN": a value the page lost.
const strayText = (page) => page.evaluate(() => {
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const bad = [];
  for (let n = w.nextNode(); n; n = w.nextNode())
    if (/^(null|undefined|NaN)$|NaN (ns|µs|ms|s)\b|undefined/.test(n.nodeValue.trim())) bad.push(n.nodeValue.trim());
  return bad;
});

const consoleErrors = [];
let allowed404 = false;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(8000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (allowed404 && /status of 404/.test(m.text())) return;
    consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push('uncaught: ' + e.message));

  // ---- traces page (landing) ----
  const list = await api('traces?limit=100&since=1h');
  await page.goto(BASE + '/');
  await page.waitForSelector('.traces-tbl tbody tr, .state-empty, .state-error');
  const rowsShown = await page.locator('.traces-tbl tbody tr').count();
  check(list.traces.length > 0 && rowsShown === list.traces.length,
    'traces page lists the same traces as the API', `page ${rowsShown}, API ${list.traces.length}`);
  const dots = await page.locator('svg.scatter circle.dot').count();
  check(dots === list.traces.length, 'scatter plot has one dot per trace', `${dots} dots`);
  const firstId = await page.locator('.traces-tbl tbody tr').first().getAttribute('data-id');
  check(firstId === list.traces[0]?.trace_id, 'the newest trace comes first', firstId);
  const strayList = await strayText(page);
  check(strayList.length === 0, 'traces page shows no null/undefined/NaN values', strayList.slice(0, 3).join(','));
  await shot(page, 'traces');

  // ---- services page ----
  const svcs = (await api('services')).services.map((s) => s.name);
  await page.click('nav a[data-nav="services"]');
  await page.waitForSelector('.svc-tbl tbody tr');
  const svcShown = await page.locator('.svc-tbl .svc-name').allTextContents();
  check(svcShown.length === svcs.length && svcs.every((s) => svcShown.includes(s)),
    'services page shows every service from the API', svcShown.join(','));
  check(['frontend', 'checkout', 'payment'].every((s) => svcShown.includes(s)),
    'the three demo services are listed');
  await shot(page, 'services');

  // ---- search -> open a trace ----
  // Pick, through the API, a recent frontend trace that crosses all three
  // services and has logs; then reach it the way a user does.
  const fl = await api('traces?service=frontend&limit=50&since=1h');
  let target = null;
  for (const t of fl.traces) {
    if (t.trace_id === BIG_TRACE) continue;
    const full = await api('traces/' + t.trace_id);
    if (full.summary.services.length >= 3 && full.summary.services.includes('payment') && full.logs.length > 0) { target = full; break; }
    if (!target) target = full;
  }
  check(target !== null, 'the API has a frontend trace to open');
  if (!target) throw new Error('no trace to open');
  await page.click('nav a[data-nav="traces"]');
  await page.waitForSelector('.traces-tbl tbody tr');
  await page.selectOption('#f-service', 'frontend');
  await page.waitForFunction(() => location.hash.includes('service=frontend'));
  await page.waitForSelector(`.traces-tbl tbody tr[data-id="${target.trace_id}"]`);
  const allFrontend = await page.$$eval('.traces-tbl tbody tr .c-root .chip', (n) => n.every((c) => c.textContent === 'frontend'));
  check(allFrontend, 'service filter shows only frontend traces');
  await page.click(`.traces-tbl tbody tr[data-id="${target.trace_id}"] a.rowlink`);
  await page.waitForSelector('.wf .row.span-row');
  check(page.url().includes('#/trace/' + target.trace_id), 'clicking a row opens its trace');

  // ---- waterfall ----
  const spans = target.spans;
  const nRows = await page.locator('.wf .row.span-row').count();
  check(nRows === spans.length && nRows === target.summary.span_count,
    'waterfall shows as many spans as the API', `rows ${nRows}, spans ${spans.length}, span_count ${target.summary.span_count}`);
  const order = await page.$$eval('.wf .row.span-row', (r) => r.map((x) => x.querySelector('.nm').textContent));
  check(order.join('|') === spans.map((s) => s.name).join('|'), 'spans are in the API\'s tree order');
  const critWant = spans.filter((s) => s.critical).length;
  const critRows = await page.locator('.wf .row.span-row.crit').count();
  check(critWant > 0 && critRows === critWant, 'critical path is marked', `marked ${critRows}, API ${critWant}`);
  const depthOk = await page.$$eval('.wf .row.span-row', (r) => r.map((x) => +x.getAttribute('aria-level') - 1));
  check(depthOk.join() === spans.map((s) => s.depth).join(), 'rows are indented by the API depth');
  const statSpans = await page.locator('.stats .stat', { hasText: 'Spans' }).locator('.val').textContent();
  check(statSpans === String(target.summary.span_count), 'summary shows the span count', statSpans);
  // Bars: the root starts at 0 and the widest bar is the root's.
  const rootBar = await page.locator('.wf .row.span-row').first().locator('.bar').evaluate((b) => ({ l: b.style.left, w: parseFloat(b.style.width) }));
  check(rootBar.l === '0%' && rootBar.w > 90, 'root bar spans the trace', JSON.stringify(rootBar));

  // ---- logs ----
  const nLogs = target.logs.length;
  const inline = await page.locator('.wf .row.log-row').count();
  const owned = target.logs.filter((l) => spans.some((s) => s.span_id === l.span_id)).length;
  check(nLogs > 0 && inline === owned, 'logs appear under their spans in the waterfall', `inline ${inline}, owned ${owned}, logs ${nLogs}`);
  await page.waitForSelector('.logs-tbl tbody tr', { timeout: 5000 }).catch(() => {});
  const tableLogs = await page.locator('.logs-tbl tbody tr').count();
  check(tableLogs === Math.min(nLogs, 100), 'logs table lists the trace\'s logs', `${tableLogs} of ${nLogs}`);
  const bodies = await page.locator('.logs-tbl .lbody').allTextContents();
  check(bodies.length > 0 && bodies[0] === target.logs[0].body, 'logs are in time order, first log first');

  // ---- detail panel ----
  const pick = spans.length > 1 ? spans.length - 1 : 0;
  await page.locator('.wf .row.span-row').nth(pick).click();
  await page.waitForSelector('.detail:not([hidden])');
  const dName = await page.locator('.detail h2').textContent();
  check(dName === spans[pick].name, 'detail panel opens for the clicked span', dName);
  const dAttrs = await page.locator('.detail .tbl-kv tr').count();
  check(dAttrs === Object.keys(spans[pick].attributes || {}).length, 'detail panel lists the span attributes', `${dAttrs}`);
  const dId = await page.locator('.detail .kv dd .mono').first().textContent();
  check(dId === spans[pick].span_id, 'detail panel shows the span id');
  check(page.url().includes('span=' + spans[pick].span_id), 'selected span is in the URL');
  const stray = await strayText(page);
  check(stray.length === 0, 'trace page shows no null/undefined/NaN values', stray.slice(0, 3).join(','));
  await shot(page, 'trace');
  // The view survives a reload (state lives in the URL).
  await page.reload();
  await page.waitForSelector('.detail:not([hidden])');
  check((await page.locator('.detail h2').textContent()) === spans[pick].name, 'reload restores the selected span');
  await page.keyboard.press('Escape');
  await page.waitForSelector('.detail', { state: 'hidden' });
  check(!page.url().includes('span='), 'Escape closes the detail panel');

  // ---- search within the trace ----
  await page.fill('.searchbox input', 'payment');
  const payRows = spans.filter((s) => s.service === 'payment').length;
  const matched = await page.locator('.wf .row.span-row.match').count();
  const payMatched = await page.locator('.wf .row.span-row.match', { hasText: 'payment' }).count();
  check(payRows > 0 && matched >= payRows && payMatched >= payRows, 'search highlights matching spans', `${matched} matched, ${payRows} payment spans`);
  await page.check('#t-only');
  const onlyRows = await page.locator('.wf .row.span-row').count();
  check(onlyRows <= spans.length && onlyRows >= matched, '"only matches" keeps matches and their ancestors', `${onlyRows}`);
  await page.uncheck('#t-only');
  await page.fill('.searchbox input', '');

  // ---- collapse / keyboard ----
  if (spans.length > 1) {
    await page.locator('.wf .row.span-row').first().locator('.tw').click();
    const after = await page.locator('.wf .row.span-row').count();
    check(after === 1, 'collapsing the root hides its subtree', `${after} rows`);
    await page.reload();
    await page.waitForSelector('.wf .row.span-row');
    check((await page.locator('.wf .row.span-row').count()) === 1, 'collapsed state survives a reload');
    await page.locator('.wf .row.span-row').first().focus();
    await page.keyboard.press('ArrowRight');
    check((await page.locator('.wf .row.span-row').count()) === spans.length, 'ArrowRight expands with the keyboard');
    // Down past any log rows (they sit under their span) to the next span.
    let focused = null;
    for (let k = 0; k < 50; k++) {
      await page.keyboard.press('ArrowDown');
      focused = await page.evaluate(() => {
        const a = document.activeElement;
        return a && a.classList.contains('row') ? { i: a.dataset.i, nm: a.querySelector('.nm')?.textContent } : null;
      });
      if (!focused || focused.i !== undefined) break;
    }
    check(focused && focused.i === '1', 'ArrowDown moves the focus down the rows', JSON.stringify(focused));
    await page.keyboard.press('Enter');
    await page.waitForSelector('.detail:not([hidden])');
    check((await page.locator('.detail h2').textContent()) === spans[1].name, 'Enter opens the focused span');
  }

  // ---- services page: figures from /red, SDK drops from /sdk, sort, speed ----
  {
    const red = await api('red?by=service&step=0&since=1h');
    const sdk = await api('sdk?since=1h');
    // Loads the services page and returns when its table first became
    // usable (the page marks that frame) and the API URLs it asked for.
    // Nothing polls inside the page while it loads (waitForSelector and
    // waitForFunction run Playwright's script on the page's main thread and
    // so slow what they measure): the page asks for the SDK counters right
    // after drawing its table, so once that answer is in, the mark is set.
    const loadServices = async (pg) => {
      const asked = [];
      const onReq = (r) => { if (r.url().includes('/api/v1/')) asked.push(r.url().slice(BASE.length)); };
      pg.on('request', onReq);
      const sdkIn = pg.waitForResponse((r) => r.url().includes('/api/v1/sdk'));
      await pg.goto(`${BASE}/#/services`);
      await (await sdkIn).finished();
      pg.off('request', onReq);
      // boot.js may have asked for /sdk before the table is drawn (its
      // early requests), so its answer can come first: then wait for the
      // mark.  The page stamps the mark itself; reading it late does not
      // change the figure, and a 50 ms poll costs the page nothing.
      let ms;
      for (let i = 0; i < 100 && ms === undefined; i++) {
        ms = await pg.evaluate(() => performance.getEntriesByName('sl:services:interactive')[0]?.startTime);
        if (ms === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      return { ms: ms ?? Infinity, asked };
    };
    // Cold: a new browser context (empty cache).  boot.js asks for the
    // page's three reads while the code loads; the page must take those
    // answers, not ask again.
    {
      const cctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const cold = await loadServices(await cctx.newPage());
      await cctx.close();
      console.log(`services page, cold (new context): interactive ${cold.ms.toFixed(0)} ms after navigation start`);
      const want = ['services?since=1h', 'red?since=1h&by=service', 'red?since=1h&by=service&step=0', 'sdk?since=1h'].map((u) => '/api/v1/' + u);
      const twice = cold.asked.filter((u, i) => cold.asked.indexOf(u) !== i);
      check(want.every((u) => cold.asked.includes(u)) && twice.length === 0 && cold.asked.length === want.length,
        'a cold services load asks for each API read once (the early requests are used)', cold.asked.join(' '));
    }
    await page.goto('about:blank');
    const { ms: svcMs } = await loadServices(page);
    console.log(`services page interactive ${svcMs.toFixed(0)} ms after navigation start`);
    check(svcMs < 300, 'services page is interactive in under 300 ms', `${svcMs.toFixed(0)} ms`);
    const rowsSvc = await page.$$eval('.svc-tbl tbody tr', (r) => r.map((x) => ({
      name: x.dataset.svc, rate: x.children[1].textContent, p99: x.children[4].textContent, sdk: x.querySelector('.sdk').textContent,
      spark: !!x.querySelector('svg.spark'),
    })));
    const withRed = red.series.map((x) => x.service);
    check(withRed.length > 3 && withRed.every((n) => rowsSvc.find((r) => r.name === n && r.rate !== '—' && r.p99 !== '—' && r.spark)),
      'services page shows rate, p99 and a sparkline for every service with requests', `${withRed.length} services with requests`);
    const sdkSvcs = sdk.services.map((x) => x.service);
    check(['frontend', 'checkout', 'payment'].every((n) => sdkSvcs.includes(n)), 'the SDK stats endpoint reports the three demo services', sdkSvcs.join(','));
    check(sdkSvcs.length > 0 && sdkSvcs.every((n) => /spans/.test(rowsSvc.find((r) => r.name === n)?.sdk || '')),
      'services page shows the SDK drop counters of each reporting service');
    await page.click('.svc-tbl th .th-sort[data-sort="p99"]');
    await page.waitForFunction(() => location.hash.includes('sort=p99'));
    const firstP99 = await page.$eval('.svc-tbl tbody tr', (r) => r.dataset.svc);
    const slowest = red.series.slice().sort((a, b) => b.p99_ns[0] - a.p99_ns[0])[0].service;
    check(firstP99 === slowest, 'sorting by p99 puts the slowest service first', `${firstP99} vs ${slowest}`);
    await page.fill('.page input.search', 'pay');
    const filteredRows = await page.locator('.svc-tbl tbody tr').count();
    check(filteredRows >= 1 && page.url().includes('q=pay'), 'the service filter narrows the list and is kept in the URL');
    await page.fill('.page input.search', '');
    await page.click('.svc-tbl th .th-sort[data-sort="name"]');
    await page.waitForFunction(() => !location.hash.includes('sort='));
    const names = await page.$$eval('.svc-tbl tbody tr', (r) => r.map((x) => x.dataset.svc));
    const byName = names.slice().sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
    check(names.length > 3 && names.join() === byName.join(), 'sorting by name lists the services alphabetically', names.join(','));
    // Counts are written with thousands separators (util.js fmtNum, which
    // must match toLocaleString('en-US')).
    const spansApi = (await api('services?since=1h')).services;
    const spansShown = await page.$$eval('.svc-tbl tbody tr', (r) => r.map((x) => [x.dataset.svc, x.querySelector('.c-spans').textContent]));
    check(spansShown.length > 0 && spansShown.every(([n, t]) => t === (spansApi.find((x) => x.name === n)?.spans || 0).toLocaleString('en-US')),
      'the spans column shows the API counts with thousands separators', JSON.stringify(spansShown.slice(0, 3)));
    await shot(page, 'services');
    // The From/To inputs of a custom range are built on first use.
    check(await page.locator('.rangebar input[type="datetime-local"]').count() === 0, 'no date inputs are built before a custom range is asked for');
    await page.click('.rangebar .seg[data-range="custom"]');
    await page.waitForFunction(() => location.hash.includes('range=custom'));
    await page.waitForSelector('.rangebar .custom input[type="datetime-local"]');
    const from = await page.locator('.rangebar .custom input[aria-label="From"]').inputValue();
    check(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(from) && await page.locator('.rangebar .custom').isVisible(),
      'Custom shows From/To filled with the current window', from);
    const earlier = from.slice(0, 11) + '00:00';
    await page.fill('.rangebar .custom input[aria-label="From"]', earlier);
    await page.click('.rangebar .custom .btn');
    await page.waitForFunction((iso) => decodeURIComponent(location.hash).includes('since=' + iso), new Date(earlier).toISOString());
    await page.waitForSelector('.svc-tbl tbody tr');
    check(true, 'Apply puts the edited custom range in the URL and the table reloads');
    await page.click('.rangebar .seg[data-range="1h"]');
    await page.waitForFunction(() => location.hash.includes('range=1h'));
    check(await page.locator('.rangebar .custom').isHidden(), 'a preset range hides the custom inputs again');
    // With slow answers the page shows "Loading…" (after a short wait),
    // and a page left before its answers came leaves nothing behind.
    const slow = (route) => setTimeout(() => route.continue().catch(() => {}), 700);
    await page.route('**/api/v1/services?*', slow);
    await page.goto('about:blank');
    await page.goto(`${BASE}/#/services?range=3h`);
    const loading = await page.waitForSelector('.page .state-loading', { timeout: 2000 }).then(() => true, () => false);
    check(loading, 'a slow services answer shows the loading state');
    await page.goto('about:blank');
    await page.goto(`${BASE}/#/services?range=6h`, { waitUntil: 'commit' });
    // Leave the moment the page is mounted (it sets the title), before the
    // loading state is due.
    await page.waitForFunction(() => document.title.startsWith('Services'), null, { polling: 'raf' });
    await page.evaluate(() => { location.hash = '#/map'; });
    await page.waitForTimeout(1000);
    check(await page.locator('#main .svc-tbl, #main input[aria-label="Filter services"]').count() === 0, 'leaving the services page before its data arrived leaves none of it behind');
    await page.unroute('**/api/v1/services?*', slow);
  }

  // ---- service page: charts, operations, chart point -> traces ----
  {
    const ops = await api('services/payment/operations?since=1h');
    await page.goto(`${BASE}/#/service/payment`);
    await page.waitForSelector('.ops-tbl tbody tr');
    await page.waitForSelector('.lchart svg');
    check((await page.locator('.lchart svg').count()) === 3, 'service page draws latency, error-rate and throughput charts');
    const lines = await page.$$eval('.lchart path.line', (p) => p.filter((x) => (x.getAttribute('d') || '').includes('L')).length);
    check(lines >= 4, 'the charts have data lines', `${lines} lines`);
    const opRows = await page.locator('.ops-tbl tbody tr').count();
    check(opRows === ops.operations.length && opRows > 0, 'operations table lists the API operations', `${opRows} of ${ops.operations.length}`);
    await shot(page, 'service');
    // The newest bucket with requests: its traces were received just now.
    const pts = page.locator('.chart-card:nth-child(3) circle.pt');
    const n = await pts.count();
    let clicked = -1;
    for (let k = n - 1; k >= 0; k--) {
      const cy = +(await pts.nth(k).getAttribute('cy'));
      const base = await page.$eval('.chart-card:nth-child(3) svg', (s) => +s.viewBox.baseVal.height - 24);
      if (cy < base - 1) { clicked = k; await pts.nth(k).click({ force: true }); break; }
    }
    check(clicked >= 0, 'the throughput chart has a point to click');
    await page.waitForFunction(() => location.hash.startsWith('#/traces') && location.hash.includes('range=custom'));
    await page.waitForSelector('.traces-tbl tbody tr, .state-empty');
    const hp = new URLSearchParams(page.url().split('?')[1]);
    const bucket = await api(`traces?service=payment&limit=100&since=${encodeURIComponent(hp.get('since'))}&until=${encodeURIComponent(hp.get('until'))}`);
    const bucketRows = await page.locator('.traces-tbl tbody tr').count();
    check(hp.get('service') === 'payment' && bucket.traces.length > 0 && bucketRows === bucket.traces.length,
      'clicking a chart point lists the traces of that time bucket', `${bucketRows} rows, API ${bucket.traces.length}`);
  }

  // ---- trace search filters: operation, duration, slowest first ----
  {
    const q = 'service=payment&operation=Charge&min_duration=50ms&order=slowest&limit=20&since=1h';
    const want = await api('traces?' + q);
    await page.goto(`${BASE}/#/traces?service=payment&operation=Charge&min_duration=50ms&order=slowest&limit=20`);
    await page.waitForSelector('.traces-tbl tbody tr, .state-empty');
    const ids = await page.$$eval('.traces-tbl tbody tr', (r) => r.map((x) => x.dataset.id));
    check(want.traces.length > 0 && ids.join() === want.traces.map((t) => t.trace_id).join(),
      'operation, duration and slowest-first filters show the API results in order', `${ids.length} vs ${want.traces.length}`);
    check(want.traces.every((t) => t.duration_ns >= 50e6 && t.name === 'Charge'), 'the API results honour the filters');
    const spanCounts = await page.$$eval('.traces-tbl tbody tr .c-spans', (c) => c.map((x) => x.textContent));
    check(spanCounts.join() === want.traces.map((t) => String(t.span_count)).join(), 'the list shows each trace\'s span count');
    check(await page.locator('#f-op').inputValue() === 'Charge' && await page.locator('#f-order').inputValue() === 'slowest',
      'the filter form shows the state from the URL');
    await shot(page, 'traces-filtered');
    // Errors only, from the form.
    await page.check('#f-err');
    await page.waitForFunction(() => location.hash.includes('error=1'));
    await page.waitForSelector('.traces-tbl tbody tr, .state-empty');
    const errWant = await api('traces?service=payment&operation=Charge&min_duration=50ms&order=slowest&limit=20&since=1h&error=true');
    const errRows = await page.locator('.traces-tbl tbody tr').count();
    check(errRows === errWant.traces.length && errWant.traces.every((t) => t.error), '"errors only" shows the error spans', `${errRows} vs ${errWant.traces.length}`);

    // ---- compare two traces ----
    await page.goto(`${BASE}/#/traces?service=frontend&operation=${encodeURIComponent('POST /checkout')}&limit=20`);
    await page.waitForSelector('.traces-tbl tbody tr');
    const boxes = page.locator('.traces-tbl .cmp-in');
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    const pair = await page.$$eval('.traces-tbl .cmp-in:checked', (c) => c.map((x) => x.dataset.cmp));
    await page.click('.cmpbar a');
    await page.waitForSelector('.cmp-tbl tbody tr');
    check(page.url().includes(`a=${pair[0]}`) && page.url().includes(`b=${pair[1]}`), 'two picked traces open side by side');
    const [ta, tb] = [await api('traces/' + pair[0]), await api('traces/' + pair[1])];
    const cards = await page.$$eval('.cmp-card .stats .stat .val', (v) => v.map((x) => x.textContent));
    check(cards.includes(String(ta.summary.span_count)) && cards.includes(String(tb.summary.span_count)), 'compare page shows both traces\' summaries');
    const paths = (t) => {
      const key = new Map();
      for (const sp of t.spans) key.set(sp.span_id, (key.get(sp.parent_id) || '') + '/' + sp.service + ':' + sp.name);
      return new Set(key.values());
    };
    const union = new Set([...paths(ta), ...paths(tb)]);
    const cmpRows = await page.locator('.cmp-tbl tbody tr').count();
    check(cmpRows === union.size, 'compare rows align the calls of both traces by service and operation', `${cmpRows} rows, ${union.size} distinct calls`);
    await shot(page, 'compare');
  }

  // ---- service map ----
  {
    const deps = await api('deps?since=1h');
    await page.goto(`${BASE}/#/map`);
    await page.waitForSelector('svg.map .node');
    const nodes = await page.locator('svg.map .node').count();
    const edges = await page.locator('svg.map .edge').count();
    const wantEdges = deps.edges.filter((e) => e.caller !== e.callee).length;
    check(nodes === deps.nodes.length && edges === wantEdges, 'service map draws every service and call edge', `${nodes} nodes, ${edges} edges`);
    const lbl = await page.locator('svg.map .elabel:not(.side) text').first().textContent();
    check(/\/s · .*% err · p99 /.test(lbl), 'edges are labelled with rate, error rate and p99', lbl);
    check((await page.locator('.edges-tbl tbody tr').count()) === wantEdges, 'the edge table lists every call edge');
    await shot(page, 'map');
    await page.click('svg.map .node[data-node="checkout"]');
    await page.waitForFunction(() => location.hash.startsWith('#/service/checkout'));
    check(true, 'clicking a service on the map opens it');
  }

  // ---- logs: filters, SDK records hidden, a line opens its trace ----
  {
    await page.goto(`${BASE}/#/logs?level=error`);
    await page.waitForSelector('.logs-tbl tbody tr');
    const want = await api('logs?level=error&limit=100&since=1h');
    const lvls = await page.$$eval('.logs-tbl tbody .lvl', (l) => l.map((x) => x.textContent));
    check(lvls.length > 0 && lvls.every((l) => l === 'error' || l === 'fatal'), 'logs page filters by level', lvls.slice(0, 3).join());
    check(lvls.length === want.logs.filter((l) => l.body !== 'sightline.sdk.stats').length, 'logs page shows the API page of records');
    await shot(page, 'logs');
    await page.goto(`${BASE}/#/logs?q=sightline.sdk.stats&range=1h`);
    await page.waitForSelector('.logs-tbl tbody tr, .state-empty');
    const hiddenNote = await page.locator('.page-head .muted').textContent();
    check((await page.locator('.logs-tbl tbody tr').count()) === 0 && /SDK stats records hidden/.test(hiddenNote), 'SDK stats records are hidden by default', hiddenNote);
    await page.check('#l-sdk');
    await page.waitForSelector('.logs-tbl tbody tr');
    check((await page.locator('.logs-tbl .lbody', { hasText: 'sightline.sdk.stats' }).count()) > 0, 'the toggle shows the SDK stats records');
    await page.goto(`${BASE}/#/logs?service=payment`);
    await page.waitForSelector('.logs-tbl tbody tr .trlink');
    const link = page.locator('.logs-tbl tbody tr .trlink').first();
    const href = await link.getAttribute('href');
    await link.click();
    await page.waitForSelector('.wf .row.span-row');
    const m = /#\/trace\/([0-9a-f]{32})\?span=([0-9a-f]{16})/.exec(href || '');
    check(m && page.url().includes(m[1]), 'a log line opens its trace');
    await page.waitForSelector('.detail:not([hidden])');
    const selId = await page.locator('.detail .kv dd .mono').first().textContent();
    check(m && selId === m[2], 'the trace opens at the log line\'s span');
    // Live tail: a record logged now shows up without a reload.
    await page.goto(`${BASE}/#/logs?live=1&q=tail-check`);
    await page.waitForSelector('.state-empty, .logs-tbl');
    const tid = '7a11' + '0'.repeat(28);
    const sent = await fetch(BASE + '/v1/logs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'frontend' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1000000n), severityNumber: 9, body: { stringValue: 'tail-check record' }, traceId: tid, spanId: '' }] }] }] }) });
    check(sent.ok, 'a log record was sent for the live tail');
    const tailed = await page.waitForSelector('.logs-tbl .lbody:text("tail-check record")', { timeout: 6000 }).then(() => true, () => false);
    check(tailed, 'live tail shows a new record without a reload');
  }

  // ---- alerts: rules/states when the API exists, a plain notice when it does not ----
  {
    const r = await fetch(BASE + '/api/v1/alerts');
    allowed404 = r.status === 404;
    if (r.status === 404) {
      await page.goto(`${BASE}/#/alerts`);
      await page.waitForSelector('.alerts-na, .state-error');
      check(await page.locator('.alerts-na').count() === 1, 'alerts page says the alerts API is not available');
    } else {
      // Two rules through the API: one that fires on the seeded payment errors, one that stays ok.
      const put = (name, rule) => fetch(`${BASE}/api/v1/alerts/rules/${name}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rule) });
      const p1 = await put('payment-errors', { expr: 'error_rate(payment) > 0.5% over 30m', severity: 'critical', description: 'Payment requests failing' });
      const p2 = await put('checkout-latency', { expr: 'p99(checkout) > 30s over 30m', severity: 'warning', description: 'Checkout is slow' });
      check(p1.ok && p2.ok, 'two alert rules were created through the API', `${p1.status} ${p2.status}`);
      let al = null;
      // Wait (up to 30 s: the ASan build evaluates slowly) until both rules
      // were evaluated and the error rule has reached 'firing'.
      for (let k = 0; k < 120; k++) {
        al = await api('alerts');
        if (al.alerts.length >= 2 && al.alerts.every((a) => a.last_eval_ns !== '0') &&
            al.alerts.find((a) => a.rule === 'payment-errors')?.state === 'firing') break;
        await new Promise((res) => setTimeout(res, 250));
      }
      await page.goto(`${BASE}/#/alerts`);
      await page.waitForSelector('.alerts-tbl tbody tr');
      al = await api('alerts'); // the states the page was drawn from
      const shown = await page.$$eval('.alerts-tbl tbody tr', (t) => t.map((x) => [x.dataset.rule, x.querySelector('.apill').textContent]));
      check(shown.length === al.alerts.length && al.alerts.every((a) => shown.some(([n, s]) => n === a.rule && s === a.state)),
        'alerts page shows every rule with its state', JSON.stringify(shown));
      check(al.alerts.find((a) => a.rule === 'payment-errors')?.state === 'firing', 'the payment error rule fires on the seeded errors');
      await page.click('.alerts-tbl tbody tr[data-rule="payment-errors"]');
      await page.waitForFunction(() => location.hash.includes('rule=payment-errors'));
      await page.waitForSelector('.hist-tbl tbody tr');
      const hist = await page.$$eval('.hist-tbl tbody tr', (t) => t.map((x) => x.children[1].textContent));
      check(hist.length > 0 && hist.every((n) => n === 'payment-errors'), 'a rule\'s history lists its transitions', hist.join(','));
    }
    await shot(page, 'alerts');
    allowed404 = false;
  }

  // ---- speed: a 5,000-span trace renders in under a second ----
  if (BIG_TRACE) {
    await page.goto('about:blank');
    await page.goto(`${BASE}/#/trace/${BIG_TRACE}`);
    await page.waitForSelector('.wf .row.span-row');
    const ms = await page.waitForFunction(() => performance.getEntriesByName('sl:trace:waterfall')[0]?.startTime)
      .then((h) => h.jsonValue());
    const n = await page.getAttribute('.wf-scroll', 'data-span-count');
    console.log(`5,000-span trace: waterfall drawn ${ms.toFixed(0)} ms after navigation start`);
    check(n === '5000', 'the big trace has 5,000 spans in the waterfall', n);
    check(ms < 1000, 'a 5,000-span trace renders in under 1 s', `${ms.toFixed(0)} ms`);
    const crit = await page.locator('.wf .row.span-row.crit').count();
    check(crit > 0, 'the big trace shows its critical path');
    await page.fill('.searchbox input', 'row rejected');
    await page.waitForTimeout(100);
    await shot(page, 'trace-big');
  }

  // ---- layout: no horizontal overflow at 1280 and at phone width ----
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check((await overflow()) <= 0, 'trace page fits 1280x800 without horizontal scrolling');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/#/traces`);
  await page.waitForSelector('.traces-tbl tbody tr');
  check((await overflow()) <= 0, 'traces page fits a phone-width screen', `${await overflow()} px over`);
  await shot(page, 'phone-traces');
  await page.goto(`${BASE}/#/trace/${target.trace_id}`);
  await page.waitForSelector('.wf .row.span-row');
  check((await overflow()) <= 0, 'trace page fits a phone-width screen', `${await overflow()} px over`);
  await shot(page, 'phone-trace');
  for (const [name, hash, sel] of [['services', '#/services', '.svc-tbl tbody tr'], ['service', '#/service/payment', '.lchart svg'],
    ['map', '#/map', 'svg.map .node'], ['logs', '#/logs', '.logs-tbl tbody tr']]) {
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector(sel);
    check((await overflow()) <= 0, `${name} page fits a phone-width screen`, `${await overflow()} px over`);
    await shot(page, 'phone-' + name);
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  check(consoleErrors.length === 0, 'no console errors on any page', consoleErrors.slice(0, 3).join(' | '));

  // ---- error state: the API's error shape shown readably ----
  allowed404 = true;
  const missing = '0123456789abcdef0123456789abcdef';
  const apiErr = await fetch(`${BASE}/api/v1/traces/${missing}`).then((r) => r.json());
  await page.goto(`${BASE}/#/trace/${missing}`);
  await page.waitForSelector('.state-error');
  const errText = await page.locator('.state-error').textContent();
  check(errText.includes('404') && errText.includes(apiErr.error.message), 'a missing trace shows the API error message', errText);
  await shot(page, 'error');
  allowed404 = false;

  check(consoleErrors.length === 0, 'no console errors on the error page', consoleErrors.slice(0, 3).join(' | '));
} catch (e) {
  check(false, 'browser session ran to the end', e.message.split('\n')[0]);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
