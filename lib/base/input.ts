/**
 * Checks for what callers hand Deepwater: option objects, arguments and base
 * paths. Every public entry point checks its options here, once, when it is
 * called (never per record), so a typo or a wrong type is `INVALID_ARGUMENT`
 * naming the key instead of being ignored or failing later, far from its cause.
 *
 * @module
 */
import { DeepwaterError } from "./errors.ts";
import type { LogOptions } from "./log.ts";

/**
 * A value as error messages show it. Never throws, whatever the value (a
 * BigInt, a symbol or an object without a prototype defeat `JSON.stringify`
 * and `String`).
 *
 * @param v any value
 * @returns a short description
 */
export function show(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
    case "function":
      return "a function";
    case "symbol":
      return v.toString();
    case "object": {
      if (v === null) return "null";
      if (Array.isArray(v)) return "an array";
      try {
        const proto = Object.getPrototypeOf(v);
        if (proto !== null && proto !== Object.prototype) {
          const name = String(proto.constructor?.name || "object");
          return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
        }
        const s = JSON.stringify(v);
        if (s !== undefined) return s.length > 80 ? `${s.slice(0, 80)}…` : s;
      } catch {
        // a proxy, a cycle, a BigInt inside or a throwing getter: say no more
      }
      return "an object";
    }
    default:
      return String(v);
  }
}

function invalid(message: string): DeepwaterError {
  return new DeepwaterError("INVALID_ARGUMENT", message);
}

/**
 * An option object checked for shape and keys: `undefined` is an empty
 * object; anything but a plain object, or a key not in `keys`, is
 * `INVALID_ARGUMENT` naming it.
 *
 * @param value the caller's options
 * @param what the options' owner for messages, e.g. `createReader()`
 * @param keys every key the owner knows
 * @returns the options, as a record to read known keys from
 */
function optionObject(
  value: unknown,
  what: string,
  keys: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`Invalid ${what} options: expected an object, got ${show(value)}`);
  }
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) {
      throw invalid(
        `Invalid ${what} option "${k}": not an option of ${what} (known: ${keys.join(", ")})`,
      );
    }
  }
  return value as Record<string, unknown>;
}

function optionError(what: string, key: string, expected: string, got: unknown): DeepwaterError {
  return invalid(`Invalid ${what} option "${key}": expected ${expected}, got ${show(got)}`);
}

function bool(o: Record<string, unknown>, what: string, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw optionError(what, key, "true or false", v);
  return v;
}

function oneOf<T extends string>(
  o: Record<string, unknown>,
  what: string,
  key: string,
  values: readonly T[],
): T | undefined {
  const v = o[key];
  if (v === undefined || values.includes(v as T)) return v as T | undefined;
  throw optionError(what, key, values.map((x) => `"${x}"`).join(" or "), v);
}

function number(
  o: Record<string, unknown>,
  what: string,
  key: string,
  range: { min: number; max: number; integer: boolean },
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (
    typeof v !== "number" || !(v >= range.min && v <= range.max) ||
    (range.integer && !Number.isInteger(v))
  ) {
    throw optionError(
      what,
      key,
      `${range.integer ? "an integer" : "a number"} from ${range.min} to ${range.max}`,
      v,
    );
  }
  return v;
}

/** The `signals` modes of a Platform. */
export type SignalMode = "exit" | "close" | "none";

/**
 * Check the options of `new Platform()`.
 *
 * @param options the caller's options
 * @returns logging options and the signal mode, defaults filled in
 */
export function platformOptions(
  options: unknown,
): { log: LogOptions; signals: SignalMode; readOnly: boolean } {
  const what = "Platform";
  const o = optionObject(options, what, ["log", "signals", "readOnly"]);
  const log = optionObject(o.log, `${what} log`, ["file", "console"]);
  return {
    log: {
      file: bool(log, `${what} log`, "file", true),
      console: bool(log, `${what} log`, "console", true),
    },
    signals: oneOf(o, what, "signals", ["exit", "close", "none"] as const) ?? "exit",
    readOnly: bool(o, what, "readOnly", false),
  };
}

/** Durability of a writer, checked (see `Durability` in writer.ts). */
export type DurabilityMode = "page-cache" | "rotation" | "write" | { intervalMs: number };

/** Longest timer interval: `setInterval` treats anything longer as 1 ms. */
const MAX_INTERVAL_MS = 2 ** 31 - 1;

/**
 * Check the options of `createWriter()` (both kinds of writer take the same
 * keys; a ring refuses durability settings itself).
 *
 * @param options the caller's options
 * @returns durability and prefetch, defaults filled in
 */
export function writerOptions(
  options: unknown,
): { durability: DurabilityMode; prefetch: boolean } {
  const what = "createWriter()";
  const o = optionObject(options, what, ["durability", "prefetch"]);
  const d = o.durability;
  const expected = `"page-cache", "rotation", "write" or { intervalMs: 1 .. ${MAX_INTERVAL_MS} }`;
  let durability: DurabilityMode;
  if (d === undefined || d === "page-cache" || d === "rotation" || d === "write") {
    durability = d ?? "page-cache";
  } else if (typeof d === "object" && d !== null && !Array.isArray(d)) {
    const i = optionObject(d, `${what} durability`, ["intervalMs"]);
    const intervalMs = number(i, `${what} durability`, "intervalMs", {
      min: 1,
      max: MAX_INTERVAL_MS,
      integer: false,
    });
    if (intervalMs === undefined) throw optionError(what, "durability", expected, d);
    durability = { intervalMs };
  } else {
    throw optionError(what, "durability", expected, d);
  }
  return { durability, prefetch: bool(o, what, "prefetch", true) };
}

/**
 * Most chunk mappings a reader may cache: the kernel's default
 * `vm.max_map_count` (65530) bounds all mappings of a process anyway.
 */
const MAX_CACHE_CHUNKS = 65536;

/**
 * Check the options of `createReader()` (both kinds of reader).
 *
 * @param options the caller's options
 * @returns BigInt output and chunk cache size, defaults filled in
 */
export function readerOptions(options: unknown): { bigint: boolean; cacheChunks: number } {
  const what = "createReader()";
  const o = optionObject(options, what, ["bigint", "cacheChunks"]);
  return {
    bigint: bool(o, what, "bigint", false),
    cacheChunks: number(o, what, "cacheChunks", { min: 1, max: MAX_CACHE_CHUNKS, integer: true }) ??
      1024,
  };
}

/** Longest `spinYieldMs`: a tail that starves the event loop longer looks hung. */
const MAX_SPIN_YIELD_MS = 1000;

/** The checked options of `stream()`. */
export interface StreamSettings {
  /** Start at the newest playback marker. */
  playback: boolean;
  /** Ends the stream. */
  signal: AbortSignal | undefined;
  /** How the tail waits. */
  wait: "block" | "spin";
  /** Longest stretch without an event-loop turn. */
  spinYieldMs: number;
  /** Overrun callback (rings only ever call it). */
  onOverrun: ((lost: number) => void) | undefined;
  /** Replay from the first record at or after this time (µs), or undefined: the live head. */
  from: number | undefined;
  /** Named consumer whose position the stream keeps, or undefined. */
  consumer: string | undefined;
}

/** The checked options of `streamBatches()`: those of `stream()` plus the batch size. */
export interface StreamBatchSettings extends StreamSettings {
  /** Most bytes in one batch (at least one record's worth is always allowed). */
  maxBytes: number;
}

/** Longest consumer name (as for feed names). */
const MAX_CONSUMER_NAME = 100;
const CONSUMER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Check a consumer name: the rules of feed names (letters, digits, ".", "_"
 * and "-", starting with a letter or digit, no "..", at most 100 characters),
 * since it names a file in the feed's directory.
 *
 * @param name the caller's value
 * @param what the caller, for messages (e.g. `stream()`)
 * @returns the name
 */
export function consumerName(name: unknown, what = "stream()"): string {
  if (
    typeof name !== "string" || name.length === 0 || name.length > MAX_CONSUMER_NAME ||
    !CONSUMER_RE.test(name) || name.includes("..")
  ) {
    throw invalid(
      `Invalid ${what} option "consumer": expected a name of 1 to ${MAX_CONSUMER_NAME} letters, digits, ".", "_" and "-" (starting with a letter or digit, no ".."), got ${
        show(name)
      }`,
    );
  }
  return name;
}

/** The `from` option: a uint64 time in µs as a number or BigInt, clamped as a range start is. */
function fromOption(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  const ok = typeof v === "bigint"
    ? v >= 0n && v <= MAX_U64
    : typeof v === "number" && !Number.isNaN(v) && v !== Infinity;
  if (!ok) {
    throw optionError(
      what,
      "from",
      "a number or BigInt of microseconds (0 .. 2^64-1, or -Infinity for everything retained)",
      v,
    );
  }
  // Timestamps are below 2^53 (checked on write): any later start finds nothing.
  const n = typeof v === "bigint"
    ? (v > BigInt(MAX_TS) ? MAX_TS + 1 : Number(v))
    : Math.ceil(v as number);
  return Math.min(Math.max(0, n), MAX_TS + 1);
}

/**
 * Check the options of `stream()` (both kinds of reader take the same keys,
 * so code written for either works with both; a persisted reader never
 * overruns, so it never calls `onOverrun`).
 *
 * @param options the caller's options
 * @returns the settings, defaults filled in
 */
export function streamOptions(options: unknown): StreamSettings {
  return streamSettings(optionObject(options, "stream()", STREAM_KEYS), "stream()");
}

const TAIL_KEYS = ["playback", "signal", "wait", "spinYieldMs", "onOverrun", "from"] as const;
const STREAM_KEYS = [
  "playback",
  "signal",
  "wait",
  "spinYieldMs",
  "onOverrun",
  "from",
  "consumer",
] as const;

/** Smallest and largest `maxBytes` of `streamBatches()`; the default sits under NATS's 1 MB payload. */
const BATCH_BYTES = { min: 1, max: 2 ** 30, dflt: 256 * 1024 };

/**
 * Check `tail()`'s options: those of `stream()` but `consumer` (a tail
 * acknowledges nothing: use `stream({ consumer })` for that).
 *
 * @param options the caller's options
 * @returns the settings, defaults filled in
 */
export function tailOptions(options: unknown): StreamSettings {
  return streamSettings(optionObject(options, "tail()", TAIL_KEYS), "tail()");
}

/**
 * Check `columns()` options: only `into` (its contents are checked against
 * the fields by the column module).
 *
 * @param options the caller's argument
 * @returns the `into` value, unchecked
 */
export function columnsOptions(options: unknown): { into: unknown } {
  return { into: optionObject(options, "columns()", ["into"]).into };
}

/**
 * Check the options of `streamBatches()`: those of `stream()` plus
 * `maxBytes` (default 256 KiB, 1 .. 2^30; a batch always holds at least one
 * record).
 *
 * @param options the caller's options
 * @returns the settings, defaults filled in
 */
export function streamBatchOptions(options: unknown): StreamBatchSettings {
  const what = "streamBatches()";
  const o = optionObject(options, what, [...STREAM_KEYS, "maxBytes"]);
  return {
    ...streamSettings(o, what),
    maxBytes: number(o, what, "maxBytes", { ...BATCH_BYTES, integer: true }) ?? BATCH_BYTES.dflt,
  };
}

function streamSettings(o: Record<string, unknown>, what: string): StreamSettings {
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw optionError(what, "signal", "an AbortSignal", signal);
  }
  const onOverrun = o.onOverrun;
  if (onOverrun !== undefined && typeof onOverrun !== "function") {
    throw optionError(what, "onOverrun", "a function", onOverrun);
  }
  const playback = bool(o, what, "playback", false);
  const from = fromOption(o.from, what);
  if (playback && from !== undefined) {
    throw invalid(
      `Invalid ${what} options: "from" and "playback" both say where to start: give one of them`,
    );
  }
  return {
    playback,
    signal,
    wait: oneOf(o, what, "wait", ["block", "spin"] as const) ?? "block",
    spinYieldMs:
      number(o, what, "spinYieldMs", { min: 0, max: MAX_SPIN_YIELD_MS, integer: false }) ?? 1,
    onOverrun: onOverrun as StreamSettings["onOverrun"],
    from,
    consumer: o.consumer === undefined ? undefined : consumerName(o.consumer, what),
  };
}

/**
 * Check the options of one `write()` call.
 *
 * @param options the caller's options
 * @returns whether the record becomes a playback marker
 */
export function writeIndexOption(options: unknown): boolean {
  if (options === undefined) return false;
  const o = optionObject(options, "write()", ["createIndex"]);
  return bool(o, "write()", "createIndex", false);
}

/**
 * Check `readAvailable(max)`.
 *
 * @param max the caller's value
 * @returns it, when it is a positive integer
 */
export function readMax(max: unknown): number {
  if (typeof max !== "number" || !Number.isSafeInteger(max) || max < 1) {
    throw invalid(`readAvailable(max): max must be a positive integer, got ${show(max)}`);
  }
  return max;
}

/** Timestamps are below 2^53 (checked on write). */
const MAX_TS = Number.MAX_SAFE_INTEGER;
const MAX_U64 = 2n ** 64n - 1n;

function timeBound(v: unknown, name: string, open: number): number {
  if (typeof v === "bigint") {
    if (v < 0n || v > MAX_U64) {
      throw invalid(`read(): ${name} ${v}n is outside uint64 (0 .. 2^64-1)`);
    }
    return v > BigInt(MAX_TS) ? MAX_TS + 1 : Number(v);
  }
  if (typeof v !== "number" || Number.isNaN(v) || v === -open) {
    throw invalid(
      `read(): ${name} must be a number or BigInt of microseconds${
        open === Infinity ? " (or Infinity for no end)" : " (or -Infinity for no start)"
      }, got ${show(v)}`,
    );
  }
  return v;
}

/**
 * Inclusive integer bounds of a time-range read. A start or end left out
 * is open; so are a start of `-Infinity` and an end of `Infinity`. A number
 * below 0 as the start means 0 (times are unsigned). BigInt bounds are
 * uint64 values: negative or beyond 2^64-1 is `INVALID_ARGUMENT`, as are NaN,
 * `Infinity` as a start, `-Infinity` as an end, and anything not a number
 * or BigInt.
 *
 * @param startUs first timestamp to include
 * @param endUs last timestamp to include
 * @returns [start, end]; an empty range comes back with end < start
 */
export function timeRange(startUs: unknown, endUs: unknown): [number, number] {
  const start = startUs === undefined ? 0 : Math.ceil(timeBound(startUs, "startUs", -Infinity));
  const end = endUs === undefined ? MAX_TS : Math.floor(timeBound(endUs, "endUs", Infinity));
  if (start > MAX_TS || end < 0) return [1, 0];
  return [Math.max(0, start), Math.min(end, MAX_TS)];
}

/** Longest path the kernel accepts, with its terminating NUL (Linux PATH_MAX). */
const PATH_MAX = 4096;
/** Longest path component (Linux NAME_MAX). */
const NAME_MAX = 255;
/**
 * Longest base path, in UTF-8 bytes: what PATH_MAX leaves once room is kept
 * for the longest path Deepwater makes under it,
 * `/feeds/<feed name of 100 bytes>/<file name of up to 147 bytes>`, and the NUL.
 */
const MAX_BASE_PATH = PATH_MAX - 256;

/**
 * Check an absolute base path before anything touches the filesystem: every
 * file Deepwater keeps under it must stay within PATH_MAX and NAME_MAX.
 *
 * @param base absolute path
 * @returns it
 */
export function checkBasePath(base: string): string {
  if (base.includes("\0")) {
    throw invalid(`Invalid base path ${show(base)}: it contains a NUL character: remove it`);
  }
  const enc = new TextEncoder();
  const bytes = enc.encode(base).length;
  if (bytes > MAX_BASE_PATH) {
    throw invalid(
      `Invalid base path ${
        show(base)
      }: it is ${bytes} bytes; the limit is ${MAX_BASE_PATH}, leaving room for the feed files under it (PATH_MAX ${PATH_MAX}): use a shorter path`,
    );
  }
  for (const part of base.split("/")) {
    const n = enc.encode(part).length;
    if (n > NAME_MAX) {
      throw invalid(
        `Invalid base path ${show(base)}: its component ${
          show(part)
        } is ${n} bytes; the limit is ${NAME_MAX} (NAME_MAX): use a shorter name`,
      );
    }
  }
  return base;
}
