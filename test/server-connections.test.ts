// Connection hygiene on loopback (issue #23): 1,000 hostile connections (headers or a body a byte
// at a time) while /health is polled, the header and request timeouts that close them, and the
// connection cap. Runs over the stand-in engine; the model plays no part.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../dist/native.js';
import { createPool } from '../dist/scheduler/pool.js';
import { createServer, type AttnodeServer } from '../dist/server/server.js';

const FAKE = new URL('./fixtures/fake-engine.mjs', import.meta.url);
const HOSTILE = 1000;
/** The bound: every /health poll answers within this, under the hostile connections. */
const HEALTH_BOUND_MS = 100;
const HEADERS_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 2500;
/** Descriptors this file needs: both ends of every hostile connection, and room for the rest. */
const FDS_NEEDED = 2 * HOSTILE + 512;

const limits = loadAddon().raiseFileLimit();
const enoughFds = limits === null || limits.soft >= FDS_NEEDED;
if (!enoughFds) console.log(`server-connections: skipped, the open-file limit is ${limits?.soft} and this test needs ${FDS_NEEDED}`);

async function start(o: { maxConnections?: number } = {}): Promise<{ app: AttnodeServer; port: number }> {
  const pool = createPool({ engineModule: FAKE, workers: 1, maxBatch: 4, threadsPerWorker: 1, engineOptions: { stepMs: 2 } });
  const app = createServer({ pool, headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: 1000, ...o });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

/** One GET on a keep-alive agent; resolves with the status and the milliseconds it took. */
function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
  });
}

interface Hostile {
  socket: net.Socket;
  closed: Promise<number>;
}

/** A connection that sends its request headers a byte at a time (slowloris). */
function hostile(port: number): Hostile {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const opened = performance.now();
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now() - opened)));
  socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
  return { socket, closed };
}

/** The hostile clients in a process of their own (fixtures/slow-clients.mjs); resolves once all are connected. */
async function slowClients(port: number, count: number): Promise<{ allClosed: Promise<void>; stop(): void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/slow-clients.mjs', import.meta.url)), String(port), String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let onLine: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onLine?.();
  });
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (re.test(out) ? resolve() : undefined);
      onLine = check;
      child.once('exit', () => (re.test(out) ? resolve() : reject(new Error(`slow clients exited; said: ${out}`))));
      check();
    });
  await waitFor(/open/);
  return { allClosed: waitFor(new RegExp(`closed ${count}`)), stop: () => child.stdin.end() };
}

describe.skipIf(!enoughFds)('connections', () => {
  let app: AttnodeServer;
  let port: number;
  beforeAll(async () => {
    ({ app, port } = await start());
  });
  afterAll(async () => {
    await app.close();
  });

  it(`/health answers every poll within ${HEALTH_BOUND_MS} ms while ${HOSTILE} connections trickle headers and bodies, and the timeouts close them all`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(agent, port, '/health')).status).toBe(200);
    const clients = await slowClients(port, HOSTILE);
    // Polling starts once the server holds them all: the claim is about serving while they are
    // held (the issue's /health failed for 70 s), not about the burst of accepting them.
    const held = () => new Promise<number>((resolve, reject) => app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    while ((await held()) < HOSTILE) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setImmediate(r));
    const polls: { status: number; ms: number }[] = [];
    let closedAll = false;
    void clients.allClosed.then(() => (closedAll = true));
    // Poll through the time the timeouts fire (Node checks them every second), and a bit after.
    const pollUntil = performance.now() + REQUEST_TIMEOUT_MS + 2500;
    try {
      while (performance.now() < pollUntil) {
        polls.push(await get(agent, port, '/health'));
        await new Promise((r) => setTimeout(r, 50));
      }
      await clients.allClosed;
      const slowest = Math.max(...polls.map((p) => p.ms));
      console.log(`server-connections: ${polls.length} polls, slowest ${slowest.toFixed(1)} ms: ${polls.map((p) => p.ms.toFixed(0)).join(' ')}`);
      expect(polls.every((p) => p.status === 200)).toBe(true);
      expect(slowest).toBeLessThan(HEALTH_BOUND_MS);
      // Closed by the server's timeouts, not by the clients.
      expect(closedAll).toBe(true);
    } finally {
      clients.stop();
      agent.destroy();
    }
  }, 60_000);

  it('a connection past maxConnections is closed at once; the server serves again when there is room', async () => {
    const small = await start({ maxConnections: 5 });
    try {
      const idle = Array.from({ length: 5 }, () => hostile(small.port));
      await new Promise((r) => setTimeout(r, 200));
      const agent = new http.Agent({ keepAlive: false });
      await expect(get(agent, small.port, '/health')).rejects.toThrow();
      for (const c of idle) c.socket.destroy();
      await Promise.all(idle.map((c) => c.closed));
      await new Promise((r) => setTimeout(r, 100));
      expect((await get(agent, small.port, '/health')).status).toBe(200);
    } finally {
      await small.app.close();
    }
  });
});
