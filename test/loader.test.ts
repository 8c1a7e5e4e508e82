// The loader's error when no binary exists says exactly what to run.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';

describe('addon loader', () => {
  it('names the platform, the places searched and the command to run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnode-empty-'));
    try {
      expect(() => loadAddon(dir)).toThrow(/no native addon for linux-x64 .*prebuilds.*build.Release.*reinstall attnode/s);
      mkdirSync(join(dir, '.git'));
      expect(() => loadAddon(dir)).toThrow(/run `npm run build:native`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports the CPU, the kernel variant of every family, and the thread count', () => {
    const info = loadAddon().cpuInfo();
    expect(info.available.at(-1)).toBe('scalar');
    expect(info.available).toContain(info.isa);
    expect(Object.keys(info.kernels)).toEqual(expect.arrayContaining(['elementwise', 'embedding', 'rope', 'cast']));
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda).toBe('boolean');
  });
});
