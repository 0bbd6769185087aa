// What the browser tests share: free loopback ports, an `amphi run` cluster they start and
// stop (its exit checked: status 0, no sanitizer report), and Debian's Chromium. Not a test
// itself: `node --test` runs *.test.mjs files only, and this is imported by them and by
// media.netns.mjs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const AMPHI = process.env.AMPHI_BIN || new URL('../../build/amphi', import.meta.url).pathname;

export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export function udpPortFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4').once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// The first of count consecutive ports that isFree says are free.
export async function freeBase(count, isFree = portFree) {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * 10000);
    let ok = true;
    for (let k = 0; k < count && ok; k++) ok = await isFree(base + k);
    if (ok) return base;
  }
  throw new Error('no free ports');
}

export async function waitHealthy(port, deadline) {
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never healthy`);
}

// `amphi run ARGS`: stderr() is what it said so far; stop() ends it and checks how it ended.
export function startAmphi(args) {
  let stderr = '';
  const server = spawn(AMPHI, ['run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  return {
    stderr: () => stderr,
    // every node healthy (ports port..port+nodes-1), then a few heartbeats, so that the main
    // node knows its visitor nodes
    async ready(port, nodes) {
      const deadline = Date.now() + 15000;
      for (let k = 0; k < nodes; k++) await waitHealthy(port + k, deadline);
      await new Promise((r) => setTimeout(r, 1200));
    },
    async stop() {
      server.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, `amphi run exited ${code}:\n${stderr.slice(-2000)}`);
      assert.doesNotMatch(stderr, /AddressSanitizer|runtime error:|LeakSanitizer/);
    },
  };
}

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

// Chromium with a fake camera and microphone that it may use without asking, and WebRTC on
// loopback (the tests run in a network namespace with only lo).
export function launchMediaChromium() {
  return launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required']);
}

// Screenshots go under the test output (tests/browser/output/, not in git).
export async function shot(page, name) {
  const dir = new URL('./output/', import.meta.url).pathname;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
}

// A page of the web client at url (a room's address), joined as name; resolves when the page
// shows its role. opts.visitor ticks "just watch".
export async function joinPage(ctx, url, name, opts = {}) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(e.message); });
  await page.goto(url);
  await page.fill('[data-testid=join-name]', name);
  if (opts.visitor) await page.check('#join-visitor');
  await page.click('[data-testid=join-submit]');
  await page.waitForSelector('[data-testid=role]:not(:empty)', { timeout: 15000 });
  return page;
}

export function role(page) {
  return page.textContent('[data-testid=role]');
}

// Until the <video data-participant=id> of page plays: a size, and frames decoded rising.
export async function waitVideo(page, id, ms = 30000) {
  await page.waitForFunction((pid) => {
    const v = document.querySelector(`video[data-participant="${pid}"]`);
    return v && v.videoWidth > 0 && !v.paused;
  }, id, { timeout: ms });
  const first = (await page.evaluate(() => window.amphi.stats())).framesDecoded;
  await page.waitForFunction((n) => window.amphi.stats().then((s) => s.framesDecoded > n + 10),
    first, { timeout: ms, polling: 250 });
}

export function pageState(page) {
  return page.evaluate(() => window.amphi.state());
}

// /proc/net/dev lists the interfaces of the caller's network namespace (unlike /sys/class/net,
// which shows the namespace sysfs was mounted in).
export function netnsProblem() {
  const names = fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)
    .map((l) => l.split(':')[0].trim()).filter(Boolean);
  const others = names.filter((n) => n !== 'lo');
  if (others.length)
    return `interfaces other than lo (${others.join(', ')}): not a private network namespace`;
  const lo = os.networkInterfaces().lo || [];
  if (!lo.some((a) => a.address === '127.0.0.1')) return 'lo is not up (no 127.0.0.1)';
  return null;
}


const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => fs.existsSync(p));

// A cluster made by `amphi configure`: a real nats-server and one `amphi serve` per node, main
// on port, visitor i on port+i. kill(name) ends one node hard (SIGKILL), start(name) runs it
// again from its config; stop() ends the rest and checks each ended well.
export async function startCluster({ visitors = 2, maxParticipants = 1 } = {}) {
  assert.ok(NATS, 'nats-server is not installed');
  const port = await freeBase(visitors + 2);
  const dir = fs.mkdtempSync(`${os.tmpdir()}/amphi-cluster-`);
  const { execFileSync } = await import('node:child_process');
  execFileSync(AMPHI, ['configure', '--visitor-nodes', String(visitors), '--bridges', '0',
    '--host', '127.0.0.1', '--base-port', String(port), '--out', dir,
    '--max-participants', String(maxParticipants)], { stdio: 'pipe' });
  const procs = new Map();
  const run = (name, cmd, args) => {
    let stderr = '';
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve(code ?? sig)));
    procs.set(name, { p, exited, stderr: () => stderr, killed: false });
  };
  run('nats', NATS, ['-c', `${dir}/nats-server.conf`]);
  const names = ['main', ...Array.from({ length: visitors }, (_, i) => `visitor-${i + 1}`)];
  await new Promise((r) => setTimeout(r, 300));
  for (const n of names) run(n, AMPHI, ['serve', '--config', `${dir}/${n}.conf`]);
  const deadline = Date.now() + 15000;
  for (let k = 0; k <= visitors; k++) await waitHealthy(port + k, deadline);
  await new Promise((r) => setTimeout(r, 2500)); // heartbeats: the main node knows them all
  return {
    port,
    url: (room) => `http://127.0.0.1:${port}/${room}`,
    kill(name) {
      const x = procs.get(name);
      x.killed = true;
      x.p.kill('SIGKILL');
      return x.exited;
    },
    async start(name) {
      run(name, AMPHI, ['serve', '--config', `${dir}/${name}.conf`]);
      await waitHealthy(port + (name === 'main' ? 0 : Number(name.split('-')[1])), Date.now() + 15000);
    },
    async stop() {
      const problems = [];
      for (const n of [...names].reverse()) {
        const x = procs.get(n);
        if (x.killed) continue;
        x.p.kill('SIGTERM');
        const code = await x.exited;
        if (code !== 0) problems.push(`${n} exited ${code}: ${x.stderr().slice(-1500)}`);
        if (/AddressSanitizer|runtime error:|LeakSanitizer/.test(x.stderr())) problems.push(`${n}: sanitizer`);
      }
      procs.get('nats').p.kill('SIGTERM');
      await procs.get('nats').exited;
      fs.rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(problems, []);
    },
  };
}
