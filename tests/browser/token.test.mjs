// token.test.mjs - the dashboard against a collector that requires an API
// token (--api-token-read): it must ask for the token, refuse a wrong one,
// work after the right one, send it with every request, and forget it on
// "Sign out".
//
//   BASE=http://127.0.0.1:PORT TOKEN=secret node token.test.mjs
//
// Prints "RESULT ok <what>" / "RESULT not_ok <what>" lines like
// dashboard.test.mjs.
import { chromium } from 'playwright-core';

const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE || !TOKEN) {
  console.error('token.test.mjs: set BASE (collector URL) and TOKEN (its --api-token-read value)');
  process.exit(2);
}
let failures = 0;
function check(cond, what, detail) {
  if (!cond) failures++;
  console.log(`RESULT ${cond ? 'ok' : 'not_ok'} ${what}${!cond && detail !== undefined ? ` (${detail})` : ''}`);
  return cond;
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.setDefaultTimeout(8000);
  const sent = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/')) sent.push(r.headers().authorization || ''); });

  await page.goto(BASE + '/#/services');
  await page.waitForSelector('.token-prompt #api-token');
  check(await page.locator('.token-prompt').count() === 1, 'a 401 from the API shows one token prompt');
  check(/requires an API token/.test(await page.locator('#token-why').textContent()), 'the prompt says why');

  await page.fill('#api-token', 'wrong-' + TOKEN);
  await page.click('.token-prompt button[type=submit]');
  await page.waitForFunction(() => /not accepted/.test(document.querySelector('#token-why')?.textContent || ''));
  check(true, 'a wrong token is refused and the prompt asks again');

  await page.fill('#api-token', TOKEN);
  await page.click('.token-prompt button[type=submit]');
  await page.waitForSelector('.svc-tbl, .state-empty');
  check(await page.locator('.token-prompt').count() === 0 && await page.locator('.state-error').count() === 0,
    'with the right token the services page loads without errors');
  await page.click('nav a[data-nav="traces"]');
  await page.waitForSelector('.traces-tbl tbody tr, .state-empty');
  check(await page.locator('.token-prompt').count() === 0, 'other pages work without asking again');
  check(sent.length > 2 && sent.slice(-2).every((h) => h === 'Bearer ' + TOKEN),
    'every API request after sign-in carries the token', sent.slice(-2).join(','));
  check(await page.evaluate(() => sessionStorage.getItem('sightline.apiToken')) === TOKEN,
    'the token is kept in sessionStorage');
  check(!page.url().includes(TOKEN), 'the token is not in the URL');

  await page.click('#signout');
  await page.waitForSelector('.token-prompt #api-token');
  check(await page.evaluate(() => sessionStorage.getItem('sightline.apiToken')) === null,
    '"Sign out" forgets the token and the prompt comes back');
} catch (e) {
  check(false, 'token test ran to the end', e.message.split('\n')[0]);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
