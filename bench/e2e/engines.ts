// The parent's handle on an engine child (attnode-child.mjs, peer-child.mjs): fork it under plain
// node (no TypeScript loader, so its memory is the engine's), send commands over IPC, await replies.
// Not the measuring (bench/suites/e2e.ts) and not the engines themselves.

import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PACKAGE_ROOT = join(HERE, '..', '..');
export const ATTNODE_CHILD = join(HERE, 'attnode-child.mjs');
export const PEER_CHILD = join(HERE, 'peer-child.mjs');

export interface LoadReply { loadMs: number; version: string; isa?: string }
/** Next-token log-probabilities, most likely first (attnode: all; node-llama-cpp: all it returns). */
export interface CheckReply { logprobs: [number, number][]; peakKiB: number }
/** threads: what the engine reports it ran on, where it reports it (node-llama-cpp). */
export interface TimedReply { ms: number; cpuMs: number; steps?: number; threads?: number }
export interface RequestStages { tokenize: number; prefill: number; decode: number; detokenize: number }
export interface RequestReply {
  totalMs: number;
  stages: RequestStages;
  /** attnode only: forward passes, and the median empty round trip to the addon's dispatch thread. */
  passes?: number;
  crossingMs?: number;
  promptTokens: number;
  generatedTokens: number;
  chars: number;
}

interface Reply { id?: number; ok?: boolean; value?: unknown; error?: string; ready?: boolean }

export class EngineChild {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: string | undefined;

  private constructor(readonly side: string, private readonly proc: ChildProcess) {
    proc.on('message', (m: Reply) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${side}: ${m.error ?? 'failed'}`));
    });
    proc.on('exit', (code, signal) => {
      this.exited = `${side} exited (${signal ?? `code ${code}`})`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  /** Forks `script` with `arg` and waits until it has imported its engine. */
  static start(side: string, script: string, arg: string, timeoutMs = 120_000): Promise<EngineChild> {
    // execArgv [] drops the parent's TypeScript loader; stdout and stderr pass through.
    const proc = fork(script, [arg], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: PACKAGE_ROOT });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill();
        reject(new Error(`${side}: the child did not start within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`${side}: the child failed to start (${why})`));
      };
      proc.once('error', (e) => fail(e.message));
      proc.once('exit', (code, signal) => fail(signal ?? `exit code ${code}`));
      proc.once('message', (m: Reply) => {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        proc.removeAllListeners('error');
        if (m.ready) resolve(new EngineChild(side, proc));
        else reject(new Error(`${side}: unexpected first message ${JSON.stringify(m)}`));
      });
    });
  }

  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, op, ...args });
    });
  }

  /** Asks the engine to free its model and exit; kills it when it does not within 10 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    try {
      await this.call('exit');
    } catch {
      // An engine that fails to exit cleanly is killed below.
    }
    await gone;
    clearTimeout(timer);
  }
}
