// `attnode serve` as a process (issue #23), with the real default model: a model file truncated
// or rewritten under a running server (it stays up, says to reload, and after SIGHUP serves
// again), a FIFO or a garbage directory as --model (the start fails, naming it, and never hangs),
// the startup line and the exposure warning, the API key from the environment, and SIGTERM's
// drain deadline. The library side: loadModel on a FIFO, LanguageModel on a truncated file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelFileChangedError } from '../dist/io/files.js';
import { MappedFile } from '../dist/io/mapped.js';
import { LanguageModel, defaultModelPath } from '../dist/generate/model.js';
import { loadModel } from '../dist/models/model.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'attnode-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Served {
  child: ChildProcess;
  base: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `attnode serve` and resolves once it printed the address it listens on. */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--threads-per-worker', '1', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /attnode serve: .* on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, base: m[1]!.replace('0.0.0.0', '127.0.0.1'), stderr: () => err, exited });
    });
    void exited.then(({ code, signal }) => reject(new Error(`serve exited (${code ?? signal}) before listening:\n${err}`)));
  });
}

async function complete(base: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** A streamed completion read to its end: the status and every data payload. */
async function streamed(base: string, body: object): Promise<{ status: number; events: string[] }> {
  const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  const text = await res.text();
  return { status: res.status, events: text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6)) };
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
}

describe('a model file that changes under a running server', () => {
  it('truncated while streams run: the server stays up, says to reload, and after SIGHUP answers correctly', async () => {
    const copy = join(dir, 'truncated', 'model.gguf');
    mkdirSync(join(dir, 'truncated'));
    copyFileSync(defaultModelPath(), copy);
    const s = await serve(['--model', copy]);
    try {
      const before = await complete(s.base, { prompt: 'The cat', max_tokens: 8, seed: 5, temperature: 0 });
      expect(before.status).toBe(200);
      expect(before.json.model).toBe('truncated');
      const inFlight = Array.from({ length: 3 }, (_, i) => streamed(s.base, { prompt: `Story ${i}:`, max_tokens: 200, seed: i, ignore_eos: true }));
      await new Promise((r) => setTimeout(r, 300));
      truncateSync(copy, 1000);
      const ended = await Promise.all(inFlight);
      // The ones still generating read the token table through the mapping: a guarded read, an error frame.
      for (const e of ended) {
        const last = JSON.parse(e.events.at(-2)!) as { error?: { message: string }; choices?: { finish_reason: string }[] };
        if (last.error) expect(last.error.message).toMatch(/shrank under its mapping.*reload the model|changed on disk/);
        else expect(last.choices![0]!.finish_reason).toMatch(/length|stop/);
      }
      // Each stream either finished before the truncation or ended with an error frame; none hung, none was cut off.
      for (const e of ended) {
        expect(e.status).toBe(200);
        expect(e.events.at(-1)).toBe('[DONE]');
      }
      expect(s.child.exitCode).toBe(null);
      const after = await complete(s.base, { prompt: 'The cat', max_tokens: 8 });
      expect(after.status).toBe(503);
      expect(after.json.error.message).toMatch(/changed on disk.*its size went from \d+ to 1000 bytes.*reload/);
      expect(after.json.error.code).toBe('ATTNODE_MODEL_FILE_CHANGED');
      // Put the file back and reload: the same seeded answer as before.
      copyFileSync(defaultModelPath(), copy);
      s.child.kill('SIGHUP');
      for (let i = 0; i < 200 && !/reloaded/.test(s.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(s.stderr()).toMatch(/reloaded/);
      const reloaded = await complete(s.base, { prompt: 'The cat', max_tokens: 8, seed: 5, temperature: 0 });
      expect(reloaded.status).toBe(200);
      expect(reloaded.json.choices[0].text).toBe(before.json.choices[0].text);
    } finally {
      s.child.kill('SIGKILL');
    }
  }, 120_000);

  it('rewritten in place (same size, same inode): requests fail with the reload message, not NaN', async () => {
    const copy = join(dir, 'rewritten.gguf');
    copyFileSync(defaultModelPath(), copy);
    const s = await serve(['--model', copy]);
    try {
      expect((await complete(s.base, { prompt: 'Hi', max_tokens: 2 })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 20)); // a later modification time
      copyFileSync(defaultModelPath(), copy);
      const r = await complete(s.base, { prompt: 'Hi', max_tokens: 2 });
      expect(r.status).toBe(503);
      expect(r.json.error.message).toMatch(/rewrote|rewritten/);
      expect(r.json.error.message).not.toMatch(/NaN/);
    } finally {
      s.child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('start', () => {
  it('a FIFO as --model fails the start at once, naming it', async () => {
    const fifo = join(dir, 'model.gguf.fifo');
    mkfifo(fifo);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--model', fifo], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal).toBe(null); // not killed by the timeout: it did not hang
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(fifo);
    expect(r.stderr).toMatch(/a FIFO, not a model file/);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('a directory without a loadable model fails the start with the loader\'s error', () => {
    const garbage = join(dir, 'garbage');
    mkdirSync(garbage);
    writeFileSync(join(garbage, 'config.json'), '{"model_type": "gpt2"');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--model', garbage], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/garbage has no tokenizer\.json/);
    expect(r.stderr).not.toMatch(/ on http:/);
  }, 60_000);

  it('prints the address really bound, warns on a non-loopback bind without a key, and takes the key from ATTNODE_API_KEY', async () => {
    const open = await serve(['--host', '0.0.0.0']);
    try {
      expect(open.stderr()).toMatch(/on http:\/\/0\.0\.0\.0:\d+/);
      expect(open.stderr()).toMatch(/warning: listening on 0\.0\.0\.0.*no API key/);
    } finally {
      open.child.kill('SIGKILL');
    }
    const keyed = await serve(['--host', '0.0.0.0'], { ATTNODE_API_KEY: 'k-123' });
    try {
      expect(keyed.stderr()).not.toMatch(/warning/);
      expect((await complete(keyed.base, { prompt: 'Hi', max_tokens: 1 })).status).toBe(401);
      expect((await complete(keyed.base, { prompt: 'Hi', max_tokens: 1 }, { authorization: 'Bearer k-123' })).status).toBe(200);
      expect((await fetch(`${keyed.base}/health`)).status).toBe(200);
    } finally {
      keyed.child.kill('SIGKILL');
    }
  }, 60_000);

  it('--timeout-ms beyond what a timer holds is refused at the start, not a 504 for every request', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--timeout-ms', '3000000000'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--timeout-ms/);
  });
});

describe('SIGTERM', () => {
  it('drains with a deadline: queued requests get 503 and the process exits soon after it', async () => {
    const s = await serve(['--max-batch', '1', '--drain-timeout-ms', '1500']);
    const queued = Array.from({ length: 80 }, (_, i) => complete(s.base, { prompt: `Q${i}`, max_tokens: 400, ignore_eos: true }).catch(() => ({ status: 0, json: {} })));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    s.child.kill('SIGTERM');
    const exit = await s.exited;
    const took = performance.now() - t0;
    const statuses = (await Promise.all(queued)).map((q) => q.status);
    console.log(`SIGTERM: exit after ${took.toFixed(0)} ms; statuses ${statuses.join(' ')}`);
    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(1500 + 5000);
    // Some finished inside the deadline; what was still waiting got 503, none was cut off.
    expect(statuses.every((c) => c === 200 || c === 503)).toBe(true);
    expect(statuses.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(s.stderr()).toMatch(/SIGTERM: draining/);
  }, 60_000);
});

describe('library', () => {
  it('loadModel and LanguageModel.load refuse a FIFO at once, naming it', async () => {
    const fifo = join(dir, 'lib.gguf');
    mkfifo(fifo);
    await expect(loadModel(fifo)).rejects.toThrow(`loadModel: '${fifo}' is a FIFO`);
    await expect(LanguageModel.load(fifo)).rejects.toThrow(/is a FIFO, not a model file/);
    expect(() => new MappedFile(fifo)).toThrow(/is a FIFO, not a regular file/);
  });

  it('a LanguageModel whose file was truncated fails its next request with ModelFileChangedError; the process lives', async () => {
    const copy = join(dir, 'lib-truncated.gguf');
    copyFileSync(defaultModelPath(), copy);
    const lm = await LanguageModel.load(copy, { threads: 1 });
    try {
      expect((await lm.generate('Hi', { maxTokens: 2, seed: 1, ignoreEos: true })).ids.length).toBe(2);
      truncateSync(copy, 1000);
      await expect(lm.generate('Hi', { maxTokens: 2 })).rejects.toBeInstanceOf(ModelFileChangedError);
      expect(() => lm.stream('Hi', { maxTokens: 2 })).toThrow(/its size went from \d+ to 1000 bytes/);
    } finally {
      lm.dispose();
    }
  });

  it("max_tokens beyond the context stops where the context is full, with finish_reason 'length' (as documented)", async () => {
    const lm = await LanguageModel.load(defaultModelPath(), { threads: 1 });
    try {
      const r = await lm.generate('Hi there', { maxTokens: 4000, seed: 1, ignoreEos: true });
      expect(r.finishReason).toBe('length');
      // Every position of the context is filled; the last token is drawn from the full context
      // and needs no row of its own.
      expect(r.timings.promptTokens + r.ids.length).toBe(lm.model.model.contextLength + 1);
    } finally {
      lm.dispose();
    }
  });

  it('reads through a truncated mapping become errors, not SIGBUS', () => {
    const copy = join(dir, 'mapped.gguf');
    copyFileSync(defaultModelPath(), copy);
    const f = new MappedFile(copy);
    try {
      expect(f.read(f.size - 16, 16).length).toBe(16);
      truncateSync(copy, 1000);
      expect(() => f.read(f.size - 16, 16)).toThrow(/shrank under its mapping.*reload the model/);
      expect(f.read(0, 16).length).toBe(16); // bytes still in the file read as before
    } finally {
      f.dispose();
    }
  });
});
