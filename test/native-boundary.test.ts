// The native boundary: every bad argument from JavaScript gives a TypeError or RangeError that
// names the argument, and the process survives all of them.
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../ts/native.js';

const addon = loadAddon();

const f32 = (shape: number[], n = shape.reduce((a, b) => a * b, 1)) => ({ dtype: 'f32', shape, data: new Float32Array(n) });
const i32 = (shape: number[], values?: number[]) => ({ dtype: 'i32', shape, data: values ? new Int32Array(values) : new Int32Array(shape.reduce((a, b) => a * b, 1)) });
const detached = () => {
  const data = new Float32Array(4);
  structuredClone(data.buffer, { transfer: [data.buffer] });
  return { dtype: 'f32', shape: [4], data };
};
const weight = addon.packWeight({ weight: f32([3, 4]) }) as { dispose(): void };
const disposedWeight = addon.packWeight({ weight: f32([3, 4]) }) as { dispose(): void };
disposedWeight.dispose();

type Call = [label: string, call: () => unknown, error: typeof TypeError | typeof RangeError, message: RegExp];

const calls: Call[] = [
  ['op without a name', () => addon.op(undefined as unknown as string, {}), TypeError, /'name'/],
  ['op with a numeric name', () => addon.op(42 as unknown as string, {}), TypeError, /'name'/],
  ['unknown op', () => addon.op('nope', {}), RangeError, /unknown op 'nope'/],
  ['args not an object', () => addon.op('gelu', 5 as unknown as Record<string, unknown>), TypeError, /arguments must be an object/],
  ['args is an array', () => addon.op('gelu', [] as unknown as Record<string, unknown>), TypeError, /arguments must be an object/],
  ['missing tensor', () => addon.op('gelu', { out: f32([2]) }), TypeError, /'x' must be a tensor/],
  ['tensor is a typed array', () => addon.op('gelu', { x: new Float32Array(2), out: f32([2]) }), TypeError, /'x' must be a tensor/],
  ['dtype missing', () => addon.op('gelu', { x: { shape: [2], data: new Float32Array(2) }, out: f32([2]) }), TypeError, /'x'.dtype must be a string/],
  ['dtype not allowed', () => addon.op('gelu', { x: { dtype: 'f16', shape: [2], data: new Uint16Array(2) }, out: f32([2]) }), TypeError, /'x'.dtype must be one of f32, got 'f16'/],
  ['unknown dtype', () => addon.op('gelu', { x: { dtype: 'f64', shape: [2], data: new Float64Array(2) }, out: f32([2]) }), TypeError, /got 'f64'/],
  ['shape not an array', () => addon.op('gelu', { x: { dtype: 'f32', shape: 2, data: new Float32Array(2) }, out: f32([2]) }), TypeError, /'x'.shape must be an array/],
  ['negative dimension', () => addon.op('gelu', { x: { dtype: 'f32', shape: [-2], data: new Float32Array(2) }, out: f32([2]) }), RangeError, /'x'.shape\[0\]/],
  ['fractional dimension', () => addon.op('gelu', { x: { dtype: 'f32', shape: [1.5], data: new Float32Array(2) }, out: f32([2]) }), RangeError, /'x'.shape\[0\]/],
  ['NaN dimension', () => addon.op('gelu', { x: { dtype: 'f32', shape: [NaN], data: new Float32Array(2) }, out: f32([2]) }), RangeError, /'x'.shape\[0\]/],
  ['huge dimension', () => addon.op('gelu', { x: { dtype: 'f32', shape: [2 ** 40], data: new Float32Array(2) }, out: f32([2]) }), RangeError, /'x'.shape\[0\]/],
  ['element count overflows', () => addon.op('gelu', { x: { dtype: 'f32', shape: [2 ** 32, 2 ** 32, 2 ** 32], data: new Float32Array(2) }, out: f32([2]) }), RangeError, /too many elements/],
  ['rank too high', () => addon.op('gelu', { x: { dtype: 'f32', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data: new Float32Array(1) }, out: f32([1]) }), RangeError, /rank 9/],
  ['string dimension', () => addon.op('gelu', { x: { dtype: 'f32', shape: ['2'], data: new Float32Array(2) }, out: f32([2]) }), TypeError, /'x'.shape\[0\] must be a number/],
  ['data not a typed array', () => addon.op('gelu', { x: { dtype: 'f32', shape: [2], data: [1, 2] }, out: f32([2]) }), TypeError, /'x'.data must be a Float32Array/],
  ['wrong typed array kind', () => addon.op('gelu', { x: { dtype: 'f32', shape: [2], data: new Float64Array(2) }, out: f32([2]) }), TypeError, /'x'.data must be a Float32Array/],
  ['short array', () => addon.op('gelu', { x: f32([4], 3), out: f32([4]) }), RangeError, /'x'.data has 3 elements but shape \[4\]/],
  ['long array', () => addon.op('gelu', { x: f32([4], 5), out: f32([4]) }), RangeError, /'x'.data has 5 elements/],
  ['out shape mismatch', () => addon.op('gelu', { x: f32([4]), out: f32([5]) }), RangeError, /'out' must have shape \[4\]/],
  ['out partially overlaps x', () => {
    const buf = new Float32Array(8);
    return addon.op('gelu', { x: { dtype: 'f32', shape: [4], data: buf.subarray(0, 4) }, out: { dtype: 'f32', shape: [4], data: buf.subarray(2, 6) } });
  }, RangeError, /'out' partially overlaps 'x'/],
  ['detached buffer', () => addon.op('gelu', { x: detached(), out: f32([4]) }), RangeError, /'x'.data has 0 elements/],
  ['bad broadcast', () => addon.op('add', { a: f32([2, 3]), b: f32([2]), out: f32([2, 3]) }), RangeError, /'b' shape \[2\]/],
  ['scale not a number', () => addon.op('scale', { x: f32([2]), s: 'two', out: f32([2]) }), TypeError, /'s' must be a number/],
  ['scale infinite', () => addon.op('scale', { x: f32([2]), s: Infinity, out: f32([2]) }), RangeError, /'s' must be a finite number/],
  ['gelu approximate unknown', () => addon.op('gelu', { x: f32([2]), approximate: 'fast', out: f32([2]) }), RangeError, /'approximate' must be one of 'none', 'tanh'/],
  ['layerNorm weight shape', () => addon.op('layerNorm', { x: f32([2, 4]), weight: f32([3]), out: f32([2, 4]) }), RangeError, /'weight' must have shape \[4\]/],
  ['layerNorm eps negative', () => addon.op('layerNorm', { x: f32([2, 4]), weight: f32([4]), eps: -1, out: f32([2, 4]) }), RangeError, /'eps'/],
  ['softmax of a scalar', () => addon.op('softmax', { x: f32([]), out: f32([]) }), RangeError, /rank >= 1/],
  ['embedding id out of range', () => addon.op('embedding', { table: f32([5, 2]), ids: i32([2], [1, 5]), out: f32([2, 2]) }), RangeError, /'ids\[1\]' = 5 is outside \[0, 5\)/],
  ['embedding negative id', () => addon.op('embedding', { table: f32([5, 2]), ids: i32([1], [-1]), out: f32([1, 2]) }), RangeError, /'ids\[0\]' = -1/],
  ['embedding table rank', () => addon.op('embedding', { table: f32([10]), ids: i32([1]), out: f32([1, 10]) }), RangeError, /'table' must have shape \[vocab, dim\]/],
  ['rope odd rotaryDim', () => addon.op('rope', { x: f32([1, 1, 4]), positions: i32([1]), rotaryDim: 3, out: f32([1, 1, 4]) }), RangeError, /'rotaryDim' must be even/],
  ['rope rotaryDim too large', () => addon.op('rope', { x: f32([1, 1, 4]), positions: i32([1]), rotaryDim: 6, out: f32([1, 1, 4]) }), RangeError, /'rotaryDim' must be an integer in \[0, 4\]/],
  ['rope negative position', () => addon.op('rope', { x: f32([1, 1, 4]), positions: i32([1], [-3]), out: f32([1, 1, 4]) }), RangeError, /'positions\[0\]' must be >= 0/],
  ['rope positions length', () => addon.op('rope', { x: f32([2, 1, 4]), positions: i32([3]), out: f32([2, 1, 4]) }), RangeError, /'positions' must have shape \[2\]/],
  ['q8_0 row not a multiple of 32', () => addon.op('cast', { x: { dtype: 'q8_0', shape: [33], data: new Uint8Array(34) }, out: f32([33]) }), TypeError, /'x'.dtype must be one of/],
  ['cast to an integer dtype', () => addon.op('cast', { x: f32([2]), out: i32([2]) }), TypeError, /'out'.dtype must be one of f32, f16, bf16/],
  ['setThreads zero', () => addon.setThreads(0), RangeError, /'threads' must be an integer in \[1, 1024\]/],
  ['setThreads fractional', () => addon.setThreads(1.5), RangeError, /'threads'/],
  ['setThreads string', () => addon.setThreads('4' as unknown as number), TypeError, /'threads' must be an integer/],
  ['setIsa unknown', () => addon.setIsa('sse9'), RangeError, /'sse9' is not available/],
  ['setIsa not a string', () => addon.setIsa(3 as unknown as string), TypeError, /'isa' must be a string/],
  ['packWeight rank 1', () => (addon as unknown as { packWeight(a: unknown): unknown }).packWeight({ weight: f32([4]) }), RangeError, /'weight' must have shape \[outFeatures, inFeatures\]/],
  ['packWeight without args', () => (addon as unknown as { packWeight(a?: unknown): unknown }).packWeight(), TypeError, /arguments must be an object/],
  ['linear with a non-handle weight', () => addon.op('linear', { x: f32([1, 4]), weight: {}, out: f32([1, 3]) }), TypeError, /'weight' must be a packed weight/],
  ['linear with a disposed weight', () => addon.op('linear', { x: f32([1, 4]), weight: disposedWeight, out: f32([1, 3]) }), TypeError, /'weight' was disposed/],
  ['linear K mismatch', () => addon.op('linear', { x: f32([1, 5]), weight, out: f32([1, 3]) }), RangeError, /'x' has 5 features/],
  ['linear bad activation', () => addon.op('linear', { x: f32([1, 4]), weight, activation: 'relu6', out: f32([1, 3]) }), RangeError, /'activation' must be one of/],
  ['opAsync validates synchronously', () => addon.opAsync('gelu', { x: f32([4], 3), out: f32([4]) }), RangeError, /'x'.data has 3 elements/],
];

describe('native boundary', () => {
  it('has at least 30 bad calls', () => expect(calls.length).toBeGreaterThanOrEqual(30));

  it.each(calls)('%s', (_label, call, error, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });

  it('still computes correctly after all the bad calls', () => {
    const x = { dtype: 'f32', shape: [3], data: new Float32Array([1, 2, 3]) };
    const out = f32([3]);
    addon.op('scale', { x, s: 2, out });
    expect([...out.data]).toEqual([2, 4, 6]);
  });
});

describe('lowerThreadPriority', () => {
  it('lowers only the calling thread, and checks its step', async () => {
    const { Worker } = await import('node:worker_threads');
    const { getPriority } = await import('node:os');
    const { pathToFileURL } = await import('node:url');
    expect(() => loadAddon().lowerThreadPriority(0)).toThrow(/'step' must be an integer in \[1, 19\]/);
    expect(() => loadAddon().lowerThreadPriority(1.5)).toThrow(RangeError);
    const main = getPriority();
    // The compiled package (test/global-setup.ts builds dist/): the worker loads the addon itself
    // and lowers its own thread twice.
    const nativeUrl = pathToFileURL(new URL('../dist/native.js', import.meta.url).pathname).href;
    const src = `import { parentPort } from 'node:worker_threads';
      const { loadAddon } = await import(${JSON.stringify(nativeUrl)});
      const a = loadAddon().lowerThreadPriority(1);
      const b = loadAddon().lowerThreadPriority(2);
      parentPort.postMessage([a, b]);`;
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`));
    const [a, b] = await new Promise<[number | null, number | null]>((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
    await w.terminate();
    if (process.platform !== 'linux') return expect(a).toBeNull();
    expect(a).toBe(Math.min(19, main + 1));
    expect(b).toBe(Math.min(19, main + 3));
    expect(getPriority()).toBe(main); // the main thread (the process's first thread) is untouched
  });
});
