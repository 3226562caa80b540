/**
 * Export a feed's records in a time range to Parquet, Arrow IPC, CSV or
 * JSON lines: raw batches of whole records (`reader.batches`) gathered into
 * columns (`batchColumns`) a group at a time, so memory stays bounded
 * whatever the feed's size, and written to a temporary file renamed into
 * place at the end.
 *
 * Each format's module (and its npm library) is loaded only when that
 * format is asked for.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { show, timeRange } from "../base/input.ts";
import type { FeedReader } from "../feed/contract.ts";
import { batchColumns } from "../feed/columns.ts";
import type { Layout } from "../schema/spec.ts";
import type { ByteSink, FormatWriter, OpenFormat } from "./format.ts";
import { valueFields } from "./format.ts";
import { FileSink } from "./sink.ts";

/** The formats {@linkcode exportFeed} writes. */
export type ExportFormat = "parquet" | "arrow" | "csv" | "jsonl";

/** Every export format, in the order the usage lists them. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["parquet", "arrow", "csv", "jsonl"];

/** How far an export has come, as {@linkcode ExportOptions.onProgress} is told. */
export interface ExportProgress {
  /** Records written so far. */
  records: number;
  /**
   * Records in the range when the export started (`reader.count`); a writer
   * appending meanwhile can take `records` past it.
   */
  total: number;
  /** Bytes written so far. */
  bytes: number;
}

/** Options of {@linkcode exportFeed}. */
export interface ExportOptions {
  /** `parquet`, `arrow` (IPC file, Feather v2), `csv` or `jsonl`. */
  format: ExportFormat;
  /** The file to write; replaced atomically when the export succeeds. Its directory must exist. */
  out: string;
  /** First timestamp to include, microseconds (default: the oldest record). */
  startUs?: number | bigint;
  /** Last timestamp to include, microseconds, inclusive (default: the newest record). */
  endUs?: number | bigint;
  /** Called after each group of records is written (and once at the end). */
  onProgress?: (progress: ExportProgress) => void;
  /** Stops the export between groups: the temporary file is removed and the signal's reason thrown. */
  signal?: AbortSignal;
}

/** What {@linkcode exportFeed} wrote. */
export interface ExportResult {
  /** The file written. */
  path: string;
  /** Its format. */
  format: ExportFormat;
  /** Records exported. */
  records: number;
  /** Size of the file in bytes. */
  bytes: number;
}

/** Records gathered per group: one Parquet row group, one Arrow record batch. */
const GROUP_RECORDS = 131072;
/** Raw bytes per group at most, so wide records make smaller groups. */
const GROUP_BYTES = 16 << 20;

/** What an export reads from: any feed reader (chunk or ring) has these. */
export type ExportSource = Pick<FeedReader, "feed" | "layout" | "batches" | "count">;

function invalid(feed: string, message: string): DeepwaterError {
  return new DeepwaterError("INVALID_ARGUMENT", `Cannot export "${feed}": ${message}`);
}

/** What {@linkcode openFormat} opens: an export format, or Arrow's IPC stream for HTTP. */
export type FormatName = ExportFormat | "arrow-stream";

/**
 * Open a format's writer on a sink, loading the format's module (and its npm
 * library) on first use.
 *
 * @param format the format
 * @param layout the feed's layout
 * @param sink where its bytes go
 * @returns the writer
 * @example
 * ```ts
 * import { openFormat } from "./export.ts";
 * import { BufferSink } from "./sink.ts";
 * import { computeLayout, normalizeSpec } from "../schema/spec.ts";
 * const layout = computeLayout(normalizeSpec({
 *   feed_name: "t",
 *   fields: [{ name: "ts", type: "uint64" }],
 *   ts_col: "ts",
 * }));
 * const sink = new BufferSink();
 * const writer = await openFormat("csv", layout, sink);
 * await writer.write({ ts: new BigUint64Array([7n]) }, 1);
 * console.assert(new TextDecoder().decode(sink.take()) === "ts\n7\n");
 * ```
 */
export async function openFormat(
  format: FormatName,
  layout: Layout,
  sink: ByteSink,
): Promise<FormatWriter> {
  let open: OpenFormat;
  switch (format) {
    case "parquet":
      open = (await import("./parquet.ts")).openParquet;
      break;
    case "arrow":
      open = (await import("./arrow.ts")).openArrow;
      break;
    case "arrow-stream":
      open = (await import("./arrow.ts")).openArrowStream;
      break;
    case "csv":
      open = (await import("./text.ts")).openCsv;
      break;
    case "jsonl":
      open = (await import("./text.ts")).openJsonl;
      break;
  }
  return open(layout, sink);
}

/** The options, checked: `INVALID_ARGUMENT` naming the option otherwise. */
function checkOptions(feed: string, options: unknown): ExportOptions & { range: [number, number] } {
  if (typeof options !== "object" || options === null) {
    throw invalid(feed, `options must be an object with "format" and "out", got ${show(options)}`);
  }
  const o = options as Record<string, unknown>;
  if (!EXPORT_FORMATS.includes(o.format as ExportFormat)) {
    throw invalid(
      feed,
      `option "format" must be one of ${EXPORT_FORMATS.join(", ")}, got ${show(o.format)}`,
    );
  }
  if (typeof o.out !== "string" || o.out === "" || o.out.includes("\0")) {
    throw invalid(feed, `option "out" must be a file path, got ${show(o.out)}`);
  }
  let isDir = false;
  try {
    isDir = Deno.statSync(o.out).isDirectory;
  } catch {
    // a new file
  }
  if (isDir) throw invalid(feed, `option "out" ${show(o.out)} is a directory: give a file path`);
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw invalid(feed, `option "onProgress" must be a function, got ${show(o.onProgress)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalid(feed, `option "signal" must be an AbortSignal, got ${show(o.signal)}`);
  }
  return { ...(o as unknown as ExportOptions), range: timeRange(o.startUs, o.endUs) };
}

/**
 * Export the records of a feed with `startUs <= ts <= endUs` (storage
 * order) to one file. The file appears only when the export is complete
 * (written under a temporary name, synced, renamed); a failed or aborted
 * export leaves the destination as it was.
 *
 * Types: the timestamp field becomes a timestamp column (microseconds, UTC)
 * in Parquet and Arrow, and integer microseconds in CSV and JSON lines;
 * 64-bit integers stay exact everywhere; chars and strings are UTF-8
 * strings; bytes are fixed-size binary in Parquet and Arrow, lowercase hex in
 * text.
 *
 * @param reader a reader of the feed (chunk or ring); it stays open
 * @param options format, destination, range, progress callback, abort signal
 * @returns the file, its format, the record count and its size
 * @throws {DeepwaterError} `INVALID_ARGUMENT` naming a bad option, `IO`
 *   naming the file when it cannot be written, `INVALID_VALUE` for a
 *   timestamp beyond what a 64-bit microsecond column holds
 *
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { exportFeed } from "../../export.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * using platform = new Platform(dir, { log: { console: false } });
 * platform.createFeed({
 *   feed_name: "trades",
 *   fields: [
 *     { name: "price", type: "float64" },
 *     { name: "timestamp_us", type: "uint64" },
 *   ],
 *   ts_col: "timestamp_us",
 *   chunk_size_mb: 0.0625,
 * });
 * using writer = platform.createWriter("trades");
 * for (let i = 0; i < 10; i++) writer.writeValues(100 + i, 1_700_000_000_000_000 + i);
 * using reader = platform.createReader("trades");
 * const result = await exportFeed(reader, { format: "csv", out: `${dir}/trades.csv` });
 * console.assert(result.records === 10);
 * console.assert(Deno.readTextFileSync(`${dir}/trades.csv`).startsWith("price,timestamp_us\n100,"));
 * ```
 */
export async function exportFeed(
  reader: ExportSource,
  options: ExportOptions,
): Promise<ExportResult> {
  const feed = reader.feed;
  const { format, out, onProgress, signal, range } = checkOptions(feed, options);
  const [start, end] = range;
  signal?.throwIfAborted();
  const layout = reader.layout;
  const fields = valueFields(layout).map((f) => f.name);
  const rs = layout.recordSize;
  const groupMax = Math.max(1, Math.min(GROUP_RECORDS, Math.floor(GROUP_BYTES / rs)));

  using sink = new FileSink(out);
  const writer = await openFormat(format, layout, sink);
  const total = onProgress && start <= end ? reader.count(start, end) : 0;
  let records = 0;

  const writeGroup = async (bytes: Uint8Array, count: number) => {
    const columns = batchColumns(bytes, layout, fields);
    await writer.write(columns, count);
    records += count;
    onProgress?.({ records, total, bytes: sink.bytesWritten });
    // Let signal handlers and abort listeners run between groups.
    await new Promise((r) => setTimeout(r, 0));
    signal?.throwIfAborted();
  };

  if (start <= end) {
    const stage = new Uint8Array(groupMax * rs);
    let staged = 0;
    for (const batch of reader.batches(start, end)) {
      const n = batch.length / rs;
      let at = 0;
      while (at < n) {
        if (staged === 0 && n - at >= groupMax) {
          await writeGroup(batch.subarray(at * rs, (at + groupMax) * rs), groupMax);
          at += groupMax;
          continue;
        }
        const take = Math.min(n - at, groupMax - staged);
        stage.set(batch.subarray(at * rs, (at + take) * rs), staged * rs);
        staged += take;
        at += take;
        if (staged === groupMax) {
          await writeGroup(stage, staged);
          staged = 0;
        }
      }
    }
    if (staged > 0) await writeGroup(stage.subarray(0, staged * rs), staged);
  }
  await writer.finish();
  sink.commit();
  onProgress?.({ records, total: Math.max(total, records), bytes: sink.bytesWritten });
  return { path: out, format, records, bytes: sink.bytesWritten };
}
