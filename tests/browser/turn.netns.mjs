// A network that blocks UDP: Chromium publishes and watches through a real coturn (Debian's
// turnserver), reached over TCP with the credentials the join answer hands out
// (docs/PROTOCOL.md "TURN"). coturn's config and the nodes' shared secret come from
// `amphi configure --turn-host`; nftables in this test's own network namespace drops every UDP
// datagram to or from the bridge's media port but the TURN relay's, and UDP to coturn, so
// media can only flow client -TCP-> coturn -UDP-> bridge. Run through ./run-in-netns.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AMPHI, freeBase, launchChromium, netnsProblem, portFree, startAmphi,
  udpPortFree } from './amphi.mjs';

const ROOM = 'acme/closed';
const RELAY = [31000, 31100]; // coturn's relay ports: below Linux's ephemeral range
const FRAMES_MS = 40000;

async function snapshot(page) {
  return page.evaluate(async () => ({
    state: window.amphiMedia.state(),
    stats: await window.amphiMedia.stats(),
  }));
}

async function waitFor(page, what, pred, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await snapshot(page);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function confValue(text, key) {
  const m = text.match(new RegExp(`^${key} = (.*)$`, 'm'));
  return m && m[1];
}

test('behind a UDP-blocking firewall, media flows through coturn over TCP', { timeout: 150000 },
  async (t) => {
    const problem = netnsProblem();
    assert.equal(problem, null,
      `${problem}; run this test through tests/browser/run-in-netns.sh, never directly`);
    if (spawnSync('turnserver', ['--help']).error || spawnSync('nft', ['--version']).error) {
      t.skip('needs coturn (turnserver) and nftables');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amphi-turn-'));
    const port = await freeBase(3);
    const mediaPort = await freeBase(1, udpPortFree);
    const turnPort = await freeBase(1, portFree);

    // The generator's two halves: coturn's config and the nodes' secret.
    execFileSync(AMPHI, ['configure', '--visitor-nodes', '1', '--out', `${dir}/cfg`,
      '--host', '127.0.0.1', '--turn-host', `127.0.0.1:${turnPort}`], { stdio: 'ignore' });
    let conf = fs.readFileSync(`${dir}/cfg/turnserver.conf`, 'utf8');
    assert.match(conf, /^use-auth-secret$/m);
    assert.match(conf, /^allowed-peer-ip=127\.0\.0\.1$/m);
    conf = conf.replace(/^min-port=.*$/m, `min-port=${RELAY[0]}`)
      .replace(/^max-port=.*$/m, `max-port=${RELAY[1]}`);
    fs.writeFileSync(`${dir}/turnserver.conf`, conf);
    const main = fs.readFileSync(`${dir}/cfg/main.conf`, 'utf8');
    const secret = confValue(main, 'turn_secret');
    assert.ok(secret && conf.includes(`static-auth-secret=${secret}`), 'one secret on both sides');
    assert.equal(confValue(main, 'turn_uris'),
      `turn:127.0.0.1:${turnPort}?transport=udp,turn:127.0.0.1:${turnPort}?transport=tcp`);

    execFileSync('nft', ['-f', '-'], { input: `
table inet closed {
  chain out {
    type filter hook output priority filter
    udp dport ${turnPort} counter drop
    udp dport ${mediaPort} udp sport != ${RELAY[0]}-${RELAY[1]} counter drop
    udp sport ${mediaPort} udp dport != ${RELAY[0]}-${RELAY[1]} counter drop
  }
}
` });

    let turnLog = '';
    const turn = spawn('turnserver', ['-c', `${dir}/turnserver.conf`, '--listening-ip', '127.0.0.1',
      '--relay-ip', '127.0.0.1', '--pidfile', `${dir}/turnserver.pid`, '--log-file', 'stdout'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    turn.stdout.on('data', (d) => { turnLog += d; });
    turn.stderr.on('data', (d) => { turnLog += d; });
    const turnExited = new Promise((r) => turn.on('exit', r));

    const amphi = startAmphi(['--listen', '127.0.0.1', '--port', String(port),
      '--visitor-nodes', '1', '--max-participants', '1',
      '--media-ip', '127.0.0.1', '--media-port', String(mediaPort),
      // only TCP: the UDP URI would be tried first and dropped
      '--turn-uris', `turn:127.0.0.1:${turnPort}?transport=tcp`, '--turn-secret', secret]);
    let browser;
    const pages = {};
    try {
      await amphi.ready(port, 3);
      browser = await launchChromium(['--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection']);
      const base = `http://127.0.0.1:${port}/media.html?room=${ROOM}`;
      pages.ann = await browser.newPage();
      await pages.ann.goto(`${base}&name=Ann&mode=publish`);
      pages.vic = await browser.newPage();
      await pages.vic.goto(`${base}&name=Vic&mode=view`);
      const vic = await waitFor(pages.vic, 'frames decoded through the relay',
        (s) => s.stats.framesDecoded > 30, FRAMES_MS);
      assert.equal(vic.state.role, 'visitor');
      assert.deepEqual(vic.stats.candidateTypes, ['relay'], 'the viewer goes through TURN');
      const ann = await snapshot(pages.ann);
      assert.equal(ann.state.publishing, true);
      assert.deepEqual(ann.stats.candidateTypes, ['relay'], 'the publisher goes through TURN');
      assert.deepEqual(vic.state.errors, []);
      assert.deepEqual(ann.state.errors, []);
      // The firewall did its part: host candidates tried UDP and were dropped.
      const rules = execFileSync('nft', ['list', 'table', 'inet', 'closed'], { encoding: 'utf8' });
      assert.match(rules, /udp sport != \d+-\d+ counter packets [1-9]/, rules);
    } catch (err) {
      for (const [name, p] of Object.entries(pages))
        err.message += `\n${name}: ${JSON.stringify(await snapshot(p).catch((e) => e.message))}`;
      err.message += `\namphi stderr (tail):\n${amphi.stderr().slice(-2000)}`;
      err.message += `\ncoturn (tail):\n${turnLog.slice(-3000)}`;
      throw err;
    } finally {
      if (browser) await browser.close();
      turn.kill('SIGTERM');
      await turnExited;
      spawnSync('nft', ['delete', 'table', 'inet', 'closed']);
      fs.rmSync(dir, { recursive: true, force: true });
      await amphi.stop();
    }
  });
