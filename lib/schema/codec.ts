/**
 * Record codecs generated once per layout: straight-line DataView code with
 * no per-field dispatch, so encoding and decoding run at JIT speed.
 *
 * 64-bit integers are JS numbers by default and never lose precision
 * silently: a number beyond ±(2^53-1) is refused on write, and a stored value
 * beyond it is refused on read unless the codec was made with `bigint`.
 * BigInt values are always accepted on write. Strings must round-trip: a
 * NUL character (the field's padding) or a lone UTF-16 surrogate (which
 * UTF-8 cannot carry) is refused rather than stored altered. An object
 * record gives exactly the feed's value fields: an unknown key is refused.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { show } from "../base/input.ts";
import type { FieldLayout, Layout } from "./spec.ts";

/** A decoded record: field name to value. */
export type RecordValue = number | bigint | boolean | string | Uint8Array;
/** A decoded record object. */
export type DecodedRecord = Record<string, RecordValue>;

/** Writes one record at byte `o`, validating as it goes; returns its timestamp. */
export type StoreFn = (dv: DataView, u8: Uint8Array, o: number, ...values: unknown[]) => number;
/** Writes one record from an object; returns its timestamp. */
export type StoreObjectFn = (dv: DataView, u8: Uint8Array, o: number, obj: unknown) => number;
/** Decodes the record at byte `o`. */
export type DecodeFn = (dv: DataView, u8: Uint8Array, o: number) => DecodedRecord;

/** The generated functions for one layout. */
export interface Codec {
  /** Positional store, values in schema order (padding skipped). */
  store: StoreFn;
  /** Object store. */
  storeObject: StoreObjectFn;
  /** Decoder with 64-bit integers as numbers (throws when one does not fit). */
  decode: DecodeFn;
  /** Decoder with 64-bit integers as BigInt. */
  decodeBigInt: DecodeFn;
  /** Number of value fields (what `store` expects). */
  arity: number;
  /** Value fields in order. */
  valueFields: FieldLayout[];
}

const TWO32 = 4294967296;
const MAX_TS = Number.MAX_SAFE_INTEGER;
const INT_RANGE: Record<string, [number, number, string]> = {
  int8: [-128, 127, "Int8"],
  uint8: [0, 255, "Uint8"],
  int16: [-32768, 32767, "Int16"],
  uint16: [0, 65535, "Uint16"],
  int32: [-2147483648, 2147483647, "Int32"],
  uint32: [0, 4294967295, "Uint32"],
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The string in a NUL-padded UTF-8 field of `n` bytes at `at` (ASCII without
 * a TextDecoder call).
 *
 * @param u8 the record bytes
 * @param at the field's first byte
 * @param n the field's width
 * @returns the string, up to its first NUL
 */
export function decodeString(u8: Uint8Array, at: number, n: number): string {
  let end = at;
  const stop = at + n;
  let ascii = true;
  while (end < stop) {
    const c = u8[end]!;
    if (c === 0) break;
    if (c > 127) ascii = false;
    end++;
  }
  if (!ascii) return decoder.decode(u8.subarray(at, end));
  let s = "";
  for (let i = at; i < end; i++) s += String.fromCharCode(u8[i]!);
  return s;
}

/** Helpers the generated code calls; kept monomorphic and small so they inline. */
export const H = {
  enc: encoder,
  putString(u8: Uint8Array, at: number, n: number, v: string, fail: (why: string) => never): void {
    if (!v.isWellFormed()) fail("has a lone UTF-16 surrogate, which UTF-8 cannot store");
    if (v.includes("\0")) fail("has a NUL character, which the NUL-padded field cannot store");
    const r = encoder.encodeInto(v, u8.subarray(at, at + n));
    if (r.read < v.length) fail(`is longer than ${n} bytes in UTF-8`);
    if (r.written < n) u8.fill(0, at + r.written, at + n);
  },
  putBytes(u8: Uint8Array, at: number, n: number, v: unknown, fail: (why: string) => never): void {
    if (!(v instanceof Uint8Array)) fail("is not a Uint8Array");
    const b = v as Uint8Array;
    if (b.length > n) fail(`has ${b.length} bytes; the field holds ${n}`);
    u8.set(b, at);
    if (b.length < n) u8.fill(0, at + b.length, at + n);
  },
  getString: decodeString,
  u64(dv: DataView, at: number, field: string): number {
    const hi = dv.getUint32(at + 4, true);
    if (hi > 0x1fffff) H.tooBig(field, dv.getBigUint64(at, true));
    return hi * TWO32 + dv.getUint32(at, true);
  },
  i64(dv: DataView, at: number, field: string): number {
    const hi = dv.getInt32(at + 4, true);
    const lo = dv.getUint32(at, true);
    if (hi > 0x1fffff || hi < -0x200000 || (hi === -0x200000 && lo === 0)) {
      H.tooBig(field, dv.getBigInt64(at, true));
    }
    return hi * TWO32 + lo;
  },
  tooBig(field: string, v: bigint): never {
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot read field "${field}": stored value ${v} does not fit a JS number exactly: open the reader with { bigint: true }`,
    );
  },
};

function storeLines(f: FieldLayout, v: string, idx: number, isTs: boolean): string[] {
  const at = `o + ${f.offset}`;
  const fail = `F(${idx}, ${v},`;
  switch (f.kind) {
    case "float64":
      return [
        `if (typeof ${v} !== "number") ${fail} "is not a number");`,
        `dv.setFloat64(${at}, ${v}, true);`,
      ];
    case "float32":
      return [
        `if (typeof ${v} !== "number") ${fail} "is not a number");`,
        `dv.setFloat32(${at}, ${v}, true);`,
      ];
    case "bool":
      return [
        `if (${v} === true || ${v} === 1) u8[${at}] = 1; else if (${v} === false || ${v} === 0) u8[${at}] = 0;`,
        `else ${fail} "is not a boolean");`,
      ];
    case "char":
      return [
        `if (typeof ${v} === "string" && ${v}.length === 1 && ${v}.charCodeAt(0) < 256) u8[${at}] = ${v}.charCodeAt(0);`,
        `else if (typeof ${v} === "number" && Number.isInteger(${v}) && ${v} >= 0 && ${v} < 256) u8[${at}] = ${v};`,
        `else ${fail} "is not a one-byte character");`,
      ];
    case "uint64":
    case "int64": {
      const signed = f.kind === "int64";
      const lines = [
        `if (typeof ${v} === "number") {`,
        signed
          ? `  if (!Number.isSafeInteger(${v})) ${fail} "is not an integer within ±(2^53-1); pass a BigInt for larger values");`
          : `  if (!Number.isSafeInteger(${v}) || ${v} < 0) ${fail} "is not an integer in 0..2^53-1; pass a BigInt for larger values");`,
        `  const lo = ${v} >>> 0;`,
        `  dv.setUint32(${at}, lo, true);`,
        `  dv.setInt32(${at} + 4, (${v} - lo) / ${TWO32}, true);`,
        `} else if (typeof ${v} === "bigint") {`,
        signed
          ? `  if (${v} < -9223372036854775808n || ${v} > 9223372036854775807n) ${fail} "is outside int64");`
          : `  if (${v} < 0n || ${v} > 18446744073709551615n) ${fail} "is outside uint64");`,
        isTs ? `  if (${v} > ${MAX_TS}n) ${fail} "is beyond 2^53-1 microseconds");` : "",
        `  dv.set${signed ? "BigInt64" : "BigUint64"}(${at}, ${v}, true);`,
        `} else ${fail} "is not an integer");`,
      ];
      return lines;
    }
    case "string":
      return [
        `if (typeof ${v} !== "string") ${fail} "is not a string");`,
        `H.putString(u8, ${at}, ${f.size}, ${v}, (why) => F(${idx}, ${v}, why));`,
      ];
    case "bytes":
      return [`H.putBytes(u8, ${at}, ${f.size}, ${v}, (why) => F(${idx}, ${v}, why));`];
    case "pad":
      return [
        f.size <= 8
          ? range(f.size).map((k) => `u8[${at} + ${k}] = 0;`).join(" ")
          : `u8.fill(0, ${at}, ${at} + ${f.size});`,
      ];
    default: {
      const r = INT_RANGE[f.kind]!;
      return [
        `if (typeof ${v} !== "number" || !Number.isInteger(${v}) || ${v} < ${r[0]} || ${v} > ${
          r[1]
        }) ${fail} "is not an integer in ${r[0]}..${r[1]}");`,
        `dv.set${r[2]}(${at}, ${v}, true);`,
      ];
    }
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * The JS expression that reads field `f` of the record at byte `o` (names in
 * scope: `dv`, `u8`, `o` and the helpers {@linkcode H}).
 *
 * @param f the field
 * @param bigint 64-bit integers as BigInt
 * @returns source text
 */
export function decodeExpr(f: FieldLayout, bigint: boolean): string {
  const at = `o + ${f.offset}`;
  switch (f.kind) {
    case "float64":
      return `dv.getFloat64(${at}, true)`;
    case "float32":
      return `dv.getFloat32(${at}, true)`;
    case "bool":
      return `u8[${at}] !== 0`;
    case "char":
      return `String.fromCharCode(u8[${at}])`;
    case "uint64":
      return bigint
        ? `dv.getBigUint64(${at}, true)`
        : `H.u64(dv, ${at}, ${JSON.stringify(f.name)})`;
    case "int64":
      return bigint ? `dv.getBigInt64(${at}, true)` : `H.i64(dv, ${at}, ${JSON.stringify(f.name)})`;
    case "string":
      return `H.getString(u8, ${at}, ${f.size})`;
    case "bytes":
      return `u8.slice(${at}, ${at} + ${f.size})`;
    default:
      return `dv.get${INT_RANGE[f.kind]![2]}(${at}, true)`;
  }
}

/**
 * Generate the codec for a layout.
 *
 * @param layout the feed's record layout
 * @param feed feed name, for error messages
 * @returns the codec
 */
export function makeCodec(layout: Layout, feed: string): Codec {
  const valueFields = layout.fields.filter((f) => f.kind !== "pad");
  const F = (idx: number, v: unknown, why: string): never => {
    const f = valueFields[idx]!;
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write record to "${feed}": field "${f.name}" (${f.kind}) ${
        v === undefined ? "is missing: give every value field" : `value ${show(v)} ${why}`
      }`,
    );
  };
  const names = valueFields.map((f) => f.name);
  const recordError = (why: string): never => {
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write record to "${feed}": ${why} (fields: ${names.join(", ")})`,
    );
  };
  // Slow paths of storeObject, reached only by a bad record.
  const notRecord = (obj: unknown): never =>
    recordError(
      Array.isArray(obj)
        ? "expected an object of field values, got an array: use writeValues() for positional values"
        : `expected an object of field values, got ${show(obj)}`,
    );
  const unknownKey = (obj: unknown, k: string): never =>
    Array.isArray(obj) ? notRecord(obj) : recordError(`key "${k}" is not a field of the feed`);
  const missingField = (obj: object): never => {
    if (Array.isArray(obj)) return notRecord(obj);
    const given = new Set<string>();
    for (const k in obj) given.add(k);
    const f = names.find((n) => !given.has(n));
    return recordError(`field "${f}" is missing`);
  };
  const args = valueFields.map((_, i) => `a${i}`);
  const body: string[] = [];
  for (const f of layout.fields) {
    if (f.kind === "pad") {
      body.push(...storeLines(f, "", -1, false));
      continue;
    }
    const i = valueFields.indexOf(f);
    body.push(...storeLines(f, `a${i}`, i, f.name === layout.tsName));
  }
  const tsArg = `a${valueFields.findIndex((f) => f.name === layout.tsName)}`;
  const ret = `return typeof ${tsArg} === "bigint" ? Number(${tsArg}) : ${tsArg};`;
  const store = new Function(
    "H",
    "F",
    `"use strict"; return function store(dv, u8, o, ${args.join(", ")}) {\n${
      body.join("\n")
    }\n${ret}\n};`,
  )(H, F) as StoreFn;
  const objArgs = valueFields.map((f) => `obj[${JSON.stringify(f.name)}]`);
  // Counting enumerable keys that are fields proves there is no other key
  // and (with every value defined, which store checks) no missing one.
  const cases = valueFields.map((f) => `case ${JSON.stringify(f.name)}:`).join(" ");
  const storeObject = new Function(
    "store",
    "D",
    "U",
    "M",
    `"use strict"; return function storeObject(dv, u8, o, obj) {
  if (typeof obj !== "object" || obj === null) D(obj);
  let n = 0;
  for (const k in obj) {
    switch (k) { ${cases} n++; break; default: U(obj, k); }
  }
  if (n !== ${valueFields.length}) M(obj);
  return store(dv, u8, o, ${objArgs.join(", ")});
};`,
  )(store, notRecord, unknownKey, missingField) as StoreObjectFn;
  const decoder = (bigint: boolean) =>
    new Function(
      "H",
      `"use strict"; return function decode(dv, u8, o) {\n  return {${
        valueFields.map((f) => `\n    ${JSON.stringify(f.name)}: ${decodeExpr(f, bigint)}`).join(
          ",",
        )
      }\n  };\n};`,
    )(H) as DecodeFn;
  return {
    store,
    storeObject,
    decode: decoder(false),
    decodeBigInt: decoder(true),
    arity: valueFields.length,
    valueFields,
  };
}
