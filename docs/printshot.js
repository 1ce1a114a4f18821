// The transcript as printed: a screenshot with print media (A4 width), for docs/ux.md.
// usage: NODE_PATH=<node_modules with playwright-core> node tools/printshot.js PAGE.html OUT.png
const { chromium } = require('playwright-core');
const path = require('path');

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 794, height: 1123 } });
  await page.goto('file://' + path.resolve(process.argv[2]));
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: process.argv[3], fullPage: true });
  await browser.close();
})();
