// safetensors reader: single files and sharded checkpoints (model.safetensors.index.json).
// The header is validated before any tensor byte is touched; tensors stay in the mapping.
// Format: https://github.com/huggingface/safetensors (8-byte LE header size, JSON, raw data).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DType } from '../tensor/dtype.js';
import { WEIGHT_DTYPES, WEIGHT_FORMATS } from '../tensor/formats.js';
import { MappedFile, MappedTensor } from './mapped.js';

/** Every dtype the format names, with its element size in bits. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, I16: 16, U16: 16, F16: 16, BF16: 16,
  I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, F6_E2M3: 6, F6_E3M2: 6, F4: 4,
};

/** The file dtypes attnode tensors hold as they are: the weight formats that have a safetensors name, and integers. */
const TO_DTYPE: Readonly<Record<string, DType>> = {
  ...Object.fromEntries(WEIGHT_DTYPES.flatMap((d) => (WEIGHT_FORMATS[d].safetensors ? [[WEIGHT_FORMATS[d].safetensors, d]] : []))),
  I8: 'i8',
  I32: 'i32',
};

/** A header larger than this is refused before it is read (real headers are well below 1 MB). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  readonly name: string;
  /** The file's dtype name ('F32', 'BF16', ...). */
  readonly fileDtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offset in the file, and length. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

function bad(path: string, msg: string): never {
  throw new RangeError(`safetensors '${path}': ${msg}`);
}

/** One mapped .safetensors file. */
export class SafetensorsFile {
  readonly file: MappedFile;
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;

  constructor(path: string) {
    this.file = new MappedFile(path);
    try {
      const parsed = parseHeader(this.file);
      this.metadata = parsed.metadata;
      this.entries = parsed.entries;
    } catch (e) {
      this.file.dispose();
      throw e;
    }
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** The tensor as a mapped view; a clear error for dtypes attnode tensors do not hold. */
  tensor(name: string): MappedTensor {
    const e = this.entries.get(name);
    if (!e) throw new RangeError(`safetensors '${this.file.path}': no tensor named '${name}'`);
    const dtype = TO_DTYPE[e.fileDtype];
    if (!dtype)
      throw new TypeError(`safetensors '${this.file.path}': tensor '${name}' has dtype ${e.fileDtype}, which attnode does not load; supported: ${Object.keys(TO_DTYPE).join(', ')}`);
    return new MappedTensor(this.file, e.byteOffset, dtype, e.shape);
  }

  dispose(): void {
    this.file.dispose();
  }
}

function parseHeader(file: MappedFile): { metadata: Record<string, string>; entries: Map<string, SafetensorsEntry> } {
  const path = file.path;
  if (file.size < 8) bad(path, `file has ${file.size} bytes, fewer than the 8-byte header size`);
  const sizeBytes = file.read(0, 8);
  const headerSize = new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerSize > BigInt(file.size - 8)) bad(path, `header size ${headerSize} exceeds the ${file.size - 8} bytes after it`);
  if (headerSize > BigInt(MAX_SAFETENSORS_HEADER)) bad(path, `header size ${headerSize} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit`);
  const n = Number(headerSize);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file.read(8, n));
  } catch {
    bad(path, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    bad(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad(path, 'header must be a JSON object');
  const dataStart = 8 + n;
  const dataSize = file.size - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad(path, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(path, `__metadata__['${k}'] must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad(path, `tensor '${name}' must be an object`);
    const { dtype, shape, data_offsets: offs } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPES, dtype))
      bad(path, `tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}; the format names ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`);
    if (!Array.isArray(shape) || shape.length > 16) bad(path, `tensor '${name}' shape must be an array of at most 16 integers`);
    let numel = 1;
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) bad(path, `tensor '${name}' shape ${JSON.stringify(shape)} must hold non-negative integers`);
      numel *= d;
      if (numel > dataSize * 8) bad(path, `tensor '${name}' shape ${JSON.stringify(shape)} has more elements than the file has bits`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0))
      bad(path, `tensor '${name}' data_offsets must be two non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataSize) bad(path, `tensor '${name}' data_offsets [${begin}, ${end}] lie outside the ${dataSize} data bytes`);
    const bits = numel * SAFETENSORS_DTYPES[dtype]!;
    if (bits % 8 !== 0 || end - begin !== bits / 8)
      bad(path, `tensor '${name}' has ${end - begin} bytes but shape ${JSON.stringify(shape)} ${dtype} needs ${bits / 8}`);
    entries.set(name, { name, fileDtype: dtype, shape: [...(shape as number[])], byteOffset: dataStart + begin, byteLength: end - begin });
  }
  const sorted = [...entries.values()].filter((e) => e.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.byteOffset + a.byteLength > b.byteOffset) bad(path, `tensors '${a.name}' and '${b.name}' overlap`);
  }
  return { metadata, entries };
}

/**
 * A checkpoint directory's tensors: model.safetensors, or the shards listed by
 * model.safetensors.index.json ({ weight_map: { name: shardFile } }).
 */
export class SafetensorsCheckpoint {
  private readonly shards: SafetensorsFile[] = [];
  private readonly where = new Map<string, SafetensorsFile>();

  constructor(pathOrDir: string) {
    try {
      const index = join(pathOrDir, 'model.safetensors.index.json');
      if (pathOrDir.endsWith('.safetensors')) this.add(new SafetensorsFile(pathOrDir));
      else if (existsSync(index)) this.loadIndex(index);
      else this.add(new SafetensorsFile(join(pathOrDir, 'model.safetensors')));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private add(f: SafetensorsFile): void {
    this.shards.push(f);
    for (const name of f.names) {
      if (this.where.has(name)) throw new RangeError(`safetensors: tensor '${name}' appears in two shards`);
      this.where.set(name, f);
    }
  }

  private loadIndex(index: string): void {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(index, 'utf8'));
    } catch (e) {
      throw new RangeError(`safetensors index '${index}' is not valid JSON (${(e as Error).message})`);
    }
    const map = (json as { weight_map?: unknown } | null)?.weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new RangeError(`safetensors index '${index}' has no weight_map object`);
    const files = new Set<string>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.'))
        throw new RangeError(`safetensors index '${index}': weight_map['${name}'] must be a file name in the same directory`);
      files.add(file);
    }
    for (const file of [...files].sort()) this.add(new SafetensorsFile(join(dirname(index), file)));
    for (const [name, file] of Object.entries(map as Record<string, string>)) {
      const f = this.where.get(name);
      if (!f || !f.file.path.endsWith(file)) throw new RangeError(`safetensors index '${index}': tensor '${name}' is not in shard '${file}'`);
    }
  }

  get names(): string[] {
    return [...this.where.keys()];
  }
  has(name: string): boolean {
    return this.where.has(name);
  }
  entry(name: string): SafetensorsEntry | undefined {
    return this.where.get(name)?.entries.get(name);
  }
  tensor(name: string): MappedTensor {
    const f = this.where.get(name);
    if (!f) throw new RangeError(`safetensors: no tensor named '${name}'`);
    return f.tensor(name);
  }
  /** Throws ModelFileChangedError when a shard changed on disk since it was mapped. */
  checkUnchanged(): void {
    for (const s of this.shards) s.file.checkUnchanged();
  }

  dispose(): void {
    for (const s of this.shards) s.dispose();
  }
}
