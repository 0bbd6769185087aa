// Media through the bridge in a real browser: a participant publishes Chromium's fake camera
// and microphone from web/media.html, a visitor (redirected to the visitor node) receives them
// through the bridge, and its decoded frame count rises and keeps rising.
// WebRTC must see no address but loopback, so this runs only inside a private network
// namespace with just `lo` up: ./run-in-netns.sh (which runs `node --test media.netns.mjs`).
// Its name keeps plain `node --test` (the web client test) from picking it up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeBase, launchChromium, netnsProblem, startAmphi, udpPortFree } from './amphi.mjs';

const ROOM = 'acme/townhall';
const FRAMES_MS = 30000; // ASan server on two cores: first frames can take a while
const MIN_FRAMES = 30;

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  return line ? Number(line.trim().split(/\s+/).pop()) : NaN;
}

async function snapshot(page) {
  return page.evaluate(async () => ({
    state: window.amphiMedia.state(),
    stats: await window.amphiMedia.stats(),
  }));
}

// Polls the page's hooks until pred holds; on timeout the error tells what the page saw.
async function waitFor(page, what, pred, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await snapshot(page);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a visitor decodes a participant\'s video through the bridge', { timeout: 120000 }, async () => {
  const problem = netnsProblem();
  assert.equal(problem, null,
    `${problem}; run this test through tests/browser/run-in-netns.sh, never directly`);

  const port = await freeBase(3); // main, visitor 1, bridge 1's HTTP
  const mediaPort = await freeBase(1, udpPortFree);
  const amphi = startAmphi(['--listen', '127.0.0.1', '--port', String(port),
    '--visitor-nodes', '1', '--max-participants', '2',
    '--media-ip', '127.0.0.1', '--media-port', String(mediaPort)]);
  let browser;
  const pages = {};
  try {
    await amphi.ready(port, 3);
    browser = await launchChromium(['--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // without it Chromium gathers no candidate at all on a loopback-only host
      '--allow-loopback-in-peer-connection']);
    const base = `http://127.0.0.1:${port}/media.html?room=${ROOM}`;

    pages.ann = await browser.newPage();
    await pages.ann.goto(`${base}&name=Ann&mode=publish`);
    const ann = await waitFor(pages.ann, 'Ann publishing',
      (s) => s.state.publishing || s.state.errors.length > 0, 20000);
    assert.deepEqual(ann.state.errors, []);
    assert.equal(ann.state.role, 'participant');

    pages.vic = await browser.newPage();
    await pages.vic.goto(`${base}&name=Vic&mode=view`);
    let vic = await waitFor(pages.vic, `more than ${MIN_FRAMES} frames decoded`,
      (s) => s.stats.framesDecoded > MIN_FRAMES, FRAMES_MS);
    assert.equal(vic.state.role, 'visitor');
    assert.equal(vic.state.node, `ws://127.0.0.1:${port + 1}/ws`, 'viewer is on the visitor node');
    assert.ok(vic.state.answered >= 1);
    assert.equal(await pages.vic.locator('[data-testid=remote-video]').count(), 1);

    const first = vic.stats.framesDecoded;
    vic = await waitFor(pages.vic, 'frames to keep rising', (s) => s.stats.framesDecoded > first + 20,
      10000);
    vic = await waitFor(pages.vic, 'audio packets', (s) => s.stats.audioPackets > 0, 10000);
    assert.deepEqual(vic.state.errors, []);

    const annNow = await snapshot(pages.ann);
    assert.equal(annNow.state.offers, 0, 'a participant never receives its own streams');
    assert.deepEqual(annNow.state.errors, []);
    const bridgePort = port + 2;
    assert.ok(await metric(bridgePort, 'amphi_rtp_packets_in_total') > 0);
    assert.ok(await metric(bridgePort, 'amphi_rtp_packets_out_total') > 0);
  } catch (err) {
    // what each page saw and what the server said make a failure readable on its own
    for (const [name, p] of Object.entries(pages))
      err.message += `\n${name}: ${JSON.stringify(await snapshot(p).catch((e) => e.message))}`;
    err.message += `\namphi stderr (tail):\n${amphi.stderr().slice(-3000)}`;
    throw err;
  } finally {
    if (browser) await browser.close();
    await amphi.stop();
  }
});
