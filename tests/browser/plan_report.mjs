// Browser test of `codefleet plan --report`: opens the page in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core), with every network request refused, and
// checks that there are no console errors and that every chart drew something. Keeps a
// full-page screenshot as an artifact.
//   node tests/browser/plan_report.mjs CODEFLEET SPEC OUT_DIR
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [, , binary, spec, outDir] = process.argv;
mkdirSync(outDir, { recursive: true });
const report = resolve(join(outDir, 'plan-report.html'));
execFileSync(binary, ['plan', spec, '--synthetic', 'tasks=3000,days=7,seed=1', '--report', report, '--output', 'json'],
             { stdio: ['ignore', 'ignore', 'inherit'] });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let passed = 0, failed = 0;
const check = (ok, what) => {
  if (ok) { passed++; } else { failed++; console.error('FAILED: ' + what); }
};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    errors.push('network request: ' + url);
    return route.abort();
  });
  await page.goto('file://' + report);
  for (const id of ['cost', 'nodes', 'quota', 'burn']) {
    const painted = await page.evaluate((cid) => {
      const c = document.getElementById(cid);
      if (!c || !c.width || !c.height) return 0;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    }, id);
    check(painted > 1000, `chart '${id}' drew ${painted} pixels`);
  }
  check(errors.length === 0, 'console errors or network requests: ' + errors.join(' | '));
  await page.screenshot({ path: join(outDir, 'plan-report.png'), fullPage: true });
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
