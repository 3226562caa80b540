/**
 * What every export format implements: take one group of records as
 * columns, append their bytes to a sink, and finish the output at the end.
 * The formats are the one encoder of records to bytes: `deepwater export`
 * writes them to files, `deepwater serve` streams them into HTTP bodies and
 * live messages.
 *
 * @module
 */
import type { Columns } from "../feed/columns.ts";
import type { FieldLayout, Layout } from "../schema/spec.ts";

export type { Column } from "../schema/record_types.ts";
export type { Columns };

/**
 * Where a format's bytes go: a file (`FileSink`), or a buffer an HTTP body
 * drains (`BufferSink`).
 *
 * @example
 * ```ts
 * import type { ByteSink } from "./format.ts";
 * const parts: Uint8Array[] = [];
 * const sink: ByteSink = { write: (bytes) => void parts.push(bytes.slice()) };
 * sink.write(new Uint8Array([1, 2]));
 * console.assert(parts.length === 1);
 * ```
 */
export interface ByteSink {
  /**
   * Append bytes. The caller may reuse `bytes` once this returns, so a sink
   * that keeps them copies them.
   */
  write(bytes: Uint8Array): void;
}

/** A format writing one output: groups of records in storage order, then the end. */
export interface FormatWriter {
  /**
   * Append one group of records.
   *
   * @param columns every value field's column
   * @param count records in the group (each column's length)
   */
  write(columns: Columns, count: number): void | Promise<void>;
  /** Write what ends the output (a footer or end marker), after the last group. */
  finish(): void | Promise<void>;
}

/** Opens a format's writer on a sink for a feed's layout. */
export type OpenFormat = (layout: Layout, sink: ByteSink) => FormatWriter;

/** The value fields of a layout (padding left out), in record order. */
export function valueFields(layout: Layout): FieldLayout[] {
  return layout.fields.filter((f) => f.kind !== "pad");
}
