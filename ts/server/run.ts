// Running `attnode serve` as a process: the file-descriptor budget, loading the model before
// listening (a model that cannot load fails the start), the startup line with the address really
// bound, and the signals: SIGTERM/SIGINT drain with a deadline, SIGHUP reloads the model.

import { basename, dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadAddon } from '../native.js';
import { createPool, type InferencePool, type PoolOptions } from '../scheduler/pool.js';
import { SERVER_DEFAULTS, createServer, type AttnodeServer, type ServerOptions } from './server.js';

export interface RunOptions {
  pool: PoolOptions;
  server: Omit<ServerOptions, 'pool'>;
  host: string;
  port: number;
  /** How long SIGTERM waits for queued and running requests before it rejects them (503) and exits, ms. */
  drainTimeoutMs: number;
  /** Where status lines and warnings go. */
  log(line: string): void;
}

/** Descriptors kept for everything but client sockets: model files, workers' pipes, stdio, DNS. */
const FD_RESERVE = 256;
/** Extra time after the drain deadline before the process exits regardless, ms. */
const EXIT_GRACE_MS = 5000;

/** The name a model path is reported by: a directory's name, or a file's without .gguf (model.gguf: its directory's). */
export function modelNameOf(path: string): string {
  const base = basename(path);
  if (base === 'model.gguf') return basename(dirname(path));
  return base.endsWith('.gguf') ? base.slice(0, -'.gguf'.length) : base;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Raises the soft descriptor limit to the hard one and fits maxConnections under it: each
 * connection holds one descriptor, and running out refuses every new one (health checks too).
 */
export function connectionBudget(wanted: number, log: (line: string) => void): number {
  const limits = loadAddon().raiseFileLimit();
  if (!limits) return wanted;
  if (limits.soft >= wanted + FD_RESERVE) return wanted;
  const fit = Math.max(16, limits.soft - FD_RESERVE);
  log(`attnode serve: warning: the open-file limit is ${limits.soft} (hard ${limits.hard}); serving at most ${fit} connections instead of ${wanted} (raise it with ulimit -n)`);
  return fit;
}

async function loadPool(options: PoolOptions): Promise<InferencePool> {
  const pool = createPool(options);
  try {
    await pool.ready();
    return pool;
  } catch (e) {
    await pool.close({ mode: 'cancel' });
    throw e;
  }
}

function urlOf(a: AddressInfo): string {
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

export async function runServer(o: RunOptions): Promise<AttnodeServer> {
  const maxConnections = connectionBudget(o.server.maxConnections ?? SERVER_DEFAULTS.maxConnections, o.log);
  const pool = await loadPool(o.pool);
  const app = createServer({ ...o.server, pool, maxConnections });
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    await app.close();
    throw e;
  }
  // The warning first: whoever waits for the startup line has read it by then.
  if (!isLoopback(o.host) && o.server.apiKey === undefined)
    o.log(`attnode serve: warning: listening on ${o.host}, beyond this machine, with no API key; anyone who can reach it can use it (pass --api-key or set ATTNODE_API_KEY)`);
  o.log(`attnode serve: ${app.attnode.context.modelName} on ${urlOf(app.server.address() as AddressInfo)}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    o.log(`attnode serve: ${signal}: draining (at most ${o.drainTimeoutMs} ms)`);
    app.attnode.startDrain();
    setTimeout(() => process.exit(1), o.drainTimeoutMs + EXIT_GRACE_MS).unref();
    void (async () => {
      await app.attnode.context.pool().close({ mode: 'drain', deadlineMs: o.drainTimeoutMs });
      await app.close();
      o.log('attnode serve: closed');
      process.exit(0);
    })();
  };
  let reloading = false;
  const reload = () => {
    if (stopping || reloading) return;
    reloading = true;
    o.log('attnode serve: SIGHUP: reloading the model');
    loadPool(o.pool).then(
      (next) => {
        reloading = false;
        if (stopping) return void next.close({ mode: 'cancel' });
        const old = app.attnode.setPool(next);
        void old.close({ mode: 'drain' });
        o.log('attnode serve: reloaded');
      },
      (e: unknown) => {
        reloading = false;
        o.log(`attnode serve: reload failed, still serving the model loaded before: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', reload);
  return app;
}
