/**
 * Deepwater's export: a feed's records in a time range to Parquet, Arrow IPC
 * (Feather v2), CSV or JSON lines, for pandas, polars, DuckDB and Spark.
 *
 * A separate entry of the package (`@deepwater/deepwater/export`), so the
 * core (`mod.ts`) never loads its libraries: Apache Arrow (`apache-arrow`)
 * for Arrow IPC and `hyparquet-writer` for Parquet, each loaded only when
 * its format is asked for. The export streams: records are gathered into
 * columns one group at a time (at most 131,072 records or 16 MiB) and written
 * to a temporary file that is renamed into place when complete.
 *
 * Types: the timestamp field becomes a timestamp column (microseconds, UTC)
 * in Parquet and Arrow and integer microseconds in CSV and JSON lines;
 * 64-bit integers stay exact; chars and strings are UTF-8; bytes are
 * fixed-size binary in Parquet and Arrow, lowercase hex in text.
 *
 * @example
 * ```ts
 * import { Platform } from "./mod.ts";
 * import { exportFeed } from "./export.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * using platform = new Platform(dir, { log: { console: false } });
 * platform.createFeed({
 *   feed_name: "trades",
 *   fields: [
 *     { name: "price", type: "float64" },
 *     { name: "size", type: "float64" },
 *     { name: "timestamp_us", type: "uint64" },
 *   ],
 *   ts_col: "timestamp_us",
 *   chunk_size_mb: 0.0625,
 * });
 * using writer = platform.createWriter("trades");
 * for (let i = 0; i < 1000; i++) writer.writeValues(100 + i / 100, 1, 1_700_000_000_000_000 + i);
 * using reader = platform.createReader("trades");
 * const { records } = await exportFeed(reader, {
 *   format: "parquet",
 *   out: `${dir}/trades.parquet`,
 *   startUs: 1_700_000_000_000_100,
 *   endUs: 1_700_000_000_000_199,
 * });
 * console.assert(records === 100);
 * ```
 *
 * @module
 */
export { EXPORT_FORMATS, exportFeed } from "./lib/export/export.ts";
export type {
  ExportFormat,
  ExportOptions,
  ExportProgress,
  ExportResult,
  ExportSource,
} from "./lib/export/export.ts";
