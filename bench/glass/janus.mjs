// The peer of bench/glass: Janus 1.1.2's VideoRoom demo page (Debian's janus and janus-demos),
// measured the same way in the same run: the same Chromium, the same injected clock
// (timecode.js), Janus alone on CPU 1 at nice -15 as amphi's bridge is. Ann publishes from
// videoroomtest.html; Vic watches from videoroomtest.html?subscriber-mode=yes (no camera, as
// amphi's visitor). Janus's ICE (libnice) gathers no loopback address, so it and the demo
// pages use a dummy interface's address inside the benchmark's private network namespace.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const IP = '10.77.0.1';
const JANUS_HTTP = 8088; // the demo's settings.js asks for http://<host>:8088/janus
const DEMOS = '/usr/share/janus/demos';
const CONF = new URL('../janus/', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function janusProblem() {
  if (!fs.existsSync(`${DEMOS}/videoroomtest.html`)) return 'janus-demos is not installed';
  // `janus --version` prints its version and then exits 1 (an option it does not know)
  const v = spawnSync('janus', ['--version'], { encoding: 'utf8' });
  if (!/Janus version/.test(`${v.stdout}${v.stderr}`)) return 'janus is not installed';
  return null;
}

function libDir() {
  for (const d of ['/usr/lib/x86_64-linux-gnu/janus', '/usr/lib/aarch64-linux-gnu/janus', '/usr/lib/janus'])
    if (fs.existsSync(`${d}/plugins/libjanus_videoroom.so`)) return d;
  throw new Error('no Janus VideoRoom plugin');
}

// Every module of a folder but the one kept: Janus loads what it finds unless told not to.
const allBut = (dir, keep) => fs.readdirSync(dir).filter((f) => /^libjanus_.*\.so$/.test(f) && f !== keep).join(',');

async function startJanus(dir) {
  const lib = libDir();
  const fill = (name, out) => fs.writeFileSync(`${dir}/${out}`, fs.readFileSync(`${CONF}/${name}`, 'utf8')
    .replaceAll('@CONF_DIR@', dir).replaceAll('@LIB_DIR@', lib).replaceAll('@EVENT_LOOPS@', '1')
    .replaceAll('@ICE_IP@', IP).replaceAll('@HTTP_PORT@', String(JANUS_HTTP)).replaceAll('@HTTP_IP@', IP)
    .replaceAll('@PLUGINS_DISABLE@', allBut(`${lib}/plugins`, 'libjanus_videoroom.so'))
    .replaceAll('@TRANSPORTS_DISABLE@', allBut(`${lib}/transports`, 'libjanus_http.so')));
  fill('janus.jcfg.in', 'janus.jcfg');
  fill('janus.transport.http.jcfg.in', 'janus.transport.http.jcfg');
  fs.copyFileSync(`${CONF}/janus.plugin.videoroom.jcfg`, `${dir}/janus.plugin.videoroom.jcfg`);
  let err = '';
  const p = spawn('nice', ['-n', '-15', 'taskset', '-c', '1', 'janus', '-C', `${dir}/janus.jcfg`, '-F', dir, '-i', IP, '-o'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.on('data', (d) => { err = (err + d).slice(-4000); });
  p.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  const exited = new Promise((resolve) => p.on('exit', resolve));
  for (let i = 0; i < 150; i++) {
    const up = await new Promise((resolve) => {
      http.get(`http://${IP}:${JANUS_HTTP}/janus/info`, (r) => { r.resume(); resolve(r.statusCode === 200); })
        .on('error', () => resolve(false));
    });
    if (up) return { pid: p.pid, async stop() { p.kill('SIGTERM'); await exited; } };
    if (p.exitCode !== null) break;
    await sleep(100);
  }
  p.kill('SIGKILL');
  throw new Error(`Janus did not start: ${err.trim().split('\n').slice(-5).join(' | ')}`);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.ico': 'image/x-icon' };

// The demo pages, as a web server would give them (they link Debian's shared JavaScript
// libraries: the files are symlinks, followed here).
function serveDemos() {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.normalize(path.join(DEMOS, rel === '/' ? '/index.html' : rel));
    if (!file.startsWith(DEMOS)) { res.writeHead(403).end(); return; }
    fs.readFile(file, (e, body) => {
      if (e) { res.writeHead(404).end(); return; }
      // Debian's settings.js (1.1.2-1) leaves out `token` and `apisecret`, which the demo
      // pages read: without them the page stops at its start button.
      // The pages come from 127.0.0.1, a secure context (getUserMedia), and talk to Janus on
      // the veth's address.
      if (rel === '/settings.js')
        body = Buffer.concat([body, Buffer.from(`\nvar token = null;\nvar apisecret = null;\nserver = "http://${IP}:${JANUS_HTTP}/janus";\n`)]);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' }).end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function openDemo(browser, timecode, url, name) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(timecode);
  const page = await ctx.newPage();
  const said = [];
  page.on('console', (m) => said.push(m.text()));
  page.on('pageerror', (e) => said.push(`error: ${e.message}`));
  page.on('requestfailed', (r) => said.push(`failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('dialog', (d) => { said.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  await page.goto(url);
  // the start button does something only once janus.js is initialised
  try {
    await page.waitForFunction(() => window.Janus && window.Janus.initDone, null, { timeout: 20000 });
    await sleep(300);
    await page.click('#start');
    await page.waitForSelector('#username', { state: 'visible', timeout: 20000 });
  } catch (e) {
    await page.screenshot({ path: `${os.tmpdir()}/glass-janus-${name}.png` }).catch(() => {});
    throw new Error(`the demo page did not get to its name field (screenshot in ${os.tmpdir()}): ${said.slice(-12).join(' | ')}`);
  }
  await page.fill('#username', name);
  await page.click('#register');
  page.said = said;
  return page;
}

// waitForFunction, and on a timeout a screenshot and the page's last words.
async function until(page, name, fn, arg, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: 30000 });
  } catch (e) {
    await page.screenshot({ path: `${os.tmpdir()}/glass-janus-${name}.png` }).catch(() => {});
    throw new Error(`${name}: ${what} (screenshot in ${os.tmpdir()}): ${page.said.slice(-12).join(' | ')}`);
  }
}

// The interface Janus's ICE needs, made before Chromium starts (a browser that sees an
// interface come up aborts its requests, ERR_NETWORK_CHANGED). Returns its removal.
export function janusNetwork() {
  // A veth pair in this namespace: an interface that is not loopback for libnice. libnice
  // sends bound to its interface, so its packets to a local address go out by the veth and
  // come back on the peer end with a local source: accepted (accept_local, no rp_filter).
  execFileSync('ip', ['link', 'add', 'glassj0', 'type', 'veth', 'peer', 'name', 'glassj1']);
  execFileSync('ip', ['addr', 'add', `${IP}/24`, 'dev', 'glassj0']);
  execFileSync('ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'glassj1']);
  for (const dev of ['glassj0', 'glassj1']) {
    execFileSync('ip', ['link', 'set', dev, 'up']);
    for (const [k, v] of [['accept_local', '1'], ['rp_filter', '0']])
      fs.writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/${k}`, v);
  }
  fs.writeFileSync('/proc/sys/net/ipv4/conf/all/rp_filter', '0');
  return () => execFileSync('ip', ['link', 'del', 'glassj0']);
}

// One phase: Ann publishes, Vic watches; measure(watchers, pid, publisher) as for amphi.
export async function janusPhase({ browser, timecode, measure, log }) {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/amphi-glass-janus-`);
  let janus = null, server = null;
  try {
    janus = await startJanus(dir);
    server = await serveDemos();
    const base = `http://127.0.0.1:${server.address().port}/videoroomtest.html`;
    log(`janus: pid ${janus.pid} on CPU 1, the VideoRoom demo from ${DEMOS}`);
    const ann = await openDemo(browser, timecode, base, 'annj');
    await until(ann, 'annj', () => document.querySelector('#videolocal video'), null, 'no local video');
    const vic = await openDemo(browser, timecode, `${base}?subscriber-mode=yes`, 'vicj');
    const sel = '#videoremote1 video';
    await until(vic, 'vicj', (s) => { const v = document.querySelector(s); return v && v.videoWidth > 0; }, sel, 'no remote video');
    await sleep(2000);
    if (!await vic.evaluate((s) => window.glass.watch(s), sel)) throw new Error('no requestVideoFrameCallback');
    return await measure([{ page: vic, path: 'participant_to_visitor' }], janus.pid, ann);
  } finally {
    if (server) server.close();
    if (janus) await janus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
