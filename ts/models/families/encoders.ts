// The encoder-family table: which encoder family a config.json's model_type names. Not a family
// itself (bert.ts, roberta.ts, distilbert.ts) nor the loader (../encoder.ts).

import type { EncoderFamily } from '../encoder-graph.js';
import { bert } from './bert.js';
import { distilbert } from './distilbert.js';
import type { EncoderArchitecture } from './encoder-config.js';
import { roberta, xlmRoberta } from './roberta.js';

/** Every encoder family, by its config.json model_type. */
export const ENCODER_FAMILIES: Readonly<Record<EncoderArchitecture, EncoderFamily>> = { bert, roberta, 'xlm-roberta': xlmRoberta, distilbert };

/** HF model_type values loadEncoder builds. */
export const ENCODER_MODEL_TYPES: readonly string[] = Object.keys(ENCODER_FAMILIES);

/** The family a config.json's model_type names, or undefined. */
export function encoderFamilyOf(cfg: Record<string, unknown>): EncoderFamily | undefined {
  const t = cfg.model_type;
  return typeof t === 'string' && Object.hasOwn(ENCODER_FAMILIES, t) ? ENCODER_FAMILIES[t as EncoderArchitecture] : undefined;
}
