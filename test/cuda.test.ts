// The CUDA kernels from Node: cudaInfo() agrees with the build, and where a device exists the
// C++ kernel tests (native/test/cuda_kernels_test.cc, built beside the addon) pass on it. Without a
// device the device cases skip with the runtime's reason printed; tools/cuda-check.sh runs the
// same tests on a GPU machine without Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuInfo, cudaInfo } from '../ts/native.js';

const info = cudaInfo();
const TEST_BIN = join(import.meta.dirname, '..', 'build', 'cuda-tests', 'cuda_kernels_test');
if (info.devices === 0) console.log(`CUDA device tests skipped: ${info.reason ?? 'no device'}`);

describe('cuda', () => {
  it('cudaInfo() reports the build and its devices', () => {
    expect(info.compiled).toBe(cpuInfo().cuda);
    expect(info.names).toHaveLength(info.devices);
    if (!info.compiled) expect(info.reason).toBe('attnode was built without CUDA support');
    else if (info.devices === 0) expect(info.reason).toMatch(/^cudaGetDeviceCount/);
    for (const n of info.names) expect(n).toMatch(/\(sm_\d+, \d+ SMs, \d+ GiB\)$/);
  });

  it.skipIf(!info.compiled)('the kernel test program was built with the addon, and says why it does not run without a device', () => {
    expect(existsSync(TEST_BIN)).toBe(true);
    if (info.devices > 0) return;  // the next case runs it
    const r = spawnSync(TEST_BIN, ['--require-device'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^SKIP: no CUDA device \(cudaGetDeviceCount/);
  });

  it.skipIf(info.devices === 0)('the C++ kernel tests pass on the device', () => {
    const r = spawnSync(TEST_BIN, ['--require-device'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.stdout).toMatch(/\d+ checks, 0 failed/);
    expect(r.status).toBe(0);
  }, 310_000);
});
