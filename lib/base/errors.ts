/**
 * The one error type Deepwater throws, with a stable machine-readable code.
 *
 * @module
 */

/** Stable error codes carried by {@linkcode DeepwaterError}. */
export type DeepwaterErrorCode =
  | "INVALID_SPEC"
  | "INVALID_VALUE"
  | "INVALID_ARGUMENT"
  | "FEED_NOT_FOUND"
  | "SCHEMA_DRIFT"
  | "WRITER_LOCKED"
  | "CONSUMER_LOCKED"
  | "VERSION_MISMATCH"
  | "LIBRARY"
  | "CLOSED"
  | "CORRUPT"
  | "FULL"
  | "READ_ONLY"
  | "IO";

/**
 * Every failure Deepwater reports: a stable `code`, a sentence-case message
 * naming the file or field involved and what to do, and optionally the path.
 *
 * @example
 * ```ts
 * import { DeepwaterError } from "../../mod.ts";
 * const e = new DeepwaterError("INVALID_SPEC", 'Invalid feed spec: key "mode" must be "UF"');
 * console.assert(e.code === "INVALID_SPEC" && e instanceof Error);
 * ```
 */
export class DeepwaterError extends Error {
  /** Stable code for programmatic handling. */
  readonly code: DeepwaterErrorCode;
  /** File or object path involved, when there is one. */
  readonly path: string | undefined;
  /** Negative errno (or libdeepwater status) behind an `IO` error, when there is one. */
  readonly errno: number | undefined;

  /**
   * Create an error.
   *
   * @param code stable error code
   * @param message human-readable message: what failed, on what, and the fix
   * @param options `path` involved, `errno` behind it, and an underlying `cause`
   */
  constructor(
    code: DeepwaterErrorCode,
    message: string,
    options: { path?: string; cause?: unknown; errno?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeepwaterError";
    this.code = code;
    this.path = options.path;
    this.errno = options.errno;
  }
}

/** Why handles were closed on their user's behalf (by their Platform), for their CLOSED errors. */
const closedBecause = new WeakMap<object, string>();

/**
 * Record why `handle` is being closed by someone other than its user (its
 * Platform closing), so a later use is told why and what to do.
 *
 * @param handle a writer or reader
 * @param why the sentence after "is closed:"
 */
export function closeReason(handle: object, why: string): void {
  closedBecause.set(handle, why);
}

/**
 * The error every closed handle throws.
 *
 * @param what the handle, for the message ("Writer for \"trades\"")
 * @param handle the handle itself: says why when its Platform closed it
 * @returns the `CLOSED` error
 */
export function closedError(what: string, handle?: object): DeepwaterError {
  const why = handle === undefined ? undefined : closedBecause.get(handle);
  return new DeepwaterError(
    "CLOSED",
    `${what} is closed: ${why ?? "create a new one to continue"}`,
  );
}
