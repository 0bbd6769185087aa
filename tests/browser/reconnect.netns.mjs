// A visitor's node dies under it: on a cluster from `amphi configure` (real nats-server, one
// process per node), the visitor node a page watches from is killed; the page reconnects by
// itself through the main node to the other visitor node, and a chat sent meanwhile appears
// on it exactly once. Runs in a network namespace with only lo (run-in-netns.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinPage, launchMediaChromium, netnsProblem, pageState, shot, startCluster } from './amphi.mjs';

test('a visitor whose node dies lands on another node by itself', { timeout: 120000 }, async () => {
  assert.equal(netnsProblem(), null, 'run through tests/browser/run-in-netns.sh');
  const cluster = await startCluster({ visitors: 2 });
  const browser = await launchMediaChromium();
  try {
    const ctx = await browser.newContext();
    const url = cluster.url('acme/townhall');
    const ann = await joinPage(ctx, url, 'Ann', { visitor: false });
    const vic = await joinPage(ctx, url, 'Vic', { visitor: true });
    const before = await pageState(vic);
    assert.equal(before.role, 'visitor');
    const nodeIndex = Number(new URL(before.node).port) - cluster.port;
    assert.ok(nodeIndex === 1 || nodeIndex === 2, before.node);
    await ann.fill('[data-testid=chat-input]', 'before');
    await ann.click('[data-testid=chat-send]');
    await vic.waitForFunction(() => document.querySelectorAll('[data-testid=chat-log] > *').length === 1);

    await cluster.kill(`visitor-${nodeIndex}`);
    await ann.fill('[data-testid=chat-input]', 'meanwhile');
    await ann.click('[data-testid=chat-send]');
    await vic.waitForFunction((old) => window.amphi.state().node !== old
      && document.querySelector('[data-testid=role]').textContent === 'visitor'
      && document.getElementById('banner').hidden, before.node, { timeout: 30000 });
    const after = await pageState(vic);
    assert.equal(Number(new URL(after.node).port) - cluster.port, 3 - nodeIndex);
    await vic.waitForFunction(() => [...document.querySelectorAll('[data-testid=chat-log] .text')]
      .map((e) => e.textContent).join('|') === 'before|meanwhile', null, { timeout: 10000 });
    await ann.fill('[data-testid=chat-input]', 'after');
    await ann.click('[data-testid=chat-send]');
    await vic.waitForFunction(() => [...document.querySelectorAll('[data-testid=chat-log] .text')]
      .map((e) => e.textContent).join('|') === 'before|meanwhile|after', null, { timeout: 10000 });
    await shot(vic, 'reconnected');
    assert.deepEqual(vic.errors || [], []);
  } finally {
    await browser.close();
    await cluster.stop();
  }
});

test('visitors are told when the main node is gone, and when it is back', { timeout: 120000 }, async () => {
  assert.equal(netnsProblem(), null, 'run through tests/browser/run-in-netns.sh');
  const cluster = await startCluster({ visitors: 1 });
  const browser = await launchMediaChromium();
  try {
    const ctx = await browser.newContext();
    const url = cluster.url('acme/townhall');
    const ann = await joinPage(ctx, url, 'Ann', { visitor: false });
    const vic = await joinPage(ctx, url, 'Vic', { visitor: true });
    assert.equal((await pageState(vic)).role, 'visitor');
    await cluster.kill('main');
    // The visitor node misses 3 of the main node's heartbeats and says so; the page shows it
    // in words, and stays in the room.
    await vic.waitForFunction(() => !document.getElementById('banner').hidden
      && /cannot be reached/.test(document.getElementById('banner').textContent), null, { timeout: 10000 });
    assert.equal(await vic.evaluate(() => document.querySelector('[data-testid=role]').textContent), 'visitor');
    await shot(vic, 'main-unreachable');
    await cluster.start('main');
    await vic.waitForFunction(() => document.getElementById('banner').hidden, null, { timeout: 15000 });
    // Ann's page found its way back by itself; a chat goes round again.
    // (This cluster has no bridge: Ann's page may say so about her camera, which is not a
    // connection problem.)
    await ann.waitForFunction(() => window.amphi.state().role === 'participant'
      && !/reconnect|Connection lost/i.test(document.getElementById('banner').textContent),
    null, { timeout: 30000 });
    await ann.fill('[data-testid=chat-input]', 'we are back');
    await ann.click('[data-testid=chat-send]');
    await vic.waitForFunction(() => [...document.querySelectorAll('[data-testid=chat-log] .text')]
      .some((e) => e.textContent === 'we are back'), null, { timeout: 15000 });
  } finally {
    await browser.close();
    await cluster.stop();
  }
});
