/**
 * Feed specs: the seed's keys, validated, normalised, and turned into a
 * packed little-endian record layout.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { show } from "../base/input.ts";

/** Scalar field types (the seed's list). */
export type ScalarType =
  | "char"
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float32"
  | "float64";

/** A field of a feed spec. */
export interface FieldSpec {
  /**
   * Field name: a JavaScript identifier of at most 64 characters. Optional for
   * `_N` padding. Names of `Object.prototype` properties (`constructor`,
   * `toString`, `__proto__`, ...), `prototype`, and names the layout gives
   * padding (`_N`, `_pad<offset>`) are reserved.
   */
  name?: string;
  /**
   * A scalar type, `_N` for N bytes of padding, or `string` / `bytes`
   * (fixed width: give `length`; strings are UTF-8, NUL-padded).
   */
  type: ScalarType | "string" | "bytes" | `_${number}`;
  /** Width in bytes for `string` and `bytes` fields (1..4096). */
  length?: number;
  /** Free-form description, kept in the catalog. */
  desc?: string;
}

/** The feed spec accepted by `Platform.createFeed` (the seed's keys, unchanged). */
export interface FeedSpec {
  /** Feed name: letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 100 characters. */
  feed_name: string;
  /** Record mode; only `"UF"` (uniform, fixed-size records) exists. Default `"UF"`. */
  mode?: "UF";
  /** Fields in record order. */
  fields: readonly FieldSpec[];
  /** Name of the `uint64` microsecond timestamp field. */
  ts_col: string;
  /**
   * Chunk size in MiB for new chunks (may be fractional, 0.004 .. 1024); for
   * `persist: false` it is the ring's size. Rounded up to whole 4 KiB pages.
   * Default 64.
   */
  chunk_size_mb?: number;
  /** Hours of data cleanup keeps (by each chunk's newest record). 0 keeps everything. Default 72. */
  retention_hours?: number;
  /** `true` (default): chunk files on disk; `false`: a shared-memory ring, no disk I/O. */
  persist?: boolean;
  /** Records written with `createIndex` become playback markers. Default false. */
  index_playback?: boolean;
}

/** A spec with every default filled in. */
export type NormalizedSpec = Required<Omit<FeedSpec, "fields">> & { fields: FieldSpec[] };

/** Every scalar type and its width in bytes. */
const SCALAR_SIZES: Readonly<Record<ScalarType, number>> = {
  char: 1,
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
};

/** Kind of a laid-out field. */
export type FieldKind = ScalarType | "string" | "bytes" | "pad";

/** One field of a record layout. */
export interface FieldLayout {
  /** Field name (padding gets `_pad<offset>`). */
  name: string;
  /** Storage kind. */
  kind: FieldKind;
  /** Byte offset within the record. */
  offset: number;
  /** Width in bytes. */
  size: number;
}

/** The packed layout of a feed's records. */
export interface Layout {
  /** All fields, padding included, in record order. */
  fields: FieldLayout[];
  /** Record size in bytes. */
  recordSize: number;
  /** Offset of the timestamp field. */
  tsOffset: number;
  /** Name of the timestamp field. */
  tsName: string;
  /** Canonical text of the layout; equal layouts have equal descriptors. */
  descriptor: string;
}

/** Longest feed name. */
const MAX_FEED_NAME = 100;
/** Largest record. */
const MAX_RECORD_SIZE = 65536;
/** Smallest and largest chunk_size_mb. */
const CHUNK_MB_RANGE = [0.004, 1024] as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FIELD_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/**
 * Field names a decoded record cannot carry as plain data: every object
 * inherits these (a record key would shadow them), and `__proto__` in an
 * object literal sets the prototype instead of a property.
 */
const INHERITED_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), "prototype"]);
/** Names the layout gives padding (`_pad<offset>`) or that spell a padding type (`_N`). */
const PADDING_NAME = /^_(pad)?\d+$/;
const PADDING_TYPE = /^_(\d+)$/;
const KNOWN_KEYS = new Set([
  "feed_name",
  "mode",
  "fields",
  "ts_col",
  "chunk_size_mb",
  "retention_hours",
  "persist",
  "index_playback",
]);

function bad(key: string, what: string): DeepwaterError {
  return new DeepwaterError("INVALID_SPEC", `Invalid feed spec: key "${key}" ${what}`);
}

/**
 * Check a feed name and return it unchanged (never truncated).
 *
 * @param name candidate name
 * @param key spec key to name in the error
 * @returns the name
 */
export function validateFeedName(name: unknown, key = "feed_name"): string {
  if (typeof name !== "string" || name.length === 0) throw bad(key, "must be a non-empty string");
  if (name.length > MAX_FEED_NAME) {
    throw bad(key, `is ${name.length} characters; the limit is ${MAX_FEED_NAME}`);
  }
  if (!NAME_RE.test(name) || name.includes("..")) {
    throw bad(
      key,
      `is ${
        JSON.stringify(name)
      }: use letters, digits, ".", "_" and "-" (starting with a letter or digit, no "..", no path separators)`,
    );
  }
  return name;
}

/**
 * Validate a spec and fill in defaults.
 *
 * @param input the caller's spec (untrusted)
 * @returns the normalised spec
 */
export function normalizeSpec(input: unknown): NormalizedSpec {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new DeepwaterError("INVALID_SPEC", "Invalid feed spec: expected an object");
  }
  const s = input as Record<string, unknown>;
  for (const k of Object.keys(s)) {
    if (!KNOWN_KEYS.has(k)) {
      throw bad(k, `is not a spec key (known: ${[...KNOWN_KEYS].join(", ")})`);
    }
  }
  const feed_name = validateFeedName(s.feed_name);
  // Only a missing key takes its default: null is a value, and a wrong one.
  const mode = s.mode === undefined ? "UF" : s.mode;
  if (mode !== "UF") throw bad("mode", `is ${show(mode)}; only "UF" is supported`);
  const chunk = s.chunk_size_mb === undefined ? 64 : s.chunk_size_mb;
  if (typeof chunk !== "number" || !Number.isFinite(chunk)) {
    throw bad("chunk_size_mb", `must be a number, got ${show(chunk)}`);
  }
  if (chunk < CHUNK_MB_RANGE[0] || chunk > CHUNK_MB_RANGE[1]) {
    throw bad(
      "chunk_size_mb",
      `is ${chunk}; it must be between ${CHUNK_MB_RANGE[0]} and ${CHUNK_MB_RANGE[1]}`,
    );
  }
  const retention = s.retention_hours === undefined ? 72 : s.retention_hours;
  if (
    typeof retention !== "number" || !Number.isFinite(retention) || retention < 0 ||
    retention > 24 * 365 * 100
  ) {
    throw bad(
      "retention_hours",
      `is ${show(retention)}; use hours from 0 (keep all) to 876000`,
    );
  }
  const persist = s.persist === undefined ? true : s.persist;
  if (typeof persist !== "boolean") {
    throw bad("persist", `must be true or false, got ${show(persist)}`);
  }
  const index_playback = s.index_playback === undefined ? false : s.index_playback;
  if (typeof index_playback !== "boolean") {
    throw bad("index_playback", `must be true or false, got ${show(index_playback)}`);
  }
  if (!Array.isArray(s.fields) || s.fields.length === 0) {
    throw bad("fields", `must be a non-empty array, got ${show(s.fields)}`);
  }
  // An index loop, not map(): map() skips the holes of a sparse array.
  const fields: FieldSpec[] = [];
  for (let i = 0; i < s.fields.length; i++) fields.push(normalizeField(s.fields[i], i));
  if (typeof s.ts_col !== "string") {
    throw bad("ts_col", `must name a uint64 field, got ${show(s.ts_col)}`);
  }
  const ts = fields.find((f) => f.name === s.ts_col && !PADDING_TYPE.test(f.type));
  if (!ts) throw bad("ts_col", `names ${show(s.ts_col)}, which is not a value field`);
  if (ts.type !== "uint64") {
    throw bad("ts_col", `field "${s.ts_col}" is ${ts.type}; it must be uint64`);
  }
  const spec: NormalizedSpec = {
    feed_name,
    mode: "UF",
    fields,
    ts_col: s.ts_col,
    chunk_size_mb: chunk,
    retention_hours: retention,
    persist,
    index_playback,
  };
  computeLayout(spec); // size checks
  return spec;
}

function normalizeField(f: unknown, i: number): FieldSpec {
  const key = `fields[${i}]`;
  if (typeof f !== "object" || f === null || Array.isArray(f)) {
    throw bad(
      key,
      `must be an object with name and type, got ${f === undefined ? "a hole" : show(f)}`,
    );
  }
  const o = f as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!["name", "type", "length", "desc"].includes(k)) {
      throw bad(`${key}.${k}`, "is not a field key");
    }
  }
  const type = o.type;
  if (typeof type !== "string") throw bad(`${key}.type`, `must be a string, got ${show(type)}`);
  const out: FieldSpec = { type: type as FieldSpec["type"] };
  if (o.desc !== undefined) {
    if (typeof o.desc !== "string") {
      throw bad(`${key}.desc`, `must be a string, got ${show(o.desc)}`);
    }
    out.desc = o.desc;
  }
  const pad = PADDING_TYPE.exec(type);
  if (pad) {
    const n = Number(pad[1]);
    if (n < 1 || n > 4096) throw bad(`${key}.type`, `padding ${type} must be _1 .. _4096`);
    if (o.name !== undefined) out.name = checkFieldName(o.name, key);
    return out;
  }
  out.name = checkFieldName(o.name, key);
  if (type === "string" || type === "bytes") {
    const n = o.length;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 4096) {
      throw bad(`${key}.length`, `must be an integer 1..4096 for ${type} field "${out.name}"`);
    }
    out.length = n;
    return out;
  }
  scalarSize(type, `${key}.type`);
  if (o.length !== undefined) throw bad(`${key}.length`, `applies only to string and bytes fields`);
  return out;
}

function checkFieldName(name: unknown, key: string): string {
  if (typeof name !== "string" || !FIELD_RE.test(name) || name.length > 64) {
    throw bad(
      `${key}.name`,
      `is ${show(name)}: use an identifier (letters, digits, _) of at most 64 characters`,
    );
  }
  if (INHERITED_NAMES.has(name)) {
    throw bad(
      `${key}.name`,
      `"${name}" is reserved: every JavaScript object inherits it from Object.prototype, and a decoded record would shadow it: choose another name`,
    );
  }
  if (PADDING_NAME.test(name)) {
    throw bad(
      `${key}.name`,
      `"${name}" is reserved for padding (the layout names padding _pad<offset>): choose another name`,
    );
  }
  return name;
}

/** Width of a scalar type, looked up as an own property (never `toString` & co.). */
function scalarSize(type: string, key: string): number {
  if (!Object.hasOwn(SCALAR_SIZES, type)) {
    throw bad(
      key,
      `is ${show(type)}, not a known type (${
        Object.keys(SCALAR_SIZES).join(", ")
      }, string, bytes, _N)`,
    );
  }
  return SCALAR_SIZES[type as ScalarType];
}

/**
 * Lay out a normalised spec: packed, no hidden padding, little-endian.
 *
 * @param spec normalised spec
 * @returns the layout
 */
export function computeLayout(spec: NormalizedSpec): Layout {
  const fields: FieldLayout[] = [];
  const seen = new Set<string>();
  let off = 0;
  for (const [i, f] of spec.fields.entries()) {
    const pad = PADDING_TYPE.exec(f.type);
    let kind: FieldKind;
    let size: number;
    if (pad) {
      kind = "pad";
      size = Number(pad[1]);
    } else if (f.type === "string" || f.type === "bytes") {
      kind = f.type;
      size = f.length!;
    } else {
      // Catalog entries reach here without normalizeSpec: look types up safely.
      size = scalarSize(f.type, `fields[${i}].type`);
      kind = f.type as ScalarType;
    }
    const name = kind === "pad" ? `_pad${off}` : f.name!;
    if (kind !== "pad") {
      if (seen.has(name)) throw bad(`fields[${i}].name`, `"${name}" is used twice`);
      seen.add(name);
    }
    fields.push({ name, kind, offset: off, size });
    off += size;
  }
  if (off > MAX_RECORD_SIZE) {
    throw bad("fields", `make a ${off}-byte record; the limit is ${MAX_RECORD_SIZE}`);
  }
  // A value field, never padding: a catalog written before _pad<offset> names
  // were reserved may hold a value field named like a padding field.
  const ts = fields.find((f) => f.kind !== "pad" && f.name === spec.ts_col);
  if (!ts || ts.kind !== "uint64") throw bad("ts_col", `must name a uint64 value field`);
  return {
    fields,
    recordSize: off,
    tsOffset: ts.offset,
    tsName: ts.name,
    descriptor:
      fields.map((f) => `${f.kind === "pad" ? "_" : f.name}:${f.kind}:${f.size}`).join(",") +
      `;ts=${ts.name}`,
  };
}

/**
 * Declare a feed spec once, checked at once (`INVALID_SPEC` names the key)
 * and with its field names and types kept as literals, so writers and
 * readers opened with it are typed: `createWriter(spec).writeValues` takes
 * the fields' values in order, and `createReader(spec)` returns records with
 * the fields' types. The same as writing the spec `as const`, without
 * having to.
 *
 * @param spec the feed spec (the seed's keys)
 * @returns the same spec object, typed by its literal content
 *
 * @example
 * ```ts
 * import { defineFeed, Platform } from "../../mod.ts";
 * const trades = defineFeed({
 *   feed_name: "trades",
 *   fields: [
 *     { name: "price", type: "float64" },
 *     { name: "size", type: "float64" },
 *     { name: "timestamp_us", type: "uint64" },
 *   ],
 *   ts_col: "timestamp_us",
 *   chunk_size_mb: 0.0625,
 * });
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed(trades);
 *   using writer = platform.createWriter(trades);
 *   writer.writeValues(101.5, 2, 1_700_000_000_000_000);
 *   using reader = platform.createReader(trades);
 *   const notional: number = reader.latest()!.price * reader.latest()!.size;
 *   console.assert(notional === 203);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function defineFeed<const S extends FeedSpec>(spec: S): S {
  normalizeSpec(spec);
  return spec;
}
