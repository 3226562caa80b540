/**
 * Columnar reads: one packed column per field, gathered out of runs of
 * fixed-size records by libdeepwater (`dw_gather`) at memory speed. Numbers
 * land in the field's own typed array; `bool` in 0/1 bytes; `char`/`string`
 * are decoded to strings and `bytes` copied, per record.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { show } from "../base/input.ts";
import { gatherFrom, gatherFromBytes } from "../native/gather.ts";
import { decodeString } from "../schema/codec.ts";
import type { Column } from "../schema/record_types.ts";
import type { FieldLayout, Layout } from "../schema/spec.ts";

/** Columns by field name. */
export type Columns = Record<string, Column>;

/** A run of whole records: in a mapping (with its address) or in a JS buffer. */
export interface RecordRun {
  /** Bytes holding the run. */
  u8: Uint8Array;
  /** Byte offset of its first record in `u8`. */
  at: number;
  /** Records in the run. */
  count: number;
  /** Address of `u8`'s first byte when it is a mapping (gathered without a buffer argument). */
  base: bigint | undefined;
}

type NumericCtor =
  | Float64ArrayConstructor
  | Float32ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const NUMERIC: Partial<Record<string, NumericCtor>> = {
  float64: Float64Array,
  float32: Float32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/**
 * The fields to gather, checked: each must be a value field of the layout
 * (padding is not one), named once. Left out: every value field.
 *
 * @param layout the feed's layout
 * @param fields field names, or undefined for all
 * @param feed feed name, for messages
 * @returns the fields' layouts, in the order asked
 */
export function columnFields(
  layout: Layout,
  fields: readonly string[] | undefined,
  feed: string,
): FieldLayout[] {
  const value = layout.fields.filter((f) => f.kind !== "pad");
  if (fields === undefined) return value;
  if (!Array.isArray(fields)) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Invalid fields for columns of "${feed}": ${show(fields)} is not an array of field names`,
    );
  }
  const seen = new Set<string>();
  return fields.map((name) => {
    const f = value.find((v) => v.name === name);
    if (!f || seen.has(name)) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Invalid fields for columns of "${feed}": ${show(name)} ${
          f ? "is named twice" : "is not a field of the feed"
        } (fields: ${value.map((v) => v.name).join(", ")})`,
      );
    }
    seen.add(name);
    return f;
  });
}

/**
 * Gather `fields` out of `runs` (holding `total` records between them) into
 * new columns.
 *
 * @param runs the record runs, in order
 * @param total records in all runs
 * @param fields the fields (see {@linkcode columnFields})
 * @param recordSize the layout's record size
 * @returns the columns, by field name
 */
export function gatherColumns(
  runs: readonly RecordRun[],
  total: number,
  fields: readonly FieldLayout[],
  recordSize: number,
  into?: ColumnTargets,
): Columns {
  const out: Columns = {};
  for (const f of fields) out[f.name] = gatherField(runs, total, f, recordSize, into?.get(f.name));
  return out;
}

/** Caller-owned arrays to gather numeric columns into, by field name (checked). */
export type ColumnTargets = ReadonlyMap<string, NumericColumn>;

/** A column `into` can hold: a numeric field's typed array. */
type NumericColumn = InstanceType<NumericCtor>;

/**
 * Check a `columns()` `into` option against the fields asked for: each key
 * names one of them, of a numeric or bool type, and holds a live array of
 * that field's own type; no two share bytes (they would overwrite each
 * other).
 *
 * @param into the caller's option (undefined: none)
 * @param fields the fields being gathered
 * @param feed feed name, for messages
 * @returns the targets by field name, or undefined
 */
export function columnTargets(
  into: unknown,
  fields: readonly FieldLayout[],
  feed: string,
): ColumnTargets | undefined {
  if (into === undefined) return undefined;
  const bad = (what: string): never => {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Invalid columns option "into" for "${feed}": ${what}`,
    );
  };
  if (typeof into !== "object" || into === null || Array.isArray(into)) {
    bad(`expected an object of typed arrays by field name, got ${show(into)}`);
  }
  const out = new Map<string, NumericColumn>();
  for (const [name, arr] of Object.entries(into as Record<string, unknown>)) {
    if (arr === undefined) continue;
    const f = fields.find((g) => g.name === name);
    if (!f) {
      bad(`"${name}" is not one of the fields asked for (${fields.map((g) => g.name).join(", ")})`);
    }
    const Ctor = NUMERIC[f!.kind];
    if (!Ctor) {
      bad(
        `field "${name}" is ${
          f!.kind
        }: only numeric and bool columns can be gathered into an array`,
      );
    }
    if (!(arr instanceof Ctor!) || Object.getPrototypeOf(arr) !== Ctor!.prototype) {
      bad(`field "${name}" (${f!.kind}) needs a ${Ctor!.name}, got ${show(arr)}`);
    }
    const a = arr as NumericColumn;
    if (a.buffer instanceof ArrayBuffer && a.buffer.detached) {
      bad(`the array for "${name}" is detached`);
    }
    for (const [other, b] of out) {
      if (
        b.buffer === a.buffer && a.byteOffset < b.byteOffset + b.byteLength &&
        b.byteOffset < a.byteOffset + a.byteLength
      ) bad(`the arrays for "${other}" and "${name}" overlap`);
    }
    out.set(name, a);
  }
  return out;
}

function gatherField(
  runs: readonly RecordRun[],
  total: number,
  f: FieldLayout,
  rs: number,
  into: NumericColumn | undefined,
): Column {
  const Ctor = NUMERIC[f.kind];
  if (Ctor) {
    // Reuse the caller's array when it holds them all (no allocation, no
    // first-touch page faults); otherwise a new one.
    const col = into && into.length >= total ? into.subarray(0, total) : new Ctor(total);
    const bytes = new Uint8Array(col.buffer, col.byteOffset, col.byteLength);
    let k = 0;
    for (const r of runs) {
      const dst = bytes.subarray(k * f.size, (k + r.count) * f.size);
      if (r.base !== undefined) {
        gatherFrom(dst, r.base + BigInt(r.at), r.count, rs, f.offset, f.size);
      } else {
        gatherFromBytes(dst, r.u8.subarray(r.at), r.count, rs, f.offset, f.size);
      }
      k += r.count;
    }
    // A bool is true for any non-zero byte (as records decode it): make it 0/1.
    if (f.kind === "bool") { for (let i = 0; i < total; i++) if (bytes[i]! > 1) bytes[i] = 1; }
    return col as Column;
  }
  if (f.kind === "bytes") {
    const col: Uint8Array<ArrayBuffer>[] = new Array(total);
    let k = 0;
    for (const r of runs) {
      for (let i = 0, o = r.at + f.offset; i < r.count; i++, o += rs) {
        col[k++] = r.u8.slice(o, o + f.size);
      }
    }
    return col;
  }
  const col: string[] = new Array(total);
  let k = 0;
  for (const r of runs) {
    if (f.kind === "char") {
      for (let i = 0, o = r.at + f.offset; i < r.count; i++, o += rs) {
        col[k++] = String.fromCharCode(r.u8[o]!);
      }
    } else {
      for (let i = 0, o = r.at + f.offset; i < r.count; i++, o += rs) {
        col[k++] = decodeString(r.u8, o, f.size);
      }
    }
  }
  return col;
}

/**
 * The columns of one raw batch (as `batches()` yields, or as a transport
 * delivered it): whole records of `layout`, back to back.
 *
 * @param batch whole records
 * @param layout their layout (`reader.layout`)
 * @param fields field names (default: every value field)
 * @returns one column per field
 * @example
 * ```ts
 * import { batchColumns, Platform } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "trades",
 *     fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
 *     ts_col: "timestamp_us",
 *     chunk_size_mb: 0.0625,
 *   });
 *   using writer = platform.createWriter("trades");
 *   for (let i = 0; i < 3; i++) writer.writeValues(100 + i, 1_000 + i);
 *   using reader = platform.createReader("trades");
 *   for (const batch of reader.batches()) {
 *     const { price } = batchColumns(batch, reader.layout, ["price"]);
 *     console.assert(price![2] === 102);
 *   }
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function batchColumns(
  batch: Uint8Array,
  layout: Layout,
  fields?: readonly string[],
): Columns {
  if (!(batch instanceof Uint8Array) || batch.byteLength % layout.recordSize !== 0) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Invalid batch: expected whole records of ${layout.recordSize} bytes, got ${
        batch instanceof Uint8Array ? `${batch.byteLength} bytes` : show(batch)
      }`,
    );
  }
  const count = batch.byteLength / layout.recordSize;
  const run: RecordRun = { u8: batch, at: 0, count, base: undefined };
  return gatherColumns([run], count, columnFields(layout, fields, "batch"), layout.recordSize);
}
