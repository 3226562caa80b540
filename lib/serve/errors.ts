/**
 * The one place where failures become HTTP responses: every `DeepwaterError`
 * code maps to a status here, a bad query parameter carries the parameter's
 * name, and the body is always `{ code, parameter?, message }` as JSON.
 *
 * @module
 */
import { DeepwaterError, type DeepwaterErrorCode } from "../base/errors.ts";

/** The JSON body of every error response. */
export interface ErrorBody {
  /**
   * A `DeepwaterError` code, or for the request itself `NOT_FOUND` (no such
   * route), `METHOD_NOT_ALLOWED` or `FORBIDDEN_HOST` (a loopback server
   * addressed by another name).
   */
  code: string;
  /** The query parameter (or path part, `feed`) at fault, for a 400. */
  parameter?: string;
  /** What is wrong and what to do. */
  message: string;
}

/** Which parameter each bad-parameter error names (errors are immutable, so a side table). */
const parameterOf = new WeakMap<DeepwaterError, string>();

/**
 * An `INVALID_ARGUMENT` error about one request parameter, answered with 400
 * and `parameter` in the body.
 *
 * @param parameter the query parameter (or `feed` for the name in the path)
 * @param message the sentence-case message naming the value and the fix
 * @returns the error to throw
 * @example
 * ```ts
 * import { badParameter, errorResponse } from "./errors.ts";
 * const res = errorResponse(badParameter("limit", 'Invalid limit "x": give an integer'));
 * console.assert(res.status === 400);
 * ```
 */
export function badParameter(parameter: string, message: string): DeepwaterError {
  const e = new DeepwaterError("INVALID_ARGUMENT", message);
  parameterOf.set(e, parameter);
  return e;
}

/** HTTP status of each error code (the server only reads, so write-side codes are server faults). */
const STATUS: Record<DeepwaterErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_VALUE: 400,
  INVALID_SPEC: 400,
  FEED_NOT_FOUND: 404,
  CLOSED: 503,
  WRITER_LOCKED: 500,
  CONSUMER_LOCKED: 409,
  READ_ONLY: 500,
  SCHEMA_DRIFT: 500,
  VERSION_MISMATCH: 500,
  LIBRARY: 500,
  CORRUPT: 500,
  FULL: 500,
  IO: 500,
};

/**
 * A JSON error response.
 *
 * @param status HTTP status
 * @param body code, parameter and message
 * @param headers extra headers (`Allow` for a 405)
 * @returns the response
 * @example
 * ```ts
 * import { problem } from "./errors.ts";
 * const res = problem(404, { code: "NOT_FOUND", message: 'No route "/x"' });
 * console.assert(res.headers.get("content-type")?.startsWith("application/json"));
 * ```
 */
export function problem(status: number, body: ErrorBody, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

/**
 * The response for anything a handler threw: a `DeepwaterError` gets its
 * code's status and its message; anything else is a 500 that says only that
 * the server failed (the detail goes to `onInternal`, never to the client).
 *
 * @param e what was thrown
 * @param onInternal told about errors that are not `DeepwaterError`s
 * @returns the response
 * @example
 * ```ts
 * import { DeepwaterError } from "../../mod.ts";
 * import { errorResponse } from "./errors.ts";
 * const res = errorResponse(new DeepwaterError("FEED_NOT_FOUND", 'Feed "x" does not exist'));
 * console.assert(res.status === 404);
 * ```
 */
export function errorResponse(e: unknown, onInternal?: (e: unknown) => void): Response {
  if (e instanceof DeepwaterError) {
    const parameter = parameterOf.get(e);
    return problem(STATUS[e.code] ?? 500, {
      code: e.code,
      ...(parameter === undefined ? {} : { parameter }),
      message: e.message,
    });
  }
  onInternal?.(e);
  return problem(500, {
    code: "INTERNAL",
    message: "The server failed to answer: see its log, and report it if it persists",
  });
}
