// The path a downstream tool takes: pack the package, install the tarball into a fresh project
// with install scripts disabled and no network, then load the prebuilt binary and run an op.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../ts/native.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const scratch = mkdtempSync(join(tmpdir(), 'attnode-pack-'));

beforeAll(() => {
  const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(prebuildDir) || !readdirSync(prebuildDir).some((f) => f.endsWith('.node'))) {
    execFileSync(process.execPath, [join(packageRoot, 'tools', 'prebuild.mjs')], { cwd: packageRoot, stdio: 'pipe' });
  }
}, 600_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('packaged install', () => {
  it('loads the prebuilt binary in a project that ran no install scripts, offline', () => {
    const packOut = execFileSync(npm, ['pack', '--json', '--pack-destination', scratch], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const packed = JSON.parse(packOut) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain(`prebuilds/${process.platform}-${process.arch}/attnode.node`);
    expect(files).toContain('dist/index.js');
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const consumer = join(scratch, 'consumer');
    execFileSync('mkdir', ['-p', consumer]);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync(npm, ['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', join(scratch, packed[0]!.filename)], {
      cwd: consumer,
      stdio: 'pipe',
    });
    expect(existsSync(join(consumer, 'node_modules', 'attnode', 'build'))).toBe(false);

    const script = `
      import { NativeBackend, Tensor, cpuInfo } from 'attnode';
      const b = new NativeBackend();
      const y = await b.run('softmax', { x: Tensor.fromValues([1, 2, 3, 4], [2, 2]) });
      console.log(JSON.stringify({ isa: cpuInfo().isa, y: [...y.data] }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, encoding: 'utf8' });
    const result = JSON.parse(out) as { isa: string; y: number[] };
    expect(result.isa).toBe(loadAddon().cpuInfo().isa);
    const e = Math.exp(1);
    expect(result.y[0]).toBeCloseTo(1 / (1 + e), 6);
    expect(result.y[3]).toBeCloseTo(e / (1 + e), 6);
  }, 600_000);
});
