// Glass-to-glass delay of amphi's web client in Debian's Chromium (bench/glass.sh runs this in
// a network namespace with only lo). A cluster of real processes: nats-server, the main node,
// one visitor node, one bridge pinned alone to CPU 1. Three pages of the real client in one
// Chromium: Ann and Bob participants, Vic a visitor (through the visitor node). Ann publishes
// the clock (timecode.js); Bob's page (participant -> participant) and Vic's (participant ->
// visitor) read it back from each decoded frame (Bob's camera is off: the browser encodes one
// stream). Then promote click -> video playing, repeated; then the same delays with
// media_loadgen's receivers holding the bridge's core; then the peer, Janus's VideoRoom demo
// page, the same way with amphi's pages closed (janus.mjs; --peer none to leave it out).
// Prints a table, writes JSON (--json FILE).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { AMPHI, freeBase, joinPage, launchChromium, pageState, udpPortFree, waitHealthy, waitVideo }
  from '../../tests/browser/amphi.mjs';
import { janusNetwork, janusPhase, janusProblem } from './janus.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const SECONDS = Number(arg('--seconds', 30));
const PROMOTES = Number(arg('--promotes', 10));
const LOAD = Number(arg('--load', 600)); // receivers of media_loadgen; 0: no loaded phase
// The load's receivers read nothing (media_loadgen --sink): on two cores, receivers that read
// take the core Chromium needs, and the delay measured is the browser starving, not the
// bridge (measured: 7.7 s). --load-reading: they read, as in bench/media.sh.
const LOAD_SINK = !process.argv.includes('--load-reading');
const JSON_OUT = arg('--json', '');
const PEER = arg('--peer', 'janus'); // janus: Janus's VideoRoom demo measured too; none
const LOADGEN = process.env.MEDIA_LOADGEN_BIN || new URL('../../build/media_loadgen', import.meta.url).pathname;
const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p));
const TIMECODE = fs.readFileSync(new URL('./timecode.js', import.meta.url), 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => console.error(`glass: ${s}`);

function cpuTicks(pid) { // user + system time of pid, in clock ticks (100 a second)
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

function cpuBusy() { // per CPU: [busy, total] jiffies from /proc/stat
  return fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => {
    const v = l.split(/\s+/).slice(1, 9).map(Number);
    const idle = v[3] + v[4];
    const total = v.reduce((a, b) => a + b, 0);
    return [total - idle, total];
  });
}

async function startCluster() {
  const port = await freeBase(4);
  const mediaPort = await freeBase(1, udpPortFree);
  const dir = fs.mkdtempSync(`${os.tmpdir()}/amphi-glass-`);
  execFileSync(AMPHI, ['configure', '--visitor-nodes', '1', '--bridges', '1', '--host', '127.0.0.1',
    '--base-port', String(port), '--media-port', String(mediaPort), '--max-participants', '2',
    '--out', dir], { stdio: 'pipe' });
  const bridgePort = Number(/^port *= *(\d+)/m.exec(fs.readFileSync(`${dir}/bridge-1.conf`, 'utf8'))[1]);
  const procs = [];
  const run = (cpu, cmd, args, nice = 0) => {
    const p = spawn('nice', ['-n', String(nice), 'taskset', '-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    const exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve(code ?? sig)));
    procs.push({ p, exited, err: () => err });
    return p;
  };
  run(0, NATS, ['-c', `${dir}/nats-server.conf`]);
  await sleep(300);
  run(0, AMPHI, ['serve', '--config', `${dir}/main.conf`]);
  run(0, AMPHI, ['serve', '--config', `${dir}/visitor-1.conf`]);
  // the bridge alone on CPU 1 and ahead of Chromium there (media.sh's nice -15): the pages
  // may use both cores, but not the bridge's share of its own
  const bridge = run(1, AMPHI, ['serve', '--config', `${dir}/bridge-1.conf`], -15);
  const deadline = Date.now() + 15000;
  for (const p of [port, port + 1, bridgePort]) await waitHealthy(p, deadline);
  await sleep(2500); // heartbeats: the main node knows the visitor node and the bridge
  return {
    port, bridgePort, bridgePid: bridge.pid,
    async stop() {
      for (const x of procs.reverse()) { x.p.kill('SIGTERM'); await x.exited; }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function summary(delays, bad) {
  const s = [...delays].sort((a, b) => a - b);
  return { frames: s.length, unreadable: bad, p50_ms: pct(s, 50), p99_ms: pct(s, 99), max_ms: s.at(-1) ?? null };
}

// Both watching pages read for SECONDS; the bridge's CPU over the same window.
// Where the delay sits: the publisher's pacer (ms a packet waited to be sent), its bandwidth
// estimate, and each watcher's jitter buffer (ms a frame waited), over the window.
async function measure(watchers, bridgePid, publisher) {
  const c0s = await Promise.all([publisher, ...watchers.map((w) => w.page)].map((p) => p.evaluate(() => window.glass.counters())));
  for (const w of watchers) await w.page.evaluate(() => window.glass.take());
  const t0 = Date.now(), c0 = cpuTicks(bridgePid), m0 = cpuBusy();
  await sleep(SECONDS * 1000);
  const cpu = (cpuTicks(bridgePid) - c0) / ((Date.now() - t0) / 1000); // ticks a second = % of a core
  const c1s = await Promise.all([publisher, ...watchers.map((w) => w.page)].map((p) => p.evaluate(() => window.glass.counters())));
  const per = (a, b, num, den) => (b[den] - a[den] > 0 ? +((1000 * (b[num] - a[num])) / (b[den] - a[den])).toFixed(1) : null);
  const out = { bridge_cpu_pct: Math.round(cpu),
    publisher_pacer_ms: per(c0s[0], c1s[0], 'sendDelay', 'sent'),
    publisher_estimate_kbps: Math.round(c1s[0].outBps / 1000),
    // the whole machine, per core: is Chromium (mostly CPU 0) short of a core?
    cores_busy_pct: cpuBusy().map(([b, t], i) => Math.round((100 * (b - m0[i][0])) / (t - m0[i][1]))) };
  for (const [k, w] of watchers.entries()) {
    const { delays, bad } = await w.page.evaluate(() => window.glass.take());
    out[w.path] = { ...summary(delays, bad), jitter_buffer_ms: per(c0s[k + 1], c1s[k + 1], 'jbDelay', 'jbCount'),
      audio_jitter_buffer_ms: per(c0s[k + 1], c1s[k + 1], 'ajbDelay', 'ajbCount'),
      audio_playout_ms: per(c0s[k + 1], c1s[k + 1], 'playDelay', 'playCount') };
  }
  return out;
}

async function promoteRuns(ann, bob, vic) {
  const vicId = (await pageState(vic)).id;
  const times = [];
  for (let i = 0; i < PROMOTES; i++) {
    await vic.click('[data-testid=raise-hand]');
    await ann.waitForSelector('[data-testid=hands] > * [data-testid=promote]', { timeout: 15000 });
    const t0 = Date.now();
    await ann.click('[data-testid=hands] [data-testid=promote]');
    await waitVideo(bob, vicId, 15000);
    times.push(Date.now() - t0);
    log(`promote ${i + 1}: ${times.at(-1)} ms`);
    await ann.click(`[data-tile="${vicId}"] [data-testid=demote]`);
    await vic.waitForFunction(() => document.querySelector('[data-testid=role]').textContent === 'visitor',
      null, { timeout: 15000 });
    await bob.waitForFunction((id) => !document.querySelector(`video[data-participant="${id}"]`), vicId,
      { timeout: 15000 });
    await vic.waitForSelector('[data-testid=raise-hand]:not([disabled])', { timeout: 15000 });
  }
  const s = [...times].sort((a, b) => a - b);
  return { runs: s.length, median_ms: pct(s, 50), max_ms: s.at(-1), all_ms: times };
}

async function startLoad(cluster) {
  // nice 19: on CPU 0 beside Chromium, the load must not take the core the pages run on
  const lg = spawn('nice', ['-n', '19', 'taskset', '-c', '0', LOADGEN, '--server', 'amphi', '--main', `ws://127.0.0.1:${cluster.port}/ws`,
    '--room', 'bench/load', '--metrics', `http://127.0.0.1:${cluster.bridgePort}/metrics`,
    '--server-pid', String(cluster.bridgePid), '--local-ip', '127.0.0.1', '--steps', String(LOAD),
    '--hold', String(SECONDS + 120), '--settle', '3', '--server-cpu', '1', '--client-cpu', '0', '--quiet', ...(LOAD_SINK ? ['--sink'] : [])],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  lg.stderr.on('data', (d) => { err = (err + d).slice(-2000); });
  const exited = new Promise((resolve) => lg.on('exit', resolve));
  // loaded: every receiver connected, i.e. the bridge's CPU steady (two 3 s samples in a
  // row within 5 points of the one before), or 90 s passed
  const seen = [];
  for (let i = 0; i < 30; i++) {
    const c0 = cpuTicks(cluster.bridgePid);
    await sleep(3000);
    seen.push((cpuTicks(cluster.bridgePid) - c0) / 3);
    log(`load: bridge at ${Math.round(seen.at(-1))} % of its core`);
    const [a, b, c] = seen.slice(-3);
    if (seen.length >= 3 && c > 10 && Math.abs(c - a) < 5 && Math.abs(b - a) < 5) break;
  }
  return { async stop() { lg.kill('SIGTERM'); await exited; if (err) log(`media_loadgen: ${err.trim().split('\n').at(-1)}`); } };
}

const janusWhy = PEER === 'janus' ? janusProblem() : 'not asked for';
const janusNetDown = janusWhy ? null : janusNetwork();
const cluster = await startCluster();
const browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows']);
const result = { seconds: SECONDS, when: new Date().toISOString(), load_avg: os.loadavg().map((x) => +x.toFixed(2)) };
try {
  // a context per page: each its own window, all rendering (a tab in the background would
  // render no frames, and requestVideoFrameCallback would not fire)
  const context = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(TIMECODE);
    return ctx;
  };
  const url = `http://127.0.0.1:${cluster.port}/acme/glass`;
  const ann = await joinPage(await context(), url, 'Ann');
  await ann.waitForFunction(() => window.amphi.state().publishing, null, { timeout: 20000 });
  const annId = (await pageState(ann)).id;
  const bob = await joinPage(await context(), url, 'Bob');
  // Bob only watches: his camera off, Chromium encodes one stream (Ann's) and decodes two
  // (Bob's and Vic's copies of it), not two and four. On two cores the browser's own work
  // otherwise starves it as soon as the bridge is busy, and the delay measured is the
  // browser's, not the bridge's.
  await bob.waitForFunction(() => window.amphi.state().publishing, null, { timeout: 20000 });
  await bob.click('#mute-video');
  const vic = await joinPage(await context(), url, 'Vic');
  if ((await pageState(vic)).role !== 'visitor') throw new Error('Vic is not a visitor');
  const watchers = [{ page: bob, path: 'participant_to_participant' }, { page: vic, path: 'participant_to_visitor' }];
  for (const w of watchers) {
    await waitVideo(w.page, annId);
    if (!await w.page.evaluate((id) => window.glass.watch(`video[data-participant="${id}"]`), annId))
      throw new Error('no requestVideoFrameCallback');
  }
  log(`measuring ${SECONDS} s, idle`);
  result.idle = await measure(watchers, cluster.bridgePid, ann);
  if (PROMOTES > 0) result.promote = await promoteRuns(ann, bob, vic);
  if (LOAD > 0) {
    log(`starting ${LOAD} receivers of media_loadgen`);
    const load = await startLoad(cluster);
    try {
      log(`measuring ${SECONDS} s, loaded`);
      result.loaded = { receivers: LOAD, receivers_read: !LOAD_SINK, ...await measure(watchers, cluster.bridgePid, ann) };
    } finally { await load.stop(); }
  }
  if (PEER === 'janus') {
    if (janusWhy) log(`janus: not measured: ${janusWhy}`);
    else {
      // amphi's pages go first: the peer is measured with the browser doing only its work
      for (const p of [ann, bob, vic]) await p.context().close();
      log(`measuring ${SECONDS} s, Janus's VideoRoom demo, idle`);
      result.janus_idle = await janusPhase({ browser, timecode: TIMECODE, measure, log });
    }
  }
} finally {
  await browser.close();
  await cluster.stop();
  if (janusNetDown) janusNetDown();
}

const row = (name, m, path) => m && m[path] &&
  console.log(`| ${name} | ${m.bridge_cpu_pct}% | ${m[path].frames} (${m[path].unreadable} unreadable) | ${m[path].p50_ms} ms | ${m[path].p99_ms} ms | ${m.publisher_pacer_ms} ms | ${m[path].jitter_buffer_ms} ms | ${m[path].audio_jitter_buffer_ms} / ${m[path].audio_playout_ms} ms | ${m.cores_busy_pct.join('% / ')}% |`);
console.log('| path | bridge CPU | frames read | p50 | p99 | sender pacer | jitter buffer | audio: jitter buffer / playout | CPU 0 / CPU 1 busy |\n|---|---|---|---|---|---|---|---|---|');
row('amphi participant -> participant, idle', result.idle, 'participant_to_participant');
row('amphi participant -> visitor, idle', result.idle, 'participant_to_visitor');
row('janus publisher -> subscriber (VideoRoom demo), idle', result.janus_idle, 'participant_to_visitor');
row(`amphi participant -> participant, ${LOAD} receivers`, result.loaded, 'participant_to_participant');
row(`amphi participant -> visitor, ${LOAD} receivers`, result.loaded, 'participant_to_visitor');
if (result.promote)
  console.log(`promote click -> video playing at a participant: median ${result.promote.median_ms} ms, max ${result.promote.max_ms} ms (${result.promote.runs} runs)`);
if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
