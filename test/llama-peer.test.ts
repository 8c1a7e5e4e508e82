// The on-demand installer of the node-llama-cpp benchmark peer: where it installs, what it asks npm
// for (the CPU binary package only), and a peer that cannot be installed reported absent with why.
// npm is replaced by small scripts here; nothing is downloaded.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_LLAMA_CPP_VERSION, cpuBinaryPackage, ensureNodeLlamaCpp, installFailureReason, peersDir } from '../bench/lib/llama-peer.js';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'attnode-peer-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for npm: records its arguments, then runs `body` (sh) in the install folder. */
function fakeNpm(dir: string, body: string): string {
  const p = join(dir, 'npm');
  writeFileSync(p, `#!/bin/sh\necho "$@" > "${dir}/args"\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}
const installs = (pkgs: string[]) =>
  pkgs.map((p) => `mkdir -p node_modules/${p} && echo '{"version":"${NODE_LLAMA_CPP_VERSION}"}' > node_modules/${p}/package.json`).join('\n');

describe('node-llama-cpp peer installer', () => {
  it("installs into the runner's peer cache, outside the package, configurable by env", () => {
    const saved = { c: process.env.ATTNODE_BENCH_CACHE, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.ATTNODE_BENCH_CACHE = '/x/peers';
      expect(peersDir()).toBe('/x/peers');
      delete process.env.ATTNODE_BENCH_CACHE;
      process.env.XDG_CACHE_HOME = '/c';
      expect(peersDir()).toBe('/c/attnode-bench');
    } finally {
      for (const [k, v] of [['ATTNODE_BENCH_CACHE', saved.c], ['XDG_CACHE_HOME', saved.x]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('names one CPU binary package per platform, none for platforms it lacks', () => {
    expect(cpuBinaryPackage('linux', 'x64')).toBe('@node-llama-cpp/linux-x64');
    expect(cpuBinaryPackage('darwin', 'arm64')).toBe('@node-llama-cpp/mac-arm64-metal');
    expect(cpuBinaryPackage('freebsd', 'x64')).toBeUndefined();
    const s = ensureNodeLlamaCpp({ dir: scratch(), platform: 'freebsd', arch: 'x64' });
    expect(s.present).toBe(false);
    if (!s.present) expect(s.reason).toMatch(/wrong platform: .*no CPU binary package for freebsd-x64/);
  });

  it('asks npm for node-llama-cpp and the CPU package only, omitting the optional ones, and moves the install into place', () => {
    const d = scratch();
    const npm = fakeNpm(d, installs(['node-llama-cpp', '@node-llama-cpp/linux-x64']));
    const s = ensureNodeLlamaCpp({ dir: join(d, 'peers'), npm, platform: 'linux', arch: 'x64' });
    expect(s.present).toBe(true);
    if (!s.present) return;
    expect(s.installed).toBe(true);
    expect(s.dir).toBe(join(d, 'peers', `node-llama-cpp-${NODE_LLAMA_CPP_VERSION}-linux-x64`));
    const args = readFileSync(join(d, 'args'), 'utf8').trim().split(' ');
    expect(args).toContain('--omit=optional');
    expect(args).toContain('--ignore-scripts');
    expect(args.filter((a) => a.includes('@3') || a.includes(`@${NODE_LLAMA_CPP_VERSION}`))).toEqual([`node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}`]);
    // The second call finds it and runs no npm.
    rmSync(join(d, 'args'));
    const again = ensureNodeLlamaCpp({ dir: join(d, 'peers'), npm, platform: 'linux', arch: 'x64' });
    expect(again.present && !again.installed).toBe(true);
    expect(existsSync(join(d, 'args'))).toBe(false);
  });

  it('reports a peer it cannot install as absent with the reason, leaving no half-made folder', () => {
    const d = scratch();
    const offline = fakeNpm(d, 'echo "npm error code ENOTFOUND" >&2\necho "npm error network request to https://registry.npmjs.org failed" >&2\nexit 1');
    const s = ensureNodeLlamaCpp({ dir: join(d, 'peers'), npm: offline, platform: 'linux', arch: 'x64' });
    expect(s).toMatchObject({ present: false, reason: 'no network: npm could not reach the registry (ENOTFOUND)' });
    mkdirSync(join(d, 'peers'), { recursive: true });
    const left = ensureNodeLlamaCpp({ dir: join(d, 'peers'), install: false, platform: 'linux', arch: 'x64' });
    expect(left.present).toBe(false);
    if (!left.present) expect(left.reason).toMatch(/not installed in .*installing was turned off/);
    // npm exits 0 but the binary package is missing: absent, not present.
    const partial = fakeNpm(d, installs(['node-llama-cpp']));
    const p = ensureNodeLlamaCpp({ dir: join(d, 'peers'), npm: partial, platform: 'linux', arch: 'x64' });
    expect(p.present).toBe(false);
    if (!p.present) expect(p.reason).toMatch(/@node-llama-cpp\/linux-x64@3\.21\.1 is not in place/);
    const missing = ensureNodeLlamaCpp({ dir: join(d, 'peers'), npm: join(d, 'no-such-npm'), platform: 'linux', arch: 'x64' });
    expect(missing.present).toBe(false);
    if (!missing.present) expect(missing.reason).toMatch(/^npm was not found/);
    expect(installFailureReason('npm error code EBADPLATFORM\nnpm error notsup Unsupported platform for x@1', 1)).toMatch(/^wrong platform/);
  });
});
