// Hugging Face config.json and generation_config.json: parsed, checked to be objects, and kept
// as plain records (each model file reads and validates the fields it needs).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkRegularFile } from './files.js';

export type HFConfig = Record<string, unknown> & { model_type?: string; architectures?: string[] };
export type GenerationConfig = Record<string, unknown> & { eos_token_id?: number | number[]; bos_token_id?: number };

/** Files above this size are not configs; refuse before reading. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

function readJson(path: string): Record<string, unknown> {
  checkRegularFile(path, 'config');
  if (statSync(path).size > MAX_CONFIG_BYTES) throw new RangeError(`'${path}' is larger than ${MAX_CONFIG_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RangeError(`'${path}' is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new RangeError(`'${path}' must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** Reads dir/config.json (required) and dir/generation_config.json (optional). */
export function readConfig(dir: string): { config: HFConfig; generation?: GenerationConfig } {
  const cp = join(dir, 'config.json');
  if (!existsSync(cp)) throw new RangeError(`no config.json in '${dir}'`);
  const config = readJson(cp) as HFConfig;
  const gp = join(dir, 'generation_config.json');
  return existsSync(gp) ? { config, generation: readJson(gp) as GenerationConfig } : { config };
}
