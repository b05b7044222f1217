// Typed errors: one class per kind of misuse or bad input. The native addon throws plain Errors
// whose `code` names the class; fromNative() turns them into these.

export class PsicError extends Error {
  readonly code: string;
  constructor(message: string, code = 'PsicError') {
    super(message);
    this.name = code;
    this.code = code;
  }
}

/** A .psic container or a file that is truncated, corrupted or of another format. */
export class PsicFormatError extends PsicError {
  constructor(message: string) { super(message, 'PsicFormatError'); }
}

/** The container was made by another model than the one decoding it. */
export class PsicModelMismatchError extends PsicError {
  constructor(message: string) { super(message, 'PsicModelMismatchError'); }
}

/** Dimensions or sizes over the configured limits. */
export class PsicLimitError extends PsicError {
  constructor(message: string) { super(message, 'PsicLimitError'); }
}

/** The input is not an image, or has the wrong type or shape. */
export class PsicInputError extends PsicError {
  constructor(message: string) { super(message, 'PsicInputError'); }
}

/** Missing weights, unknown or missing keys, wrong shapes, unsupported architecture. */
export class PsicWeightsError extends PsicError {
  constructor(message: string) { super(message, 'PsicWeightsError'); }
}

/** An unreadable or unusable key. */
export class PsicKeyError extends PsicError {
  constructor(message: string) { super(message, 'PsicKeyError'); }
}

/**
 * Distributed training: a rank that cannot join the group, a peer that exited or did not answer
 * within distributed.timeoutSeconds, or ranks that disagree on the config or the batches.
 */
export class PsicDistributedError extends PsicError {
  constructor(message: string) { super(message, 'PsicDistributedError'); }
}

/** A device this build or machine lacks: `device: 'cuda'` without a CUDA LibTorch or a GPU. */
export class PsicDeviceError extends PsicError {
  constructor(message: string) { super(message, 'PsicDeviceError'); }
}

/** A config with an unknown field, a wrong type or an out-of-range value; the message names the field. */
export class PsicConfigError extends PsicError {
  constructor(message: string) { super(message, 'PsicConfigError'); }
}

/** A file that cannot be read or written (not a regular file, missing, no permission, disk full); the message names the user's path. */
export class PsicIoError extends PsicError {
  constructor(message: string) { super(message, 'PsicIoError'); }
}

/** Authenticated data that fails its check: a tampered or truncated sealed container. */
export class PsicIntegrityError extends PsicError {
  constructor(message: string) { super(message, 'PsicIntegrityError'); }
}

const byCode: Record<string, new (message: string) => PsicError> = {
  PsicFormatError,
  PsicModelMismatchError,
  PsicLimitError,
  PsicInputError,
  PsicWeightsError,
  PsicKeyError,
  PsicDistributedError,
  PsicDeviceError,
  PsicConfigError,
  PsicIoError,
  PsicIntegrityError,
};

/** Maps an error thrown by the addon to its typed class (other errors pass through). */
export function fromNative(err: unknown): Error {
  if (err instanceof PsicError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string') {
      const Cls = byCode[code];
      if (Cls) return new Cls(err.message);
      if (code === 'PsicError') return new PsicError(err.message);
    }
    return err;
  }
  return new PsicError(String(err));
}

/** Awaits a native promise and rethrows its failure as a typed error. */
export async function nativeCall<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw fromNative(err);
  }
}

/** Runs a synchronous native call and rethrows its failure as a typed error. */
export function nativeCallSync<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw fromNative(err);
  }
}
