/**
 * Record types computed from a feed spec (types only, nothing at run time).
 * A spec declared `as const`, or through `defineFeed`, keeps its field
 * names and types as literals, so a writer can take exactly its values and
 * a reader can hand back exactly its record shape:
 *
 * | field type | written as | read as |
 * | --- | --- | --- |
 * | float32/64, (u)int8/16/32 | `number` | `number` |
 * | int64, uint64 | `number \| bigint` | `number`, or `bigint` with `{ bigint: true }` |
 * | char | `string \| number` (one byte) | `string` |
 * | string | `string` | `string` |
 * | bool | `boolean \| 0 \| 1` | `boolean` |
 * | bytes | `Uint8Array` | `Uint8Array` |
 *
 * Padding fields (`_N`) take no value and do not appear in records.
 *
 * @module
 */
import type { RecordValue } from "./codec.ts";
import type { FeedSpec, FieldSpec, ScalarType } from "./spec.ts";

/** A padding field's type (`_N`): it takes no value and is not in records. */
export type PaddingType = `_${number}`;
/** The 64-bit integer field types (numbers up to 2^53-1, or BigInt). */
export type WideIntType = "int64" | "uint64";

/** What a writer accepts for a field of type `T`. */
export type InputOf<T> = T extends WideIntType ? number | bigint
  : T extends "bool" ? boolean | 0 | 1
  : T extends "char" ? string | number
  : T extends "string" ? string
  : T extends "bytes" ? Uint8Array
  : T extends ScalarType ? number
  : unknown;

/** What a reader returns for a field of type `T` (`Big`: 64-bit integers as BigInt). */
export type OutputOf<T, Big extends boolean> = T extends WideIntType
  ? (Big extends true ? bigint : number)
  : T extends "bool" ? boolean
  : T extends "char" | "string" ? string
  : T extends "bytes" ? Uint8Array
  : T extends ScalarType ? number
  : RecordValue;

/** The name of value field `F` (never for padding). */
export type NameOf<F> = F extends { type: PaddingType } ? never
  : F extends { name: infer N extends string } ? N
  : never;

/** A record as a reader of feed `S` returns it. */
export type RecordOf<S extends FeedSpec, Big extends boolean = false> = {
  [F in S["fields"][number] as NameOf<F>]: OutputOf<F["type"], Big>;
};

/** A record as `write()` of feed `S` takes it: exactly the value fields. */
export type WriteRecordOf<S extends FeedSpec> = {
  [F in S["fields"][number] as NameOf<F>]: InputOf<F["type"]>;
};

/** `writeValues`' parameters for fields `F`, in schema order, padding skipped. */
export type ValuesOf<F extends readonly FieldSpec[]> = F extends
  readonly [infer H extends FieldSpec, ...infer R extends readonly FieldSpec[]]
  ? H extends { type: PaddingType } ? ValuesOf<R> : [InputOf<H["type"]>, ...ValuesOf<R>]
  : F extends readonly [] ? []
  : unknown[];

/**
 * The column `columns()` returns for a field of type `T`: the field's own
 * typed array for numbers (BigInt arrays for 64-bit integers, exact), 0/1
 * bytes for `bool`, strings for `char`/`string`, byte arrays for `bytes`.
 */
export type ColumnOf<T> = T extends "float64" ? Float64Array<ArrayBuffer>
  : T extends "float32" ? Float32Array<ArrayBuffer>
  : T extends "int8" ? Int8Array<ArrayBuffer>
  : T extends "uint8" | "bool" ? Uint8Array<ArrayBuffer>
  : T extends "int16" ? Int16Array<ArrayBuffer>
  : T extends "uint16" ? Uint16Array<ArrayBuffer>
  : T extends "int32" ? Int32Array<ArrayBuffer>
  : T extends "uint32" ? Uint32Array<ArrayBuffer>
  : T extends "int64" ? BigInt64Array<ArrayBuffer>
  : T extends "uint64" ? BigUint64Array<ArrayBuffer>
  : T extends "char" | "string" ? string[]
  : T extends "bytes" ? Uint8Array<ArrayBuffer>[]
  : Column;

/** Any column `columns()` can return. */
export type Column =
  | Float64Array<ArrayBuffer>
  | Float32Array<ArrayBuffer>
  | Int8Array<ArrayBuffer>
  | Uint8Array<ArrayBuffer>
  | Int16Array<ArrayBuffer>
  | Uint16Array<ArrayBuffer>
  | Int32Array<ArrayBuffer>
  | Uint32Array<ArrayBuffer>
  | BigInt64Array<ArrayBuffer>
  | BigUint64Array<ArrayBuffer>
  | string[]
  | Uint8Array<ArrayBuffer>[];

/** The columns of feed `S`, by field name (padding skipped). */
export type ColumnsOf<S extends FeedSpec> = {
  [F in S["fields"][number] as NameOf<F>]: ColumnOf<F["type"]>;
};
