/**
 * CSV and JSON lines. Every value is printed exactly: integers (64-bit ones
 * too) as decimal digits, the timestamp as integer microseconds since the
 * epoch (UTC), floats in the shortest form that reads back to the same
 * value, booleans as `true`/`false`, strings and chars as text, bytes as
 * lowercase hex. CSV follows RFC 4180 (a header line; a cell holding `,`,
 * `"`, CR or LF is quoted); JSON lines write NaN and ±Infinity, which JSON
 * cannot hold, as `null`.
 *
 * @module
 */
import type { FieldLayout, Layout } from "../schema/spec.ts";
import type { ByteSink, Column, Columns, FormatWriter } from "./format.ts";
import { valueFields } from "./format.ts";

/** Print value `i` of a column. */
type Cell = (column: Column, i: number) => string;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

function csvQuote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** How CSV prints a field's values. */
function csvCell(f: FieldLayout): Cell {
  switch (f.kind) {
    case "bool":
      return (c, i) => ((c as Uint8Array)[i] ? "true" : "false");
    case "char":
    case "string":
      return (c, i) => csvQuote((c as string[])[i]!);
    case "bytes":
      return (c, i) => hex((c as Uint8Array[])[i]!);
    default:
      // Numbers (NaN and ±Infinity print as DuckDB and pandas read them) and BigInts.
      return (c, i) => String((c as Float64Array)[i]);
  }
}

/** How JSON lines print a field's values. */
function jsonCell(f: FieldLayout): Cell {
  switch (f.kind) {
    case "bool":
      return (c, i) => ((c as Uint8Array)[i] ? "true" : "false");
    case "char":
    case "string":
      return (c, i) => JSON.stringify((c as string[])[i]!);
    case "bytes":
      return (c, i) => `"${hex((c as Uint8Array[])[i]!)}"`;
    case "float32":
    case "float64":
      return (c, i) => {
        const v = (c as Float64Array)[i]!;
        return Number.isFinite(v) ? String(v) : "null";
      };
    default:
      return (c, i) => String((c as Float64Array)[i]);
  }
}

/** A line-per-record text format: an optional header, then one line per record. */
class LineWriter implements FormatWriter {
  readonly #sink: ByteSink;
  readonly #names: string[];
  readonly #cells: Cell[];
  readonly #line: (parts: string[]) => string;
  readonly #encoder = new TextEncoder();

  constructor(
    sink: ByteSink,
    fields: FieldLayout[],
    cells: Cell[],
    line: (parts: string[]) => string,
    header: string | undefined,
  ) {
    this.#sink = sink;
    this.#names = fields.map((f) => f.name);
    this.#cells = cells;
    this.#line = line;
    if (header !== undefined) sink.write(this.#encoder.encode(header + "\n"));
  }

  write(columns: Columns, count: number): void {
    const cols = this.#names.map((n) => columns[n]!);
    const cells = this.#cells;
    const parts = new Array<string>(cols.length);
    let text = "";
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < cols.length; j++) parts[j] = cells[j]!(cols[j]!, i);
      text += this.#line(parts) + "\n";
      // Encode in slices so a group's text stays small next to its columns.
      if (text.length > 1 << 20) {
        this.#sink.write(this.#encoder.encode(text));
        text = "";
      }
    }
    if (text.length) this.#sink.write(this.#encoder.encode(text));
  }

  finish(): void {}
}

/**
 * Open a CSV writer: a header of the value fields' names, then one line per record.
 *
 * @param layout the feed's layout
 * @param sink where the file goes
 * @returns the writer
 */
export function openCsv(layout: Layout, sink: ByteSink): FormatWriter {
  const fields = valueFields(layout);
  return new LineWriter(
    sink,
    fields,
    fields.map(csvCell),
    (parts) => parts.join(","),
    fields.map((f) => csvQuote(f.name)).join(","),
  );
}

/**
 * Open a JSON-lines writer: one object per record, keys in record order.
 *
 * @param layout the feed's layout
 * @param sink where the file goes
 * @returns the writer
 */
export function openJsonl(layout: Layout, sink: ByteSink): FormatWriter {
  const fields = valueFields(layout);
  const keys = fields.map((f) => JSON.stringify(f.name) + ":");
  return new LineWriter(
    sink,
    fields,
    fields.map(jsonCell),
    (parts) => {
      let s = "{";
      for (let j = 0; j < parts.length; j++) s += (j ? "," : "") + keys[j] + parts[j];
      return s + "}";
    },
    undefined,
  );
}
