/**
 * Every failure a user can meet carries a code and one sentence that says what happened and
 * what to do. The CLI prints `message`; the editor shows it with "Show Log"; the stack and any
 * `detail` (build output, container log lines) go to the log.
 */
export type ErrorCode =
  | 'ConfigNotFound'
  | 'ConfigInvalid'
  | 'UnknownServer'
  | 'Unreachable'
  | 'AuthFailed'
  | 'PassphraseNeeded'
  | 'HostKeyUnknown'
  | 'HostKeyChanged'
  | 'HostKeyRevoked'
  | 'NoDocker'
  | 'DockerPermissionDenied'
  | 'NotARepository'
  | 'CommitNotFound'
  | 'DirtyTree'
  | 'DockerfileMissing'
  | 'BuildFailed'
  | 'BuildSecretsUnsupported'
  | 'BuilderUnsupported'
  | 'PlatformMismatch'
  | 'ProxyImageMissing'
  | 'ProxyConfigRefused'
  | 'HostTaken'
  | 'ReleaseFailed'
  | 'LocalDockerUnavailable'
  | 'StatsUnavailable'
  | 'TransferFailed'
  | 'DiskFull'
  | 'PortTaken'
  | 'StartFailed'
  | 'HealthCheckFailed'
  | 'LockHeld'
  | 'NothingToRollBack'
  | 'ImagePruned'
  | 'NotASwarm'
  | 'SwarmUpdateFailed'
  | 'SecretMissing'
  | 'SecretsNotAgreed'
  | 'Cancelled'
  | 'ConnectionLost'
  | 'EngineLost'
  | 'NotRunning'
  | 'CommandNotFound'
  | 'InvalidCommand'
  | 'Internal';

export class BmError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Longer material for the log and the CLI's stderr: build output, container logs. */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BmError';
  }
}

export function isBmError(e: unknown, code?: ErrorCode): e is BmError {
  return e instanceof BmError && (code === undefined || e.code === code);
}

/** Turns anything thrown into a BmError without losing the original as `cause`. */
export function asBmError(e: unknown): BmError {
  if (e instanceof BmError) return e;
  if (isAbortError(e)) return new BmError('Cancelled', 'Cancelled; nothing was changed on the server.', undefined, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new BmError('Internal', message, undefined, { cause: e });
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as { code?: string }).code === 'ABORT_ERR');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BmError('Cancelled', 'Cancelled; nothing was changed on the server.');
}

/** What a failed operation reports: Cancelled when the user aborted it, whatever the aborted stream threw ("aborted", EPIPE…). */
export function failureOf(e: unknown, signal: AbortSignal | undefined): BmError {
  if (signal?.aborted && !isBmError(e, 'Cancelled')) return new BmError('Cancelled', 'Cancelled; the previous version keeps serving.', undefined, { cause: e });
  return asBmError(e);
}
