// Errors the scheduler reports: each has a stable `code` a service can switch on.

export class QueueFullError extends Error {
  readonly code = 'ATTNODE_QUEUE_FULL';
  constructor(readonly maxQueue: number) {
    super(`the request queue is full (${maxQueue} waiting); retry later or raise maxQueue`);
    this.name = 'QueueFullError';
  }
}

export class PoolClosedError extends Error {
  readonly code = 'ATTNODE_POOL_CLOSED';
  constructor(message = 'the pool is closed') {
    super(message);
    this.name = 'PoolClosedError';
  }
}

export class WorkerCrashedError extends Error {
  readonly code = 'ATTNODE_WORKER_CRASHED';
  constructor(cause: unknown) {
    super(`the worker running this request stopped: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'WorkerCrashedError';
    (this as Error & { cause?: unknown }).cause = cause;
  }
}

export class RequestTimeoutError extends Error {
  readonly code = 'ATTNODE_TIMEOUT';
  constructor(
    readonly timeoutMs: number,
    /** Text generated before the deadline. */
    readonly partialText: string,
  ) {
    super(`the request did not finish within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}
