// WebGPU against native, per op and per forward pass: the runner's entry for bench/webgpu/measure.ts.
// Opens a WebGPU adapter first; without one (no Vulkan, Metal or D3D12 driver, or the optional
// `webgpu` package missing) the backend is reported absent with the reason instead of failing.
// With one, runs the script, which checks every result before timing and writes its own files.
// A suite of the runner: npm run bench -- webgpu [--quick]

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSuite } from '../lib/suite.js';

const bench = dirname(dirname(fileURLToPath(import.meta.url)));

export default defineSuite({
  name: 'webgpu',
  title: 'WebGPU against native',
  description:
    'linear (f32, q8_0), fused attention and softmax on the WebGPU backend next to the native backend, then whole forward passes op by op and as one command buffer; ' +
    'not yet in the runner\'s case format: its script writes webgpu.md and webgpu.json into the run\'s output folder.',
  async run(ctx) {
    try {
      const { createWebGPUBackend } = await import('../../ts/backend/webgpu/index.js');
      const gpu = await createWebGPUBackend();
      const a = gpu.adapter;
      gpu.dispose();
      ctx.peerPresent('webgpu adapter', [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' '));
    } catch (e) {
      ctx.peerAbsent('webgpu adapter', (e as Error).message);
      ctx.note('no WebGPU adapter on this machine, so nothing was measured');
      return;
    }
    const script = join(bench, 'webgpu', 'measure.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--out', ctx.options.out, ...(ctx.quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`bench/webgpu/measure.ts exited with ${r.status ?? r.signal}`);
    for (const f of ['webgpu.md', 'webgpu.json']) if (existsSync(join(ctx.options.out, f))) ctx.file(join(ctx.options.out, f));
  },
});
