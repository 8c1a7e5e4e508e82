// Backend selection by name.
export type { Backend, OpArgs, OpName, OutArg, OutputSpec } from './backend.js';
export { OP_NAMES } from './backend.js';
export { ReferenceBackend } from './reference.js';
export { NativeBackend, type NativeBackendOptions } from './native.js';
export { outputSpec } from './ops.js';
