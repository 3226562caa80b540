/**
 * Records as text: JSON objects (for JSON lines, Server-Sent Events and
 * WebSocket messages) and CSV rows. 64-bit integers arrive as BigInt (the
 * server's readers use `{ bigint: true }`) and are written as their exact
 * digits, so a timestamp is an integer count of microseconds and no value
 * is rounded on the way out. Bytes fields are lowercase hex; a float that
 * JSON cannot hold (NaN, ±Infinity) is `null` in JSON and its name in CSV.
 *
 * @module
 */
import type { DecodedRecord, RecordValue } from "../schema/codec.ts";
import type { FieldLayout } from "../schema/spec.ts";

/** Turns records of one feed into text. */
export interface RecordText {
  /** The value fields' names, in layout order. */
  readonly names: readonly string[];
  /** One record as a JSON object. */
  json(rec: DecodedRecord): string;
  /** One record as a CSV row (no line end). */
  csv(rec: DecodedRecord): string;
  /** The CSV header row (no line end). */
  readonly csvHeader: string;
}

function hex(v: Uint8Array): string {
  let s = "";
  for (let i = 0; i < v.length; i++) s += (v[i]! < 16 ? "0" : "") + v[i]!.toString(16);
  return s;
}

function jsonValue(v: RecordValue): string {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
    case "string":
      return JSON.stringify(v);
    default:
      return `"${hex(v)}"`;
  }
}

/**
 * A CSV cell (RFC 4180): quoted when it holds a quote, comma or line break.
 *
 * @param s the cell's text
 * @returns the cell as written
 * @example
 * ```ts
 * import { csvCell } from "./encode.ts";
 * console.assert(csvCell('a,"b"') === '"a,""b"""');
 * ```
 */
export function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function csvValue(v: RecordValue): string {
  if (typeof v === "string") return csvCell(v);
  if (v instanceof Uint8Array) return hex(v);
  return String(v);
}

/**
 * The text forms of one feed's records.
 *
 * @param layout the feed's layout (padding is left out)
 * @returns the formatter
 * @example
 * ```ts
 * import { recordText } from "./encode.ts";
 * const text = recordText([
 *   { name: "price", kind: "float64", offset: 0, size: 8 },
 *   { name: "timestamp_us", kind: "uint64", offset: 8, size: 8 },
 * ]);
 * const rec = { price: 1.5, timestamp_us: 18446744073709551615n };
 * console.assert(text.json(rec) === '{"price":1.5,"timestamp_us":18446744073709551615}');
 * console.assert(text.csv(rec) === "1.5,18446744073709551615");
 * ```
 */
export function recordText(layout: readonly FieldLayout[]): RecordText {
  const names = layout.filter((f) => f.kind !== "pad").map((f) => f.name);
  const keys = names.map((n, i) => (i === 0 ? "{" : ",") + JSON.stringify(n) + ":");
  return {
    names,
    csvHeader: names.map(csvCell).join(","),
    json(rec) {
      let s = "";
      for (let i = 0; i < names.length; i++) s += keys[i]! + jsonValue(rec[names[i]!]!);
      return s + "}";
    },
    csv(rec) {
      let s = "";
      for (let i = 0; i < names.length; i++) {
        s += (i === 0 ? "" : ",") + csvValue(rec[names[i]!]!);
      }
      return s;
    },
  };
}
