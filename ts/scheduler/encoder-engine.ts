// The scheduler engine for an encoder checkpoint: one Encoder (model + tokenizer) per worker,
// tokenizing requests here (never on the main thread) and running their sequences through the
// worker's EncoderBatcher, then pooling / scoring as Encoder.embed, rerank and classify do.
// Not the batching itself (encoder-batcher.ts) nor generation (model-engine.ts).

import { Encoder } from '../encoder/encoder.js';
import type { ClassifyFunction, LabelScore, RerankResult } from '../encoder/encoder.js';
import { normalizeL2, poolTokens, sigmoid, softmax } from '../encoder/math.js';
import { checkBackendName } from '../backend/backends.js';
import type { WeightDType } from '../models/weights.js';
import type { EncoderOutput } from '../models/encoder.js';
import { loadAddon, setThreads } from '../native.js';
import type { Engine, EncoderEngineRequest } from './engine.js';
import { EncoderBatcher, type PackedSequence } from './encoder-batcher.js';
import { RequestAbortedError, wrongKindMessage, type EncoderTaskName, type EncoderWire, type EncoderWireResult, type ModelInfo } from './encoder-requests.js';
import type { WireResult, WorkerConfig } from './protocol.js';

const kWorkerNiceStep = 4;
/** Texts one packed pass holds (loadEncoder's maxBatch default). */
const kEncoderPassSequences = 16;

/** A text (or pair) as the model takes it, at most `max` tokens: cut longest_first when `truncate`, else a RangeError naming it. */
function tokenize(enc: Encoder, where: string, name: string, text: string, pair: string | undefined, max: number, truncate: boolean): PackedSequence {
  const e = enc.tokenizer.encodeWithOffsets(text, {
    ...(pair === undefined ? {} : { pair }), ...(truncate ? { truncation: { maxLength: max, strategy: 'longest_first' as const } } : {}),
  });
  if (e.ids.length > max) throw new RangeError(`${where}: '${name}' has ${e.ids.length} tokens, more than the ${max} the model takes; shorten it or pass truncate`);
  // As Encoder: a model with one token type (RoBERTa, XLM-R) or none takes all zeros, whatever the post-processor says.
  const typed = enc.model.config.typeVocabSize > 1;
  return { ids: e.ids, typeIds: typed ? e.typeIds : new Array<number>(e.ids.length).fill(0) };
}

/** Token ids given by the caller, used as they are (checked against the vocabulary and the length). */
function given(enc: Encoder, where: string, name: string, ids: readonly number[], max: number, truncate: boolean): PackedSequence {
  const V = enc.model.config.vocabSize;
  const bad = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < V));
  if (bad >= 0) throw new RangeError(`${where}: '${name}[${bad}]' = ${ids[bad]} is outside the vocabulary [0, ${V})`);
  if (ids.length > max && !truncate) throw new RangeError(`${where}: '${name}' has ${ids.length} tokens, more than the ${max} the model takes; shorten it or pass truncate`);
  const cut = ids.slice(0, max);
  return { ids: cut, typeIds: new Array<number>(cut.length).fill(0) };
}

function tokens(seqs: readonly PackedSequence[]): number {
  return seqs.reduce((n, s) => n + s.ids.length, 0);
}

/** Each task: tokenize (throws before anything runs), then finish the model's outputs. */
interface Prepared {
  seqs: PackedSequence[];
  finish(outs: EncoderOutput[]): EncoderWireResult;
}

/** Each task's preparer, given its own kind of request. */
type Preparers = { readonly [K in EncoderTaskName]: (enc: Encoder, w: Extract<EncoderWire, { task: K }>) => Prepared };

function needsCrossEncoder(enc: Encoder, where: string, what: string): void {
  const c = enc.model.config;
  if (c.task !== 'sequenceClassification')
    throw new TypeError(`${where}: this model is a ${c.hfArchitecture}, which has no sequence classification head; ${where} needs ${what} (…ForSequenceClassification)`);
}

const PREPARE: Preparers = {
  embed(enc, w) {
    const where = 'embed';
    if (w.pooling === undefined && enc.sentence.unsupported !== undefined) throw new RangeError(`${where}: ${enc.sentence.unsupported}; pass 'pooling' to choose one yourself`);
    const modes = w.pooling === undefined ? enc.sentence.pooling : [w.pooling];
    const normalize = w.normalize ?? enc.sentence.normalize;
    // As Encoder.embed: sentence_bert_config.json's max_seq_length caps the length too.
    const max = Math.min(enc.maxLength, enc.sentence.maxSeqLength ?? Infinity);
    const seqs = w.inputs.map((x, i) => (typeof x === 'string' ? tokenize(enc, where, `texts[${i}]`, x, undefined, max, w.truncate) : given(enc, where, `texts[${i}]`, x, max, w.truncate)));
    const H = enc.model.config.hidden;
    return {
      seqs,
      finish: (outs) => ({
        embeddings: outs.map((o, i) => {
          const v = poolTokens(o.lastHiddenState, seqs[i]!.ids.length, H, modes);
          return normalize ? normalizeL2(v) : v;
        }),
        promptTokens: tokens(seqs),
      }),
    };
  },
  rerank(enc, w) {
    const where = 'rerank';
    needsCrossEncoder(enc, where, 'a cross-encoder');
    const seqs = w.documents.map((d, i) => tokenize(enc, where, `documents[${i}]`, w.query, d, enc.maxLength, w.truncate));
    return {
      seqs,
      finish: (outs) => {
        const results: RerankResult[] = outs.map((o, index) => {
          const l = o.logits!;
          const r: RerankResult = { index, score: l.length === 1 ? l[0]! : softmax(l)[1]! };
          if (w.returnDocuments) r.document = w.documents[index]!;
          return r;
        });
        // Stable, as Encoder.rerank: equal scores keep the documents' order.
        results.sort((a, b) => b.score - a.score || a.index - b.index);
        return { results: results.slice(0, w.topN ?? results.length), promptTokens: tokens(seqs) };
      },
    };
  },
  classify(enc, w) {
    const where = 'classify';
    needsCrossEncoder(enc, where, 'a sequence classification model');
    const { numLabels, problemType, id2label } = enc.model.config;
    const fn: ClassifyFunction = w.functionToApply ?? (problemType === 'multi_label_classification' || numLabels === 1 ? 'sigmoid' : 'softmax');
    const seqs = w.inputs.map((t, i) => tokenize(enc, where, `texts[${i}]`, t, undefined, enc.maxLength, w.truncate));
    return {
      seqs,
      finish: (outs) => ({
        labels: outs.map((o) => {
          const l = o.logits!;
          const s = fn === 'softmax' ? softmax(l) : fn === 'sigmoid' ? Array.from(l, sigmoid) : Array.from(l);
          const r: LabelScore[] = s.map((score, i) => ({ label: id2label?.[i] ?? `LABEL_${i}`, score }));
          r.sort((a, b) => b.score - a.score);
          return r.slice(0, w.topK ?? r.length);
        }),
        promptTokens: tokens(seqs),
      }),
    };
  },
};

function infoOf(enc: Encoder): ModelInfo {
  const c = enc.model.config;
  const width = enc.sentence.unsupported === undefined ? enc.sentence.pooling.length : 1;
  return {
    kind: 'encoder', architecture: c.hfArchitecture, maxLength: enc.maxLength, dimensions: c.hidden * width,
    tasks: c.task === 'sequenceClassification' ? ['embed', 'rerank', 'classify'] : ['embed'],
  };
}

export async function createEngine(config: WorkerConfig): Promise<Engine> {
  loadAddon().lowerThreadPriority(kWorkerNiceStep);
  setThreads(config.threads);
  if (config.model === undefined) throw new TypeError("encoder engine: 'model' (a checkpoint directory) is required");
  if (config.kvDtype !== undefined) throw new TypeError(`createPool: 'kvDtype' sets a decoder's KV cache; ${config.model} is an encoder, which has none`);
  // A pass holds up to the encoder's 16 sequences, so its token budget must hold one token each.
  if (config.maxBatchTokens !== undefined && config.maxBatchTokens < kEncoderPassSequences)
    throw new RangeError(`createPool: 'maxBatchTokens' for an encoder must be at least ${kEncoderPassSequences} (one token for each of the ${kEncoderPassSequences} texts a pass holds), got ${config.maxBatchTokens}`);
  const backend = checkBackendName(config.backend ?? 'native', 'engine');
  const enc = await Encoder.load(config.model, {
    backend, threads: config.threads, maxBatch: kEncoderPassSequences,
    ...(config.dtype ? { dtype: config.dtype as WeightDType } : {}),
    ...(config.maxBatchTokens !== undefined ? { maxTokens: config.maxBatchTokens } : {}),
  });
  const batcher = new EncoderBatcher(enc.model, { batching: config.batching ?? true, maxTokens: enc.model.maxTokens });
  const info = infoOf(enc);
  return {
    kind: 'encoder',
    info: () => info,
    generate(): Promise<WireResult> {
      return Promise.reject(new TypeError(wrongKindMessage('generate', 'encoder', info.architecture)));
    },
    async encode(req: EncoderEngineRequest): Promise<EncoderWireResult> {
      // The table's key is the request's own task, so each preparer gets its kind of request.
      const prepare = PREPARE[req.task.task] as (enc: Encoder, w: EncoderWire) => Prepared;
      const prepared = prepare(enc, req.task);
      const outs = await batcher.run(prepared.seqs, req.signal, () => new RequestAbortedError(`${req.task.task} request`));
      return prepared.finish(outs);
    },
    batchStats: () => batcher.batchStats(),
    async dispose() {
      await batcher.close();
      enc.dispose();
    },
  };
}
