// RoBERTa and XLM-RoBERTa (HF modeling_roberta / modeling_xlm_roberta: one architecture, BERT's
// layers with positions numbered after the padding id): EncoderConfig and weight binding.
// Not the graph (../encoder-graph.ts) and no tokenizer (byte-level BPE / Unigram live in ts/tokenizer).

import { int, num, refuse } from '../config.js';
import { encoderBinding, type EncoderFamily } from '../encoder-graph.js';
import type { TensorSource } from '../weights.js';
import { bindBertEncoder } from './bert.js';
import { activationOf, architectureOf, headDimOf, headFields, refuseCommon, type EncoderArchitecture, type EncoderConfig, type EncoderTask } from './encoder-config.js';

const HEADS: readonly [string, EncoderTask][] = [['Model', 'none'], ['ForMaskedLM', 'maskedLM'], ['ForSequenceClassification', 'sequenceClassification'], ['ForTokenClassification', 'tokenClassification']];

function configReader(family: 'roberta' | 'xlm-roberta', prefix: string): { architectures: string[]; configFromHF(cfg: Record<string, unknown>): EncoderConfig } {
  const tasks = new Map(HEADS.map(([suffix, task]) => [`${prefix}${suffix}`, task]));
  const architectures = [...tasks.keys()];
  return {
    architectures,
    configFromHF(cfg) {
      const arch = architectureOf(family, cfg, architectures, `${prefix}Model`);
      refuseCommon(family, cfg);
      const activation = activationOf(family, cfg, 'hidden_act', 'gelu');
      const hidden = int(cfg, 'hidden_size', 768);
      const heads = int(cfg, 'num_attention_heads', 12);
      const maxPositions = int(cfg, 'max_position_embeddings', 512);
      // create_position_ids_from_input_ids: non-pad tokens are numbered padding_idx + 1, + 2, ...
      // and pads get padding_idx, so padding_idx + 1 rows of the table are never a token's position.
      const pad = cfg.pad_token_id ?? 1;
      if (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0) refuse(family, 'pad_token_id', cfg.pad_token_id, 'positions are numbered after the padding id, an integer >= 0');
      if (pad + 1 >= maxPositions) throw new RangeError(`config: ${family} 'max_position_embeddings' ${maxPositions} leaves no position after 'pad_token_id' ${pad}`);
      const fields = headFields(cfg);
      return {
        architecture: family,
        hfArchitecture: arch,
        task: tasks.get(arch)!,
        vocabSize: int(cfg, 'vocab_size', 50265),
        hidden,
        layers: int(cfg, 'num_hidden_layers', 12),
        heads,
        headDim: headDimOf(hidden, heads, 'hidden_size', 'num_attention_heads'),
        ffn: int(cfg, 'intermediate_size', 3072),
        maxPositions,
        maxSequence: maxPositions - pad - 1,
        positions: 'afterPadding',
        typeVocabSize: int(cfg, 'type_vocab_size', 2),
        normEps: num(cfg, 'layer_norm_eps', 1e-12),
        activation,
        // RobertaLMHead calls gelu itself, whatever hidden_act says.
        mlmActivation: 'gelu',
        sequenceHead: 'tanh',
        ...fields,
        padTokenId: pad,
      };
    },
  };
}

/** Heads put the encoder under 'roberta.'; a saved bare model usually has no prefix. */
function robertaPrefix(src: TensorSource): string {
  return src.has('roberta.embeddings.word_embeddings.weight') ? 'roberta.' : '';
}

function robertaFamily(name: EncoderArchitecture & ('roberta' | 'xlm-roberta'), prefix: string): EncoderFamily {
  const reader = configReader(name, prefix);
  return {
    name,
    architectures: reader.architectures,
    configFromHF: reader.configFromHF,
    // Only the bare model is built with add_pooling_layer=True; the heads drop it (the sequence
    // classifier has its own dense + tanh).
    hasPooler: (cfg, src) => cfg.task === 'none' && src.has(`${robertaPrefix(src)}pooler.dense.weight`),
    bind(b, cfg, pooler) {
      const pre = robertaPrefix(b.src);
      bindBertEncoder(b, cfg, pre);
      const C = cfg.hidden;
      const { ln, linear, decoder } = encoderBinding(b, C);
      if (pooler) linear('pool', `${pre}pooler.dense`, [C, C]);
      if (cfg.task === 'maskedLM') {
        linear('mlm.dense', 'lm_head.dense', [C, C]);
        ln('mlm.norm', 'lm_head.layer_norm');
        // lm_head.decoder.bias is lm_head.bias (HF ties them); files hold either.
        decoder(cfg, `${pre}embeddings.word_embeddings.weight`, 'lm_head.decoder.weight', ['lm_head.bias', 'lm_head.decoder.bias']);
      }
      if (cfg.task === 'sequenceClassification') {
        linear('head.dense', 'classifier.dense', [C, C]);
        linear('head', 'classifier.out_proj', [cfg.numLabels, C]);
      }
      if (cfg.task === 'tokenClassification') linear('head', 'classifier', [cfg.numLabels, C]);
    },
  };
}

export const roberta = robertaFamily('roberta', 'Roberta');
export const xlmRoberta = robertaFamily('xlm-roberta', 'XLMRoberta');
