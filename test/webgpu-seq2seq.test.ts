// Encoder-decoders on the WebGPU backend: T5 v1.0 / v1.1, BART, mBART, Marian (shared and separate
// vocabularies) against the same PyTorch goldens as on native (encoder outputs, decoder logits at
// every step single and batched, greedy and beam outputs with scores, run-once counters), with the
// f32 tolerances. Skipped, with the global setup's printed reason, where no adapter exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIX, G, describeGoldens, type Goldens } from './helpers/seq2seq-goldens.js';

const T5 = JSON.parse(readFileSync(join(FIX, 'seq2seq-goldens.json'), 'utf8')) as Goldens;
const SEP = JSON.parse(readFileSync(join(FIX, 'marian-sep-goldens.json'), 'utf8')) as Goldens;

describeGoldens('t5-tiny', 't5', 'webgpu', T5);
describeGoldens('t5v11-tiny', 't5', 'webgpu', T5);
describeGoldens('bart-tiny', 'bart', 'webgpu', G);
describeGoldens('mbart-tiny', 'mbart', 'webgpu', G);
describeGoldens('marian-tiny', 'marian', 'webgpu', G);
describeGoldens('marian-sep-tiny', 'marian', 'webgpu', SEP);
