// Checks on checkpoint paths before anything reads them: only regular files are opened (a FIFO,
// device or socket would block a read forever), and a mapped file's identity (device, inode,
// size, modification time) is recorded so a file replaced or truncated on disk is noticed.

import { statSync, type Stats } from 'node:fs';

/** A checkpoint file that changed on disk after it was loaded: the model must be reloaded. */
export class ModelFileChangedError extends Error {
  readonly code = 'ATTNODE_MODEL_FILE_CHANGED';
  constructor(
    readonly path: string,
    readonly what: string,
  ) {
    super(`model file '${path}' changed on disk since it was loaded (${what}); reload the model (attnode serve: send SIGHUP)`);
    this.name = 'ModelFileChangedError';
  }
}

/** What identifies one version of a file: a replaced file has a new inode, a rewritten one a new mtime or size. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

function kindOf(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** Throws a RangeError naming `path` unless it is a regular file (following symlinks); `what` names the caller. */
export function checkRegularFile(path: string, what: string): void {
  const s = statSync(path, { throwIfNoEntry: false });
  if (s === undefined) throw new RangeError(`${what}: '${path}' does not exist`);
  if (!s.isFile()) throw new RangeError(`${what}: '${path}' is ${kindOf(s)}, not a regular file; refusing to read it`);
}

/** Throws unless `path` is a directory or a regular file: what a model path may be. */
export function checkModelPath(path: string, what: string): void {
  const s = statSync(path, { throwIfNoEntry: false });
  if (s === undefined) throw new RangeError(`${what}: '${path}' does not exist`);
  if (!s.isFile() && !s.isDirectory()) throw new RangeError(`${what}: '${path}' is ${kindOf(s)}, not a model file or directory; refusing to read it`);
}

export function fileIdentity(path: string): FileIdentity {
  const s = statSync(path);
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

/** How `path` differs now from `was`, or undefined when it is the same file, unchanged. */
export function identityChange(path: string, was: FileIdentity): string | undefined {
  const s = statSync(path, { throwIfNoEntry: false });
  if (s === undefined) return 'it was removed';
  if (s.dev !== was.dev || s.ino !== was.ino) return 'it was replaced by another file';
  if (s.size !== was.size) return `its size went from ${was.size} to ${s.size} bytes`;
  if (s.mtimeMs !== was.mtimeMs) return 'it was rewritten';
  return undefined;
}
