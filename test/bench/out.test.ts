// The webgpu suite writes its script's files into the runner's --out folder, never into the
// checkout, and the report lists them relative to itself (schema 2). With no WebGPU adapter the
// suite reports the adapter absent and writes nothing of its own.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/lib/schema.js';

const checkout = (f: string) => join('bench', 'results', f);
const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : undefined);

describe('bench --out', () => {
  it('the webgpu suite writes into --out and lists its files relative to the report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-bench-out-'));
    const before = ['webgpu.md', 'webgpu.json'].map((f) => mtime(checkout(f)));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'webgpu', '--quick', '--out', dir], { stdio: 'pipe', timeout: 400_000 });
      const r = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchReport;
      expect(r.schemaVersion).toBe(2);
      const s = r.suites.find((x) => x.name === 'webgpu')!;
      expect(s.status).toBe('ok');
      const adapter = r.peers.find((p) => p.suite === 'webgpu' && p.name === 'webgpu adapter')!;
      if (adapter.status === 'present') {
        expect(s.files.sort()).toEqual(['webgpu.json', 'webgpu.md']);
        for (const f of s.files) expect(readFileSync(join(dir, f), 'utf8').length).toBeGreaterThan(100);
      } else {
        console.log(`no WebGPU adapter (${adapter.reason}): only the absent report is checked`);
        expect(s.files).toEqual([]);
      }
      expect(['webgpu.md', 'webgpu.json'].map((f) => mtime(checkout(f)))).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 420_000);
});
