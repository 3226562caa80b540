/**
 * Arrow IPC through Apache Arrow's JavaScript library, in its file format
 * (Feather v2, `.arrow`, what the export writes) or its streaming format
 * (what the server sends: a reader needs no footer, so it can read an HTTP
 * body as it arrives): one record batch per group, numeric columns handed
 * over without a copy, the timestamp as `timestamp[us, tz=UTC]`, 64-bit
 * integers as Int64/UInt64, bools as bitmaps, chars and strings as UTF-8,
 * bytes as fixed-size binary of the field's width.
 *
 * @module
 */
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
} from "npm:apache-arrow@^21.2.0";
import type { FieldLayout, Layout } from "../schema/spec.ts";
import type { ByteSink, Column, Columns, FormatWriter } from "./format.ts";
import { valueFields } from "./format.ts";
import { checkTimestamps, utf8Column } from "./values.ts";

/** The Arrow type of a field. */
export function arrowType(f: FieldLayout, layout: Layout): DataType {
  if (f.name === layout.tsName) return new TimestampMicrosecond("UTC");
  switch (f.kind) {
    case "int8":
      return new Int8();
    case "int16":
      return new Int16();
    case "int32":
      return new Int32();
    case "int64":
      return new Int64();
    case "uint8":
      return new Uint8();
    case "uint16":
      return new Uint16();
    case "uint32":
      return new Uint32();
    case "uint64":
      return new Uint64();
    case "float32":
      return new Float32();
    case "float64":
      return new Float64();
    case "bool":
      return new Bool();
    case "char":
    case "string":
      return new Utf8();
    case "bytes":
      return new FixedSizeBinary(f.size);
    default:
      // Padding never reaches here (valueFields); Binary keeps the switch total.
      return new Binary();
  }
}

/** Pack 0/1 bytes into Arrow's little-endian validity-style bitmap. */
function bitmap(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (bytes[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

function columnData(f: FieldLayout, type: DataType, c: Column, n: number, layout: Layout): Data {
  if (f.name === layout.tsName) {
    const ts = c as BigUint64Array;
    checkTimestamps(ts, f.name);
    return makeData({
      type: type as TimestampMicrosecond,
      length: n,
      nullCount: 0,
      data: new BigInt64Array(ts.buffer, ts.byteOffset, n),
    });
  }
  switch (f.kind) {
    case "bool":
      return makeData({
        type: type as Bool,
        length: n,
        nullCount: 0,
        data: bitmap(c as Uint8Array, n),
      });
    case "char":
    case "string": {
      const { offsets, bytes } = utf8Column(c as string[], n, f.kind === "char" ? 2 : f.size);
      return makeData({
        type: type as Utf8,
        length: n,
        nullCount: 0,
        valueOffsets: offsets,
        data: bytes,
      });
    }
    case "bytes": {
      const all = new Uint8Array(n * f.size);
      const rows = c as Uint8Array[];
      for (let i = 0; i < n; i++) all.set(rows[i]!, i * f.size);
      return makeData({ type: type as FixedSizeBinary, length: n, nullCount: 0, data: all });
    }
    default:
      // deno-lint-ignore no-explicit-any -- each numeric column is its type's own typed array
      return makeData({ type: type as any, length: n, nullCount: 0, data: c as any });
  }
}

/** Writes record batches to an Arrow IPC file or stream as the library produces its bytes. */
class ArrowWriter implements FormatWriter {
  readonly #layout: Layout;
  readonly #fields: FieldLayout[];
  readonly #schema: Schema;
  readonly #writer: RecordBatchFileWriter | RecordBatchStreamWriter;
  readonly #drained: Promise<void>;

  constructor(layout: Layout, sink: ByteSink, stream: boolean) {
    this.#writer = stream ? new RecordBatchStreamWriter() : new RecordBatchFileWriter();
    this.#layout = layout;
    this.#fields = valueFields(layout);
    this.#schema = new Schema(
      this.#fields.map((f) => new Field(f.name, arrowType(f, layout), false)),
      new Map([["deepwater.ts_col", layout.tsName]]),
    );
    // Start with the schema, so an empty export still has its columns.
    this.#writer.reset(undefined, this.#schema);
    // The writer queues its bytes for a reader: drain them into the sink as
    // they come, so at most one batch's bytes wait in memory (write() yields
    // to let this run).
    const bytes = this.#writer[Symbol.asyncIterator]();
    this.#drained = (async () => {
      for await (const chunk of bytes) sink.write(chunk);
    })();
    // A failure surfaces from write() or finish(); keep it from being unhandled meanwhile.
    this.#drained.catch(() => {});
  }

  async write(columns: Columns, count: number): Promise<void> {
    const children = this.#fields.map((f, j) =>
      columnData(f, this.#schema.fields[j]!.type, columns[f.name]!, count, this.#layout)
    );
    const data = makeData({
      type: new Struct(this.#schema.fields),
      length: count,
      nullCount: 0,
      children,
    });
    this.#writer.write(new RecordBatch(this.#schema, data));
    await Promise.race([this.#drained, new Promise((r) => setTimeout(r, 0))]);
  }

  async finish(): Promise<void> {
    this.#writer.finish();
    await this.#drained;
  }
}

/**
 * Open an Arrow IPC file writer.
 *
 * @param layout the feed's layout
 * @param sink where the file goes
 * @returns the writer
 */
export function openArrow(layout: Layout, sink: ByteSink): FormatWriter {
  return new ArrowWriter(layout, sink, false);
}

/**
 * Open an Arrow IPC stream writer (`application/vnd.apache.arrow.stream`):
 * the schema, a record batch per group, then the end-of-stream marker.
 *
 * @param layout the feed's layout
 * @param sink where the stream goes
 * @returns the writer
 */
export function openArrowStream(layout: Layout, sink: ByteSink): FormatWriter {
  return new ArrowWriter(layout, sink, true);
}
