// Whether this run has a WebGPU adapter, as the global setup's one probe found (global-setup.ts).
// Test files gate their WebGPU suites on HAS_WEBGPU with vitest's skipIf, so that without an
// adapter they show as skipped (the reason is printed once, by the setup) and with one they run.
import { inject } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend, type WebGPUBackendOptions } from '../../ts/backend/webgpu/index.js';

const probe = inject('webgpu');

export const HAS_WEBGPU: boolean = probe.available;
/** the adapter's description, or why there is none */
export const WEBGPU_DETAIL: string = probe.detail;

/**
 * The WebGPU backend when the probe found an adapter, else undefined. Where the probe found one,
 * a failure to open it here is a test failure, not a skip.
 */
export async function openWebGPU(options?: WebGPUBackendOptions): Promise<WebGPUBackend | undefined> {
  return HAS_WEBGPU ? createWebGPUBackend(options) : undefined;
}
