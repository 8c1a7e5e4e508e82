// A backend that forwards run() and packWeight() to another and has no runBatch, so the graph
// executor runs a pass op by op on it: the reference path that runBatch is compared with (tests)
// and timed against (bench/webgpu/measure.ts).

import type { Backend, OpArgs, OpName, OutArg } from '../../ts/backend/backend.js';

export function opByOp(b: Backend): Backend {
  return {
    name: `${b.name}-op-by-op`,
    ops: b.ops,
    run: <K extends OpName>(op: K, args: OpArgs[K] & OutArg) => b.run(op, args),
    packWeight: (w, o) => b.packWeight(w, o),
    dispose: () => undefined,
  };
}
