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
    const full = await api('traces/' + t.trace_id);
    if (full.summary.services.length >= 3 && full.logs.length > 0) { target = full; break; }
    if (!target) target = full;
  }
  check(target !== null, 'the API has a frontend trace to open');
  if (!target) throw new Error('no trace to open');
  await page.click('nav a[data-nav="traces"]');
  await page.waitForSelector('.traces-tbl tbody tr');
  await page.selectOption('#f-service', 'frontend');
  await page.waitForFunction(() => location.hash.includes('service=frontend'));
  await page.waitForSelector(`.traces-tbl tbody tr[data-id="${target.trace_id}"]`);
  const allFrontend = await page.$$eval('.traces-tbl tbody tr .chip', (n) => n.every((c) => c.textContent === 'frontend'));
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
