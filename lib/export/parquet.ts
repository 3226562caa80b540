/**
 * Parquet through hyparquet-writer: one row group per group of records,
 * written to the file as it is encoded (the footer last), snappy-compressed,
 * with column statistics. Types: the timestamp is `INT64 TIMESTAMP(MICROS,
 * isAdjustedToUTC)`, integers carry their width and sign (INT_8 .. UINT_64;
 * uint64 over INT64), floats are FLOAT/DOUBLE, bools BOOLEAN, chars
 * and strings STRING, bytes FIXED_LEN_BYTE_ARRAY of the field's width. No
 * column is nullable.
 *
 * @module
 */
import { ByteWriter, ParquetWriter } from "npm:hyparquet-writer@^0.17.0";
import type { FieldKind, FieldLayout, Layout } from "../schema/spec.ts";
import { PACKAGE_VERSION } from "../base/version.ts";
import type { ByteSink, Column, Columns, FormatWriter } from "./format.ts";
import { valueFields } from "./format.ts";
import { checkTimestamps } from "./values.ts";

/** The schema element hyparquet-writer takes (parquet-format's SchemaElement). */
type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]["schema"][number];
/** A converted type (parquet-format's legacy annotation). */
type ConvertedType = NonNullable<SchemaElement["converted_type"]>;
/** A column hyparquet-writer takes. */
type ColumnSource = Parameters<ParquetWriter["write"]>[0]["columnData"][number];

/** Bytes the encoder keeps before handing them to the sink. */
const FLUSH_BYTES = 1 << 20;

/** hyparquet-writer's byte writer, emptied into the export's sink as it fills. */
class SinkWriter extends ByteWriter {
  readonly #sink: ByteSink;

  constructor(sink: ByteSink) {
    super(FLUSH_BYTES * 2);
    this.#sink = sink;
  }

  override ensure(size: number): void {
    if (this.index > FLUSH_BYTES) this.flush();
    super.ensure(size);
  }

  flush(): void {
    this.#sink.write(new Uint8Array(this.buffer, 0, this.index));
    this.index = 0;
  }

  override finish(): void {
    this.flush();
  }
}

/**
 * Integer annotations as converted types (INT_8 .. UINT_64), which every
 * reader maps to the same logical types: hyparquet-writer 0.17 encodes the
 * INTEGER logical type's bit width with the wrong Thrift type, and DuckDB
 * rejects the file.
 */
const INTEGER: Partial<Record<FieldKind, ["INT32" | "INT64", ConvertedType]>> = {
  int8: ["INT32", "INT_8"],
  int16: ["INT32", "INT_16"],
  int32: ["INT32", "INT_32"],
  int64: ["INT64", "INT_64"],
  uint8: ["INT32", "UINT_8"],
  uint16: ["INT32", "UINT_16"],
  uint32: ["INT32", "UINT_32"],
  uint64: ["INT64", "UINT_64"],
};

/** The Parquet schema element of a field. */
function element(f: FieldLayout, layout: Layout): SchemaElement {
  const base = { name: f.name, repetition_type: "REQUIRED" as const };
  if (f.name === layout.tsName) {
    return {
      ...base,
      type: "INT64",
      logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
    };
  }
  const integer = INTEGER[f.kind];
  if (integer) return { ...base, type: integer[0], converted_type: integer[1] };
  switch (f.kind) {
    case "float32":
      return { ...base, type: "FLOAT" };
    case "float64":
      return { ...base, type: "DOUBLE" };
    case "bool":
      return { ...base, type: "BOOLEAN" };
    case "bytes":
      return { ...base, type: "FIXED_LEN_BYTE_ARRAY", type_length: f.size };
    default:
      // char and string (padding never reaches here: valueFields).
      return { ...base, type: "BYTE_ARRAY", converted_type: "UTF8" };
  }
}

/** A column in the shape hyparquet-writer encodes for the field's element. */
function data(f: FieldLayout, c: Column, n: number, layout: Layout): ColumnSource["data"] {
  if (f.name === layout.tsName) checkTimestamps(c as BigUint64Array, f.name);
  if (f.kind === "bool") {
    const bits = c as Uint8Array;
    const out = new Array<boolean>(n);
    for (let i = 0; i < n; i++) out[i] = bits[i] !== 0;
    return out;
  }
  // hyparquet-writer 0.17 passes a Uint32Array through to its int32 encoder,
  // which refuses values of 2^31 and up; numbers it maps to the signed bit pattern.
  if (f.kind === "uint32") return Array.from(c as Uint32Array);
  return c as ColumnSource["data"];
}

class ParquetFormat implements FormatWriter {
  readonly #layout: Layout;
  readonly #fields: FieldLayout[];
  readonly #writer: SinkWriter;
  readonly #parquet: ParquetWriter;

  constructor(layout: Layout, sink: ByteSink) {
    this.#layout = layout;
    this.#fields = valueFields(layout);
    this.#writer = new SinkWriter(sink);
    this.#parquet = new ParquetWriter({
      writer: this.#writer,
      schema: [
        { name: "root", num_children: this.#fields.length },
        ...this.#fields.map((f) => element(f, layout)),
      ],
      kvMetadata: [{ key: "deepwater.ts_col", value: layout.tsName }],
      createdBy: `deepwater ${PACKAGE_VERSION} (hyparquet-writer)`,
    });
  }

  write(columns: Columns, count: number): void {
    this.#parquet.write({
      columnData: this.#fields.map((f) => ({
        name: f.name,
        data: data(f, columns[f.name]!, count, this.#layout),
      })),
      rowGroupSize: count,
    });
  }

  finish(): void {
    this.#parquet.finish();
  }
}

/**
 * Open a Parquet writer.
 *
 * @param layout the feed's layout
 * @param sink where the file goes
 * @returns the writer
 */
export function openParquet(layout: Layout, sink: ByteSink): FormatWriter {
  return new ParquetFormat(layout, sink);
}
