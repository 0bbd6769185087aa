// What the browser tests share: free loopback ports, an `amphi run` cluster they start and
// stop (its exit checked: status 0, no sanitizer report), and Debian's Chromium. Not a test
// itself: `node --test` runs *.test.mjs files only, and this is imported by them and by
// media.netns.mjs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
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
