// The encoder-decoder family table: which family a config.json names (model_type, then
// architectures), and whether a config is an encoder-decoder at all. A family plugs in by adding
// its module (families/seq2seq-family.ts is the contract) to SEQ2SEQ_FAMILIES. Not the model (../seq2seq.ts).

import type { GGUFFile } from '../../io/gguf.js';
import type { Seq2SeqArchitecture, Seq2SeqFamily } from './seq2seq-family.js';
import { bart, marian, mbart } from './bart.js';
import { t5 } from './t5.js';

export type { Seq2SeqArchitecture, Seq2SeqConfig, Seq2SeqFamily, Seq2SeqParts } from './seq2seq-family.js';

/** Every encoder-decoder family, by the name Seq2SeqConfig.architecture carries. */
export const SEQ2SEQ_FAMILIES: Readonly<Record<Seq2SeqArchitecture, Seq2SeqFamily>> = { t5, bart, mbart, marian };

const all = (): Seq2SeqFamily[] => Object.values(SEQ2SEQ_FAMILIES);

/** The config.json model_types of the table, for error messages. */
export const SEQ2SEQ_MODEL_TYPES: readonly string[] = all().flatMap((f) => f.hf.modelTypes);

/** The family of a config.json, or undefined when no encoder-decoder family claims it. */
export function findSeq2SeqFamily(cfg: Record<string, unknown>): Seq2SeqFamily | undefined {
  const type = String(cfg.model_type ?? '');
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  return all().find((f) => f.hf.modelTypes.includes(type)) ?? all().find((f) => archs.some((a) => f.hf.architectures.includes(a)));
}

/** Whether a config.json is an encoder-decoder checkpoint: a family of the table, or one that says is_encoder_decoder. */
export function isSeq2SeqConfig(cfg: Record<string, unknown>): boolean {
  return findSeq2SeqFamily(cfg) !== undefined || cfg.is_encoder_decoder === true;
}

/** The family of a config.json; one no family claims is a RangeError listing the supported ones. */
export function seq2seqFamilyOfHF(cfg: Record<string, unknown>): Seq2SeqFamily {
  const f = findSeq2SeqFamily(cfg);
  if (f) return f;
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  throw new RangeError(
    `config: encoder-decoder model_type '${String(cfg.model_type ?? '')}' (architectures ${JSON.stringify(archs)}) is not supported; supported: ` +
      `${SEQ2SEQ_MODEL_TYPES.join(', ')} (model_type), ${all().flatMap((x) => x.hf.architectures).join(', ')} (architectures)`,
  );
}

/** The GGUF general.architecture values of the table's families. */
export const SEQ2SEQ_GGUF_NAMES: readonly string[] = all().flatMap((f) => f.gguf?.architectures ?? []);

/** Whether a GGUF general.architecture is an encoder-decoder of the table. */
export function isSeq2SeqGGUFArchitecture(arch: string): boolean {
  return SEQ2SEQ_GGUF_NAMES.includes(arch);
}

/** The family of a GGUF file (general.architecture); one no family claims is a RangeError listing the supported ones. */
export function seq2seqFamilyOfGGUF(g: GGUFFile): Seq2SeqFamily & { gguf: NonNullable<Seq2SeqFamily['gguf']> } {
  const arch = g.get('general.architecture');
  const f = all().find((x) => typeof arch === 'string' && x.gguf?.architectures.includes(arch) === true);
  if (f?.gguf) return f as Seq2SeqFamily & { gguf: NonNullable<Seq2SeqFamily['gguf']> };
  const hint = arch === 't5encoder' ? " (llama.cpp's encoder-only T5 is not implemented)" : '';
  throw new RangeError(`gguf: general.architecture ${JSON.stringify(arch)} is not an encoder-decoder attnode reads${hint}; supported: ${SEQ2SEQ_GGUF_NAMES.join(', ')}`);
}
