// Runs once per test run, before any test file: compiles the TypeScript sources into dist/
// (worker threads and child processes load the compiled JavaScript, as users do), and asks
// once whether this machine has a WebGPU adapter, so that every WebGPU test skips with one
// printed reason when it has none and runs when it has one.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/** What the adapter probe found; tests read it with `inject('webgpu')` (helpers/webgpu.ts). */
export interface WebGPUProbe {
  available: boolean;
  /** the adapter's description when available, else why none could be opened */
  detail: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    webgpu: WebGPUProbe;
  }
}

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

/**
 * Opens the backend in a child process: dawn.node keeps native threads alive, and a driver that
 * crashes while it enumerates adapters must not take the test runner down with it.
 */
function probeWebGPU(): WebGPUProbe {
  const script = `
    import { createWebGPUBackend } from ${JSON.stringify(new URL('../dist/backend/webgpu/index.js', import.meta.url).href)};
    let out;
    try {
      const gpu = await createWebGPUBackend();
      const r = gpu.adapter;
      out = { available: true, detail: [r.vendor, r.architecture, r.device, r.description].filter(Boolean).join(' / ') || 'unnamed adapter' };
      gpu.dispose();
    } catch (e) {
      out = { available: false, detail: e instanceof Error ? e.message : String(e) };
    }
    process.stdout.write(JSON.stringify(out));
    process.exit(0);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  try {
    return JSON.parse(r.stdout) as WebGPUProbe;
  } catch {
    const why = r.error ? r.error.message : `the probe exited with status ${String(r.status)}, signal ${String(r.signal)}`;
    return { available: false, detail: `webgpu backend: probing for an adapter failed (${why}): ${r.stderr.trim().split('\n')[0] ?? ''}` };
  }
}

/** Each vitest project runs the global setup; the work and the message happen once a run. */
const kDone = 'ATTNODE_TEST_SETUP';

export default function setup(project: TestProject): void {
  let webgpu: WebGPUProbe;
  const done = process.env[kDone];
  if (done !== undefined) {
    webgpu = JSON.parse(done) as WebGPUProbe;
  } else {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: 'inherit',
    });
    webgpu = probeWebGPU();
    console.log(webgpu.available ? `WebGPU tests run on: ${webgpu.detail}` : `WebGPU tests skipped: ${webgpu.detail}`);
    process.env[kDone] = JSON.stringify(webgpu);
  }
  project.provide('webgpu', webgpu);
}
