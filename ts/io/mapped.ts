// Read-only file mappings made by the addon, and MappedTensor: a tensor's place in a mapping
// (file, byte offset, dtype, shape) that native ops and packWeight read without any copy.
// JS never holds a view of mapped memory: bytes reach JS only through explicit copies (read()).

import { loadAddon } from '../native.js';
import { ModelFileChangedError, checkRegularFile, fileIdentity, identityChange, type FileIdentity } from './files.js';
import { Tensor } from '../tensor/tensor.js';
import { DTYPES, type DType, byteLength } from '../tensor/dtype.js';
import { WEIGHT_FORMATS, isWeightDType } from '../tensor/formats.js';

/** The addon's mapping handle (native/src/addon.cc, MappedFileHandle). */
export interface NativeMappedFile {
  readonly size: number;
  readonly path: string;
  readonly disposed: boolean;
  read(offset: number, length: number): Uint8Array;
  dispose(): void;
}

/** A file mapped read-only (PROT_READ, MAP_PRIVATE). dispose() unmaps once no op uses it. */
export class MappedFile {
  /** @internal the addon's handle, passed to native ops inside mapped tensors */
  readonly handle: NativeMappedFile;
  readonly path: string;
  readonly size: number;
  /** The file as it was mapped; checkUnchanged() compares the file on disk with it. */
  readonly identity: FileIdentity;

  constructor(path: string) {
    if (typeof path !== 'string') throw new TypeError("mapFile: 'path' must be a string");
    checkRegularFile(path, 'mapFile');
    this.identity = fileIdentity(path);
    this.handle = loadAddon().mapFile(path) as NativeMappedFile;
    this.path = path;
    this.size = this.handle.size;
  }

  /**
   * Throws ModelFileChangedError when the file on disk is no longer the one mapped (replaced,
   * truncated, rewritten): pages still read through the mapping would then be other bytes, or fault.
   */
  checkUnchanged(): void {
    const change = identityChange(this.path, this.identity);
    if (change !== undefined) throw new ModelFileChangedError(this.path, change);
  }

  /** A copy of bytes [offset, offset + length); throws a RangeError outside the file. */
  read(offset: number, length: number): Uint8Array {
    return this.handle.read(offset, length);
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }
  dispose(): void {
    this.handle.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** What the addon reads for a mapped tensor (native/src/args.h). */
export interface NativeMappedTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly file: NativeMappedFile;
  readonly byteOffset: number;
}

/**
 * A tensor stored in a mapped file. The native backend hands it to packWeight and ops without
 * copying (when its offset is aligned for its dtype); load() makes a JS copy for everyone else.
 */
export class MappedTensor {
  readonly byteLength: number;
  constructor(
    readonly file: MappedFile,
    readonly byteOffset: number,
    readonly dtype: DType,
    readonly shape: readonly number[],
  ) {
    let n = 1;
    for (const d of shape) n *= d;
    this.byteLength = byteLength(dtype, n);
    if (byteOffset + this.byteLength > file.size)
      throw new RangeError(`tensor [${shape.join(', ')}] ${dtype} at byte ${byteOffset} runs past the end of '${file.path}' (${file.size} bytes)`);
  }

  get rank(): number {
    return this.shape.length;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Whether native code can read it in place: the offset is aligned for the dtype. */
  get aligned(): boolean {
    const unit = isWeightDType(this.dtype) ? WEIGHT_FORMATS[this.dtype].align : DTYPES[this.dtype].array.BYTES_PER_ELEMENT;
    return this.byteOffset % unit === 0;
  }

  /** The descriptor native ops read (no bytes are copied). */
  native(): NativeMappedTensor {
    return { dtype: this.dtype, shape: this.shape, file: this.file.handle, byteOffset: this.byteOffset };
  }

  /** An explicit copy into a JS tensor. */
  load(): Tensor {
    const bytes = this.file.read(this.byteOffset, this.byteLength);
    const Arr = DTYPES[this.dtype].array;
    return Tensor.fromArray(this.dtype, this.shape, new Arr(bytes.buffer, bytes.byteOffset, bytes.byteLength / Arr.BYTES_PER_ELEMENT));
  }
}
