// Reads a SentencePiece `.model` file: the serialized ModelProto of sentencepiece_model.proto,
// parsed by hand (a small proto2 schema). Not tokenization: see spm.ts.
import { TokenizerFormatError } from './json.js';

/** ModelProto.SentencePiece.Type. */
export const SPM_PIECE_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
/** TrainerSpec.ModelType. */
export const SPM_MODEL_TYPE = { unigram: 1, bpe: 2, word: 3, char: 4 } as const;

export interface SpmPiece { piece: string; score: number; type: number }

export interface SpmNormalizerSpec {
  name: string;
  /** Darts-clone trie and replacements (precompiled.ts reads it); empty for the identity rule. */
  charsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SpmTrainerSpec {
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkSurface: string;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
}

export interface SpmModelProto {
  pieces: SpmPiece[];
  trainer: SpmTrainerSpec;
  normalizer: SpmNormalizerSpec;
  /** denormalizer_spec, when the file has one with rules (decoding would apply them). */
  denormalizer: SpmNormalizerSpec | null;
}

// Field numbers (sentencepiece_model.proto).
const MODEL = { pieces: 1, trainerSpec: 2, normalizerSpec: 3, denormalizerSpec: 5 };
const PIECE = { piece: 1, score: 2, type: 3 };
const TRAINER = { modelType: 3, treatWhitespaceAsSuffix: 24, byteFallback: 35, unkId: 40, bosId: 41, eosId: 42, padId: 43, unkSurface: 44 };
const NORMALIZER = { name: 1, charsmap: 2, addDummyPrefix: 3, removeExtraWhitespaces: 4, escapeWhitespaces: 5 };

const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** One field of a message: its number, wire type, and value (varint as a number, or bytes). */
interface Field { num: number; wire: number; int: number; bytes: Uint8Array; at: number }

/** Iterates the fields of one message, checking every length against the bytes that hold it. */
function* fields(b: Uint8Array, path: string): Generator<Field> {
  let i = 0;
  while (i < b.length) {
    const at = i;
    const [key, k] = varint(b, i, path);
    i = k;
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (num === 0) throw new TokenizerFormatError(path, `field number 0 at byte ${at} (not a SentencePiece model)`);
    if (wire === WIRE.varint) {
      const [v, j] = varint(b, i, path);
      i = j;
      yield { num, wire, int: v, bytes: b.subarray(0, 0), at };
    } else if (wire === WIRE.bytes) {
      const [n, j] = varint(b, i, path);
      if (n > b.length - j) throw new TokenizerFormatError(path, `field ${num} at byte ${at} claims ${n} bytes, only ${b.length - j} remain (truncated or not a SentencePiece model)`);
      i = j + n;
      yield { num, wire, int: 0, bytes: b.subarray(j, j + n), at };
    } else if (wire === WIRE.fixed32 || wire === WIRE.fixed64) {
      const n = wire === WIRE.fixed32 ? 4 : 8;
      if (n > b.length - i) throw new TokenizerFormatError(path, `field ${num} at byte ${at} is cut off (truncated file)`);
      yield { num, wire, int: 0, bytes: b.subarray(i, i + n), at };
      i += n;
    } else {
      throw new TokenizerFormatError(path, `wire type ${wire} at byte ${at} is not valid here (not a SentencePiece model)`);
    }
  }
}

/** A base-128 varint at `i`: value (exact below 2^53; enough for every field read here) and next index. */
function varint(b: Uint8Array, i: number, path: string): [number, number] {
  let v = 0;
  let scale = 1;
  for (let n = 0; n < 10; n++) {
    if (i >= b.length) throw new TokenizerFormatError(path, 'a varint runs past the end (truncated file)');
    const c = b[i++]!;
    v += (c & 0x7f) * scale;
    if (c < 0x80) return [v, i];
    scale *= 128;
  }
  throw new TokenizerFormatError(path, `a varint at byte ${i - 10} is longer than 10 bytes (not a SentencePiece model)`);
}

function expectWire(f: Field, wire: number, path: string, what: string): void {
  if (f.wire !== wire) throw new TokenizerFormatError(path, `${what} (field ${f.num}) has wire type ${f.wire}, expected ${wire}`);
}

function text(f: Field, path: string): string {
  expectWire(f, WIRE.bytes, path, 'string');
  try {
    return strict.decode(f.bytes);
  } catch {
    throw new TokenizerFormatError(path, 'is not valid UTF-8');
  }
}

/** int32 fields are varints of the 64-bit two's complement (-1 is ten bytes). */
function int32(f: Field, path: string): number {
  expectWire(f, WIRE.varint, path, 'integer');
  return f.int >= 2 ** 31 ? f.int - 2 ** 64 : f.int;
}

function bool(f: Field, path: string): boolean {
  expectWire(f, WIRE.varint, path, 'boolean');
  return f.int !== 0;
}

function readPiece(b: Uint8Array, path: string): SpmPiece {
  const p: SpmPiece = { piece: '', score: 0, type: SPM_PIECE_TYPE.normal };
  let hasPiece = false;
  for (const f of fields(b, path)) {
    if (f.num === PIECE.piece) { p.piece = text(f, `${path}.piece`); hasPiece = true; } else if (f.num === PIECE.score) {
      expectWire(f, WIRE.fixed32, `${path}.score`, 'float');
      p.score = new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
    } else if (f.num === PIECE.type) p.type = int32(f, `${path}.type`);
  }
  if (!hasPiece || p.piece.length === 0) throw new TokenizerFormatError(`${path}.piece`, 'missing or empty (a piece must not be empty)');
  if (p.type < 1 || p.type > 6) throw new TokenizerFormatError(`${path}.type`, `${p.type} is not a piece type (1..6)`);
  if (!Number.isFinite(p.score)) throw new TokenizerFormatError(`${path}.score`, `${p.score} is not finite`);
  return p;
}

function readTrainer(b: Uint8Array | null, path: string): SpmTrainerSpec {
  const t: SpmTrainerSpec = { modelType: SPM_MODEL_TYPE.unigram, byteFallback: false, treatWhitespaceAsSuffix: false, unkSurface: ' \u2047 ', unkId: 0, bosId: 1, eosId: 2, padId: -1 };
  if (b === null) return t;
  for (const f of fields(b, path)) {
    switch (f.num) {
      case TRAINER.modelType: t.modelType = int32(f, `${path}.model_type`); break;
      case TRAINER.treatWhitespaceAsSuffix: t.treatWhitespaceAsSuffix = bool(f, `${path}.treat_whitespace_as_suffix`); break;
      case TRAINER.byteFallback: t.byteFallback = bool(f, `${path}.byte_fallback`); break;
      case TRAINER.unkId: t.unkId = int32(f, `${path}.unk_id`); break;
      case TRAINER.bosId: t.bosId = int32(f, `${path}.bos_id`); break;
      case TRAINER.eosId: t.eosId = int32(f, `${path}.eos_id`); break;
      case TRAINER.padId: t.padId = int32(f, `${path}.pad_id`); break;
      case TRAINER.unkSurface: t.unkSurface = text(f, `${path}.unk_surface`); break;
      default: break;
    }
  }
  return t;
}

function readNormalizer(b: Uint8Array | null, path: string): SpmNormalizerSpec {
  const n: SpmNormalizerSpec = { name: '', charsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  if (b === null) return n;
  for (const f of fields(b, path)) {
    switch (f.num) {
      case NORMALIZER.name: n.name = text(f, `${path}.name`); break;
      case NORMALIZER.charsmap: expectWire(f, WIRE.bytes, `${path}.precompiled_charsmap`, 'bytes'); n.charsmap = f.bytes.slice(); break;
      case NORMALIZER.addDummyPrefix: n.addDummyPrefix = bool(f, `${path}.add_dummy_prefix`); break;
      case NORMALIZER.removeExtraWhitespaces: n.removeExtraWhitespaces = bool(f, `${path}.remove_extra_whitespaces`); break;
      case NORMALIZER.escapeWhitespaces: n.escapeWhitespaces = bool(f, `${path}.escape_whitespaces`); break;
      default: break;
    }
  }
  return n;
}

/**
 * Parses the bytes of a `.model` file. `path` names the file in errors. Unknown fields are
 * skipped, as protobuf readers do; a file with no pieces, or whose bytes are not a protobuf
 * message, is refused.
 */
export function parseSentencePieceModel(bytes: Uint8Array, path = 'sentencepiece model'): SpmModelProto {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${path}: expected the file's bytes (a Uint8Array)`);
  const pieces: SpmPiece[] = [];
  let trainer: Uint8Array | null = null;
  let normalizer: Uint8Array | null = null;
  let denormalizer: Uint8Array | null = null;
  for (const f of fields(bytes, path)) {
    const sub = (what: string): Uint8Array => { expectWire(f, WIRE.bytes, `${path}: ${what}`, 'message'); return f.bytes; };
    if (f.num === MODEL.pieces) pieces.push(readPiece(sub('pieces'), `${path}: pieces[${pieces.length}]`));
    else if (f.num === MODEL.trainerSpec) trainer = sub('trainer_spec');
    else if (f.num === MODEL.normalizerSpec) normalizer = sub('normalizer_spec');
    else if (f.num === MODEL.denormalizerSpec) denormalizer = sub('denormalizer_spec');
  }
  if (pieces.length === 0) throw new TokenizerFormatError(path, 'has no pieces (not a SentencePiece model)');
  const den = denormalizer === null ? null : readNormalizer(denormalizer, `${path}: denormalizer_spec`);
  return {
    pieces,
    trainer: readTrainer(trainer, `${path}: trainer_spec`),
    normalizer: readNormalizer(normalizer, `${path}: normalizer_spec`),
    denormalizer: den !== null && den.charsmap.length > 0 ? den : null,
  };
}
