// The web client as people use it, in Debian's Chromium with a fake camera, against
// `amphi run --max-participants 1` inside a network namespace with only lo (run-in-netns.sh):
// a participant publishes and a visitor's page plays its video; chat both ways; a poll the
// participant made, voted on by the visitor, with the same tally on both pages; a raised hand
// promoted from the moderator's panel, on stage without a reload, its video playing at the
// participant's page; then demoted, watching again; a token from ?jwt=; the phone layout.
// Screenshots of each go to tests/browser/output/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { freeBase, joinPage, launchMediaChromium, netnsProblem, pageState, role, shot,
  startAmphi, udpPortFree, waitVideo } from './amphi.mjs';

const ROOM = 'acme/townhall';

async function start(extra = []) {
  assert.equal(netnsProblem(), null, 'run through tests/browser/run-in-netns.sh');
  const port = await freeBase(3);
  const mediaPort = await freeBase(1, udpPortFree);
  const amphi = startAmphi(['--listen', '127.0.0.1', '--port', String(port), '--max-participants', '1',
    '--visitor-nodes', '1', '--media-ip', '127.0.0.1', '--media-port', String(mediaPort), ...extra]);
  await amphi.ready(port, 3);
  return { amphi, port, url: `http://127.0.0.1:${port}/${ROOM}` };
}

async function chatLines(page) {
  return page.$$eval('[data-testid=chat-log] > *', (els) => els.map((e) => e.querySelector('.text').textContent));
}

async function tally(page) {
  return page.$$eval('[data-testid=poll] [data-testid=poll-votes]', (els) =>
    els.map((e) => Number(e.textContent.split(' ')[0])));
}

test('stage, audience, chat, poll, promotion and demotion in the web client', { timeout: 180000 }, async () => {
  const { amphi, url } = await start();
  const browser = await launchMediaChromium();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const ann = await joinPage(ctx, url, 'Ann');
    assert.equal(await role(ann), 'participant');
    await ann.waitForFunction(() => window.amphi.state().publishing, null, { timeout: 20000 });
    const annId = (await pageState(ann)).id;
    const vic = await joinPage(ctx, url, 'Vic');
    assert.equal(await role(vic), 'visitor');
    assert.ok(await vic.isVisible('text=You are watching as a member of the audience'));
    await waitVideo(vic, annId);
    await vic.waitForFunction(() => document.querySelector('[data-testid=visitor-count]').textContent === '1');
    await shot(vic, 'audience-view');

    // chat both ways; a very long word wraps instead of widening the page
    const long = 'x'.repeat(300);
    await vic.fill('[data-testid=chat-input]', `hello ${long}`);
    await vic.click('[data-testid=chat-send]');
    await ann.fill('[data-testid=chat-input]', 'welcome, Vic');
    await ann.click('[data-testid=chat-send]');
    for (const p of [ann, vic]) {
      await p.waitForFunction(() => document.querySelectorAll('[data-testid=chat-log] > *').length === 2);
      assert.deepEqual(await chatLines(p), [`hello ${long}`, 'welcome, Vic']);
      assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    }

    // a poll by the participant, the visitor's vote, the same tally on both pages
    await ann.click('[data-testid=poll-create]');
    await ann.fill('[data-testid=poll-question]', 'Lunch?');
    const inputs = ann.locator('.poll-option-input');
    await inputs.nth(0).fill('Pizza');
    await inputs.nth(1).fill('Salad');
    await ann.click('[data-testid=poll-submit]');
    await vic.waitForSelector('[data-testid=poll] [data-testid=poll-option]');
    assert.equal(await vic.isVisible('[data-testid=poll-create]'), false, 'visitors create no polls');
    await vic.click('[data-testid=poll-option] >> nth=1');
    await ann.click('[data-testid=poll-option] >> nth=1');
    for (const p of [ann, vic])
      await p.waitForFunction(() => [...document.querySelectorAll('[data-testid=poll-votes]')]
        .map((e) => e.textContent.split(' ')[0]).join() === '0,2');
    assert.deepEqual(await tally(vic), await tally(ann));

    // the visitor raises its hand; the moderator promotes it from the panel
    await vic.click('[data-testid=raise-hand]');
    await ann.waitForSelector('[data-testid=hands] > * [data-testid=promote]');
    assert.equal(await ann.locator('[data-testid=hands] > *').count(), 1);
    await shot(ann, 'moderator-panel');
    const vicId = (await pageState(vic)).id;
    const t0 = Date.now();
    await ann.click('[data-testid=hands] [data-testid=promote]');
    await vic.waitForFunction(() => document.querySelector('[data-testid=role]').textContent === 'participant',
      null, { timeout: 15000 });
    await waitVideo(ann, vicId);
    const promoteMs = Date.now() - t0;
    console.log(`promote click -> the promoted person's video playing at the participant: ${promoteMs} ms`);
    assert.equal((await pageState(vic)).id, vicId, 'the same person, kept its id');
    assert.deepEqual(await chatLines(vic), [`hello ${long}`, 'welcome, Vic'], 'chat kept on screen');
    assert.equal(await ann.locator('[data-testid=hands] > *').count(), 0);
    await shot(ann, 'stage');

    // demote: the camera is released and the page watches the stage again
    await ann.click(`[data-tile="${vicId}"] [data-testid=demote]`);
    await vic.waitForFunction(() => document.querySelector('[data-testid=role]').textContent === 'visitor',
      null, { timeout: 15000 });
    await waitVideo(vic, annId);
    await ann.waitForFunction((id) => !document.querySelector(`[data-tile="${id}"]`), vicId);
    assert.equal((await pageState(vic)).publishing, false);
    for (const p of [ann, vic]) assert.deepEqual(p.errors || [], []);

    // phone width: one column, nothing wider than the screen, Leave in view
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const ph = await joinPage(phone, url, 'Phil', { visitor: true });
    await waitVideo(ph, annId);
    assert.equal(await ph.evaluate(() => document.documentElement.scrollWidth), 390);
    const wide = await ph.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent)
      .map((e) => e.tagName + '.' + e.className));
    assert.deepEqual(wide, []);
    const leave = await ph.locator('[data-testid=leave]').boundingBox();
    assert.ok(leave && leave.x >= 0 && leave.x + leave.width <= 390, JSON.stringify(leave));
    await shot(ph, 'phone');
  } finally {
    await browser.close();
    await amphi.stop();
  }
});

function jwt(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

test('a token from ?jwt= joins a server with a key; without one the page says why', { timeout: 60000 }, async () => {
  const secret = 'browser-secret-0123456789';
  const { amphi, url } = await start(['--jwt-secret', secret]);
  const browser = await launchMediaChromium();
  try {
    const ctx = await browser.newContext();
    const token = jwt(secret, { room: 'townhall', sub: 'acme', exp: Math.floor(Date.now() / 1000) + 600,
      context: { user: { name: 'Tess', id: 'u-tess', moderator: true } } });
    const p = await joinPage(ctx, `${url}?jwt=${token}`, 'Tess');
    assert.equal(await role(p), 'participant');
    assert.equal((await pageState(p)).moderator, true);
    const q = await ctx.newPage();
    await q.goto(url);
    await q.fill('[data-testid=join-name]', 'Nobody');
    await q.click('[data-testid=join-submit]');
    await q.waitForFunction(() => document.getElementById('join-error').textContent.includes('cannot join'));
  } finally {
    await browser.close();
    await amphi.stop();
  }
});
