// The path a downstream project takes: pack the package, install the tarball into a fresh
// project with its dependencies from the registry, install scripts disabled and no compiler,
// cmake, make or python on PATH (a build attempt would fail loudly), then load the prebuilt
// binary and run an op. It needs the npm registry, as any `npm install attnode` does; it
// assumes nothing about what the npm cache holds (CI runs it with an empty one).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../ts/native.js';

const scratch = mkdtempSync(join(tmpdir(), 'attnode-pack-'));
const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuilt = join(prebuildDir, 'attnode.node');

/** Newest modification time under a folder (the native sources a prebuild is made from). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * A PATH with node and npm only, plus stand-ins for every build tool that exit 1 and say so: an
 * install that tried to compile (node-gyp, cmake-js, a postinstall) fails with a clear message.
 */
function buildlessPath(): string {
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`);
  chmodSync(join(bin, 'npm'), 0o755);
  for (const tool of ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'python', 'python3', 'node-gyp', 'nvcc']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "packaged install tried to build: ${tool} $*" >&2\nexit 1\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return bin;
}

beforeAll(() => {
  // A prebuild older than the native sources would test yesterday's addon: make it again.
  if (!existsSync(prebuilt) || statSync(prebuilt).mtimeMs < newest(join(packageRoot, 'native'))) {
    execFileSync(process.execPath, [join(packageRoot, 'tools', 'prebuild.mjs')], { cwd: packageRoot, stdio: 'pipe' });
  }
}, 900_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('packaged install', () => {
  it('loads the prebuilt binary in a project that installed it with no install scripts and no compiler', () => {
    const packOut = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const packed = JSON.parse(packOut) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain(`prebuilds/${process.platform}-${process.arch}/attnode.node`);
    expect(files).toContain('dist/index.js');
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const consumer = join(scratch, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const env = { ...process.env, PATH: buildlessPath() };
    // The stand-ins really are what this PATH finds: a compiler call fails instead of building.
    expect(() => execFileSync('c++', ['--version'], { env, stdio: 'pipe' })).toThrow();
    const install = execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', join(scratch, packed[0]!.filename)], {
      cwd: consumer,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(install).not.toMatch(/tried to build/);
    const installed = join(consumer, 'node_modules', 'attnode');
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(existsSync(join(installed, 'prebuilds', `${process.platform}-${process.arch}`, 'attnode.node'))).toBe(true);

    const script = `
      import { NativeBackend, Tensor, cpuInfo } from 'attnode';
      const b = new NativeBackend();
      const y = await b.run('softmax', { x: Tensor.fromValues([1, 2, 3, 4], [2, 2]) });
      console.log(JSON.stringify({ isa: cpuInfo().isa, y: [...y.data] }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, env, encoding: 'utf8' });
    const result = JSON.parse(out) as { isa: string; y: number[] };
    expect(result.isa).toBe(loadAddon().cpuInfo().isa);
    const e = Math.exp(1);
    expect(result.y[0]).toBeCloseTo(1 / (1 + e), 6);
    expect(result.y[3]).toBeCloseTo(e / (1 + e), 6);
  }, 600_000);
});
