// The web client in a real browser (Debian's Chromium, driven by playwright-core): two
// participants and a visitor join through the page, the visitor lands on a visitor node,
// chat crosses both ways, the visitor count shows. Run by `make check` (make browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeBase, launchChromium, startAmphi } from './amphi.mjs';

test('participants and a visitor chat through the web client', { timeout: 60000 }, async () => {
  const port = await freeBase(3);
  const amphi = startAmphi(['--listen', '127.0.0.1', '--port', String(port),
    '--max-participants', '2', '--visitor-nodes', '2']);
  const browser = await launchChromium();
  try {
    await amphi.ready(port, 3);
    const pages = [];
    for (const name of ['Ada', 'Bob', 'Vera']) {
      const p = await browser.newPage();
      await p.goto(`http://127.0.0.1:${port}/acme/townhall`);
      assert.equal(await p.inputValue('[data-testid=join-room]'), 'acme/townhall');
      await p.fill('[data-testid=join-name]', name);
      await p.click('[data-testid=join-submit]');
      await p.waitForSelector('[data-testid=role]:not(:empty)');
      pages.push(p);
    }
    const roles = await Promise.all(pages.map((p) => p.textContent('[data-testid=role]')));
    assert.deepEqual(roles, ['participant', 'participant', 'visitor']);
    assert.equal(await pages[0].isVisible('[data-testid=join-submit]'), false);

    await pages[2].fill('[data-testid=chat-input]', 'hello from the audience');
    await pages[2].click('[data-testid=chat-send]');
    await pages[2].waitForFunction(() =>
      document.querySelectorAll('[data-testid=chat-log] > *').length === 1);
    await pages[0].fill('[data-testid=chat-input]', 'welcome, Vera');
    await pages[0].click('[data-testid=chat-send]');
    for (const p of pages) {
      await p.waitForFunction(() =>
        document.querySelectorAll('[data-testid=chat-log] > *').length === 2);
      const lines = await p.$$eval('[data-testid=chat-log] > *', (els) => els.map((e) => e.textContent));
      assert.deepEqual(lines, ['Verahello from the audience', 'Adawelcome, Vera']);
      await p.waitForFunction(() =>
        document.querySelector('[data-testid=visitor-count]').textContent === '1');
    }
  } finally {
    await browser.close();
    await amphi.stop();
  }
});
