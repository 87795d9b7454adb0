// Takes the README's three TensorBoard screenshots, as a person would see them.
//
// With a default run (--seed 5) under logs/ served by `tensorboard --logdir
// logs --port 6006`, Debian's chromium installed, and
// playwright-core from npm (npm install playwright-core@1.64.1):
//   node docs/screenshots.js
const { chromium } = require('playwright-core');

const OPTIONS = ['--no-sandbox', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--enable-unsafe-swiftshader', '--use-gl=angle',
  '--use-angle=swiftshader'];

async function graphs(page) {
  await page.goto('http://127.0.0.1:6006/#graphs', {waitUntil: 'networkidle'});
  await page.waitForTimeout(4000);
  await page.locator('paper-dropdown-menu').nth(1).click();  // Tag
  await page.waitForTimeout(1000);
  await page.locator('paper-item', {hasText: 'step1999'}).click();
  await page.waitForTimeout(3000);
  await page.locator('paper-radio-button', {hasText: 'Compute time'}).click();
  await page.waitForTimeout(2000);
  await page.screenshot({path: 'tensorboard-graphs-profile.png'});
}

async function scalars(page) {
  // Smoothing 0: the precision lines have a point per evaluation only, which
  // the default smoothing (0.6) would bend away from the printed figures.
  await page.goto('http://127.0.0.1:6006/#scalars&_smoothingWeight=0',
                  {waitUntil: 'networkidle'});
  await page.waitForTimeout(5000);
  await page.screenshot({path: 'tensorboard-scalars.png'});
}

async function projector(page) {
  await page.goto('http://127.0.0.1:6006/#projector',
                  {waitUntil: 'networkidle'});
  await page.waitForTimeout(8000);
  // The page opens on its first run, the log dir's own, at the test digits.
  const frame = page.frames().find(f => f.url().includes('projector_binary'));
  await page.waitForTimeout(20000);
  await frame.locator('paper-dropdown-menu:visible',
                      {hasText: 'Color by'}).click();
  await frame.locator('paper-item:visible', {hasText: /^\s*label/}).first()
      .click();
  await page.waitForTimeout(3000);
  await page.screenshot({path: 'tensorboard-projector.png'});
}

(async () => {
  const browser = await chromium.launch(
      {executablePath: '/usr/bin/chromium', args: OPTIONS});
  // A page each: a change of the URL's fragment alone reloads nothing.
  for (const shoot of [scalars, graphs, projector]) {
    const page = await browser.newPage({viewport: {width: 1400, height: 900}});
    await shoot(page);
    await page.close();
  }
  await browser.close();
})();
