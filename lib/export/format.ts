/**
 * What every export format implements: take one group of records as
 * columns, append it to the file, and finish the file at the end.
 *
 * @module
 */
import type { Columns } from "../feed/columns.ts";
import type { FieldLayout, Layout } from "../schema/spec.ts";
import type { FileSink } from "./sink.ts";

export type { Column } from "../schema/record_types.ts";
export type { Columns };

/** A format writing one file: groups of records in storage order, then the end. */
export interface FormatWriter {
  /**
   * Append one group of records.
   *
   * @param columns every value field's column
   * @param count records in the group (each column's length)
   */
  write(columns: Columns, count: number): void | Promise<void>;
  /** Write what ends the file (a footer), after the last group. */
  finish(): void | Promise<void>;
}

/** Opens a format's writer on a sink for a feed's layout. */
export type OpenFormat = (layout: Layout, sink: FileSink) => FormatWriter;

/** The value fields of a layout (padding left out), in record order. */
export function valueFields(layout: Layout): FieldLayout[] {
  return layout.fields.filter((f) => f.kind !== "pad");
}
