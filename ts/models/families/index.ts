// The model-family table: which family a config.json or GGUF file names, and the lookups every
// loader, counter and graph builder goes through. A name no family claims is a RangeError that
// lists the supported ones. Not a family itself (gpt2.ts, llama.ts) nor the loader (../model.ts).

import type { GGUFFile } from '../../io/gguf.js';
import type { KVDType, GraphBuilder, ValueRef } from '../../graph/ir.js';
import { decoderStack, type DecoderOutput } from '../blocks.js';
import type { Architecture, DecoderConfig } from '../config.js';
import type { ModelFamily } from './family.js';
import { gemma2, gemma3 } from './gemma.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { mistral } from './mistral.js';
import { phi3 } from './phi3.js';
import { qwen2, qwen3 } from './qwen.js';

export type { ModelFamily, ParamComponent, ParamTensor } from './family.js';

/** Every family, by the name DecoderConfig.architecture carries. */
export const FAMILIES: Readonly<Record<Architecture, ModelFamily>> = { gpt2, llama, mistral, qwen2, qwen3, phi3, gemma2, gemma3 };

const all = (): ModelFamily[] => Object.values(FAMILIES);

/** The names each format accepts, for error messages and `supportedArchitectures()`. */
export function supportedArchitectures(): { families: Architecture[]; hfModelTypes: string[]; hfArchitectures: string[]; gguf: string[] } {
  return {
    families: all().map((f) => f.name),
    hfModelTypes: all().flatMap((f) => f.hf.modelTypes),
    hfArchitectures: all().flatMap((f) => f.hf.architectures),
    gguf: all().flatMap((f) => f.gguf),
  };
}

/** The family of a DecoderConfig.architecture value. */
export function family(name: Architecture): ModelFamily {
  const f = (FAMILIES as Partial<Record<string, ModelFamily>>)[name];
  if (!f) throw new RangeError(`architecture '${String(name)}' is not supported; supported: ${supportedArchitectures().families.join(', ')}`);
  return f;
}

/** The family a config.json names: by model_type, else by an architectures entry. */
export function familyOfHF(cfg: Record<string, unknown>): ModelFamily {
  const type = String(cfg.model_type ?? '');
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  const f = all().find((x) => x.hf.modelTypes.includes(type)) ?? all().find((x) => archs.some((a) => x.hf.architectures.includes(a)));
  if (f) return f;
  const s = supportedArchitectures();
  throw new RangeError(
    `config: model_type '${type}' (architectures ${JSON.stringify(archs)}) is not supported; supported: ${s.hfModelTypes.join(', ')} (model_type), ` +
      `${s.hfArchitectures.join(', ')} (architectures)`,
  );
}

/** The family a GGUF file names in general.architecture. */
export function familyOfGGUF(g: GGUFFile): ModelFamily {
  const arch = g.get('general.architecture');
  const f = all().find((x) => typeof arch === 'string' && x.gguf.includes(arch));
  if (f) return f;
  throw new RangeError(`gguf: general.architecture '${String(arch)}' is not supported; supported: ${supportedArchitectures().gguf.join(', ')}`);
}

/** DecoderConfig from a Hugging Face config.json object. */
export function configFromHF(cfg: Record<string, unknown>): DecoderConfig {
  return familyOfHF(cfg).configFromHF(cfg);
}

/** DecoderConfig from GGUF metadata. */
export function configFromGGUF(g: GGUFFile): DecoderConfig {
  return familyOfGGUF(g).configFromGGUF(g);
}

/** The planned-graph source of a config: the shared stack with its family's parts. */
export function decoderGraph(
  cfg: DecoderConfig, kvDtype: KVDType = 'f32', outputs?: readonly DecoderOutput[],
): GraphBuilder & { result: ValueRef; outputs: Partial<Record<DecoderOutput, ValueRef>> } {
  return decoderStack(cfg, family(cfg.architecture).graph, kvDtype, outputs);
}
