/**
 * Query and path parameters of the HTTP API, validated strictly: an unknown
 * parameter, a repeated one, or a value that does not parse is a
 * bad-parameter error naming it (400), never a guess.
 *
 * @module
 */
import { validateFeedName } from "../schema/spec.ts";
import { DeepwaterError } from "../base/errors.ts";
import { badParameter } from "./errors.ts";

/** Largest timestamp a `uint64` time column holds. */
const MAX_TS = (1n << 64n) - 1n;

/**
 * The query parameters of a request, each at most once, and only those
 * `allowed`.
 *
 * @param url the request URL
 * @param allowed the parameter names this endpoint takes
 * @returns each given parameter's value
 * @example
 * ```ts
 * import { queryOf } from "./params.ts";
 * const q = queryOf(new URL("http://h/x?limit=5"), ["limit", "start"]);
 * console.assert(q.get("limit") === "5" && !q.has("start"));
 * ```
 */
export function queryOf(url: URL, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) {
      throw badParameter(
        k,
        `Unknown query parameter "${k}": this endpoint takes ${
          allowed.length ? allowed.map((a) => `"${a}"`).join(", ") : "none"
        }`,
      );
    }
    if (out.has(k)) throw badParameter(k, `Query parameter "${k}" is given twice: give it once`);
    out.set(k, v);
  }
  return out;
}

/**
 * A feed name taken from the path: percent-decoded, then held to the feed
 * name rules (no separators, no `..`, no NUL), so it can never name a path
 * outside the data directory.
 *
 * @param segment the raw path segment
 * @returns the feed name
 * @example
 * ```ts
 * import { feedParam } from "./params.ts";
 * console.assert(feedParam("trades") === "trades");
 * let refused = false;
 * try {
 *   feedParam("..%2Fetc");
 * } catch {
 *   refused = true;
 * }
 * console.assert(refused);
 * ```
 */
export function feedParam(segment: string): string {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw badParameter("feed", `Invalid feed name "${segment}": it is not valid percent-encoding`);
  }
  try {
    return validateFeedName(name, "feed");
  } catch (e) {
    if (!(e instanceof DeepwaterError)) throw e;
    // validateFeedName speaks of a spec key; here the name came in a URL path.
    throw badParameter(
      "feed",
      `Invalid feed name ${
        JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name)
      } in the path: a feed name has letters, digits, ".", "_" and "-", starts with a letter or digit, and has no "..": check it with GET /api/feeds`,
    );
  }
}

/**
 * A time parameter: integer microseconds since the epoch (exact up to
 * 2^64 - 1; a BigInt beyond 2^53) or an ISO-8601 date-time.
 *
 * @param name the parameter's name, for the message
 * @param v its value, or undefined when absent
 * @returns microseconds, or undefined when absent
 * @example
 * ```ts
 * import { timeParam } from "./params.ts";
 * console.assert(timeParam("start", "1700000000000000") === 1_700_000_000_000_000);
 * console.assert(timeParam("start", "1970-01-01T00:00:01Z") === 1_000_000);
 * console.assert(timeParam("end", "18446744073709551615") === 18446744073709551615n);
 * ```
 */
export function timeParam(name: string, v: string | undefined): number | bigint | undefined {
  if (v === undefined) return undefined;
  if (/^\d{1,20}$/.test(v)) {
    const n = BigInt(v);
    if (n > MAX_TS) {
      throw badParameter(name, `Invalid ${name} "${v}": microseconds must be below 2^64`);
    }
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  // Date.parse accepts many informal forms; only an ISO-8601 date-time is promised.
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms) || ms < 0) {
    throw badParameter(
      name,
      `Invalid ${name} "${v}": give integer microseconds since the epoch or an ISO-8601 time (2026-01-31T12:00:00Z)`,
    );
  }
  return ms * 1000;
}

/**
 * A start/end pair, refused when the end comes before the start.
 *
 * @param q the query
 * @returns the bounds (undefined where open)
 * @example
 * ```ts
 * import { rangeParams } from "./params.ts";
 * const r = rangeParams(new Map([["start", "5"], ["end", "9"]]));
 * console.assert(r.start === 5 && r.end === 9);
 * ```
 */
export function rangeParams(
  q: Map<string, string>,
): { start: number | bigint | undefined; end: number | bigint | undefined } {
  const start = timeParam("start", q.get("start"));
  const end = timeParam("end", q.get("end"));
  if (start !== undefined && end !== undefined && BigInt(end) < BigInt(start)) {
    throw badParameter(
      "end",
      `Invalid end ${end}: it is before start ${start} (both ends are inclusive): swap them`,
    );
  }
  return { start, end };
}

/**
 * A non-negative integer count parameter, at most `max`.
 *
 * @param name the parameter's name
 * @param v its value, or undefined when absent
 * @param max the largest value taken
 * @returns the count, or undefined when absent
 * @example
 * ```ts
 * import { countParam } from "./params.ts";
 * console.assert(countParam("limit", "10", 100) === 10);
 * ```
 */
export function countParam(name: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n <= max)) {
    throw badParameter(name, `Invalid ${name} "${v}": give an integer from 0 to ${max}`);
  }
  return n;
}

/**
 * One of a fixed set of words.
 *
 * @param name the parameter's name
 * @param v its value, or undefined when absent
 * @param choices the words taken
 * @returns the word, or undefined when absent
 * @example
 * ```ts
 * import { choiceParam } from "./params.ts";
 * console.assert(choiceParam("format", "csv", ["jsonl", "csv"] as const) === "csv");
 * ```
 */
export function choiceParam<const T extends string>(
  name: string,
  v: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw badParameter(
      name,
      `Invalid ${name} "${v}": give one of ${choices.map((c) => `"${c}"`).join(", ")}`,
    );
  }
  return v as T;
}
