// The web client in a real browser (Debian's Chromium, driven by playwright-core): two
// participants and a visitor join through the page, the visitor lands on a visitor node,
// chat crosses both ways, the visitor count shows. Run by `make check` (make browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { chromium } from 'playwright-core';

const AMPHI = process.env.AMPHI_BIN || new URL('../../build/amphi', import.meta.url).pathname;

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freeBase(count) {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * 10000);
    let ok = true;
    for (let k = 0; k < count && ok; k++) ok = await portFree(base + k);
    if (ok) return base;
  }
  throw new Error('no free ports');
}

async function waitHealthy(port, deadline) {
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never healthy`);
}

test('participants and a visitor chat through the web client', { timeout: 60000 }, async () => {
  const port = await freeBase(3);
  let stderr = '';
  const server = spawn(AMPHI, ['run', '--listen', '127.0.0.1', '--port', String(port),
    '--max-participants', '2', '--visitor-nodes', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const deadline = Date.now() + 15000;
    for (let k = 0; k < 3; k++) await waitHealthy(port + k, deadline);
    // the main node learns of its visitor nodes from their first heartbeats
    await new Promise((r) => setTimeout(r, 1200));
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
    server.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `amphi run exited ${code}:\n${stderr.slice(-2000)}`);
    assert.doesNotMatch(stderr, /AddressSanitizer|runtime error:|LeakSanitizer/);
  }
});
