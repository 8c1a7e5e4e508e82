// LanguageModel: a loaded checkpoint with its tokenizer, and the user-facing generate / stream /
// applyChatTemplate / dispose. Not the loop itself (generate.ts) nor the network (gpt2.ts).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { NativeBackend } from '../backend/native.js';
import { ReferenceBackend } from '../backend/reference.js';
import { packageRoot } from '../native.js';
import { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { generate, stream, type GenerateOptions, type GenerationResult, type GenerationStream } from './generate.js';
import { readGGUF } from './gguf.js';
import { GPT2_DTYPES, Gpt2Model, type Gpt2DType } from './gpt2.js';
import { Gpt2Tokenizer } from './tokenizer.js';

export const BACKENDS = ['native', 'reference'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface LoadOptions {
  /** 'native' (default), 'reference' (plain TypeScript, slow) or a Backend instance. */
  backend?: BackendName | Backend;
  /** Weight dtype for the linear layers on the backend. Default 'f32'. */
  dtype?: Gpt2DType;
  /** Intra-op threads of the native backend. */
  threads?: number;
}

/** The model committed with the package: a small GPT-2 trained on Debian's fortune files. */
export function defaultModelPath(): string {
  return join(packageRoot, 'models', 'attnode-fortunes-7m', 'model.gguf');
}

/** eos_token_id from a generation_config.json next to the model file, if there is one. */
export function readGenerationConfigEos(modelPath: string): number[] | undefined {
  const p = join(dirname(modelPath), 'generation_config.json');
  if (!existsSync(p)) return undefined;
  const cfg = JSON.parse(readFileSync(p, 'utf8')) as { eos_token_id?: unknown };
  const e = cfg.eos_token_id;
  if (e === undefined || e === null) return undefined;
  const list = Array.isArray(e) ? e : [e];
  if (!list.every((v) => Number.isInteger(v) && (v as number) >= 0)) throw new RangeError(`${p}: eos_token_id must be an id or a list of ids`);
  return list as number[];
}

export class LanguageModel {
  private constructor(
    readonly path: string,
    readonly model: Gpt2Model,
    readonly tokenizer: Gpt2Tokenizer,
    readonly backend: Backend,
    private readonly ownsBackend: boolean,
    readonly chatTemplate: string | undefined,
  ) {}

  /** Loads a GGUF checkpoint (default: the committed default model). */
  static async load(path: string = defaultModelPath(), options: LoadOptions = {}): Promise<LanguageModel> {
    if (typeof path !== 'string') throw new TypeError("load: 'path' must be a string");
    const dtype = options.dtype ?? 'f32';
    if (!GPT2_DTYPES.includes(dtype)) throw new RangeError(`load: 'dtype' must be one of ${GPT2_DTYPES.join(', ')}, got '${String(dtype)}'`);
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1))
      throw new RangeError(`load: 'threads' must be an integer >= 1, got ${String(options.threads)}`);
    if (!existsSync(path)) throw new RangeError(`load: model file '${path}' does not exist`);
    const b = options.backend ?? 'native';
    let backend: Backend;
    if (typeof b === 'string') {
      if (!BACKENDS.includes(b)) throw new RangeError(`load: 'backend' must be one of ${BACKENDS.join(', ')}, got '${String(b)}'`);
      backend = b === 'native' ? new NativeBackend(options.threads === undefined ? {} : { threads: options.threads }) : new ReferenceBackend();
    } else backend = b;
    const file = readGGUF(path);
    const tokenizer = Gpt2Tokenizer.fromGGUF(file);
    const model = new Gpt2Model(backend, file, readGenerationConfigEos(path));
    const tmpl = file.metadata.get('tokenizer.chat_template');
    return new LanguageModel(path, model, tokenizer, backend, typeof b === 'string', typeof tmpl === 'string' ? tmpl : undefined);
  }

  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerationResult> {
    return generate(this.model, this.tokenizer, prompt, options);
  }

  stream(prompt: string | readonly number[], options: GenerateOptions = {}): GenerationStream {
    return stream(this.model, this.tokenizer, prompt, options);
  }

  /** Renders chat messages with the checkpoint's template (tokenizer.chat_template). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === undefined) throw new TypeError(`applyChatTemplate: ${this.path} has no chat template (tokenizer.chat_template); it is not a chat model`);
    return renderChatTemplate(this.chatTemplate, messages, { eosToken: '<|endoftext|>', ...options });
  }

  /** Frees native weights now; generation afterwards throws. */
  dispose(): void {
    this.model.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
