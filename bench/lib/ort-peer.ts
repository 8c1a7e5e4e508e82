// onnxruntime-node as a benchmark peer: loaded from a directory of its own (never a dependency of
// attnode), one CPU session per thread count. Only what bench/suites/encoder.ts needs of its API.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The slice of onnxruntime-node's API used here. */
interface OrtTensor { readonly data: unknown; readonly dims: readonly number[] }
interface OrtModule {
  Tensor: new (type: 'int64', data: BigInt64Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(path: string, options: { executionProviders: string[]; intraOpNumThreads: number; interOpNumThreads: number; executionMode: 'sequential' }): Promise<{
      run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
      release(): Promise<void>;
    }>;
  };
}

/** One session over a BERT-shaped ONNX file (inputs input_ids, attention_mask, token_type_ids). */
export interface OrtSession {
  /** (B, T) int64 inputs in, last_hidden_state (B, T, H) f32 out. */
  run(inputs: { input_ids: BigInt64Array; attention_mask: BigInt64Array; token_type_ids: BigInt64Array }, dims: [number, number]): Promise<{ lastHiddenState: Float32Array }>;
  release(): Promise<void>;
}

export interface OrtPeer {
  readonly version: string;
  /** A CPU execution-provider session with default graph optimizations and `threads` intra-op threads. */
  create(onnxPath: string, threads: number): Promise<OrtSession>;
}

/** Loads onnxruntime-node from `dir`/node_modules; a RangeError naming the install line when absent. */
export function ortPeer(dir: string, who: string): OrtPeer {
  const pkg = join(dir, 'node_modules', 'onnxruntime-node', 'package.json');
  if (!existsSync(pkg))
    throw new RangeError(`${who}: no onnxruntime-node under '${dir}'; install it there (see the header of bench/suites/encoder.ts)`);
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  const ort = createRequire(join(dir, 'package.json'))('onnxruntime-node') as OrtModule;
  return {
    version,
    async create(onnxPath, threads) {
      const s = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
      return {
        async run(inputs, dims) {
          const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('int64', v, dims)]));
          const out = await s.run(feeds);
          const h = out.last_hidden_state;
          if (!h || !(h.data instanceof Float32Array)) throw new Error(`${who}: ORT gave no f32 'last_hidden_state'`);
          return { lastHiddenState: h.data };
        },
        release: () => s.release(),
      };
    },
  };
}
