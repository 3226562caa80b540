/**
 * Deepwater: a zero-copy market-data store for Deno.
 *
 * Writers append fixed-size binary records to memory-mapped chunk files;
 * readers in any process on the same machine query time ranges with binary
 * search and tail new records live, without copying or serialising. The
 * native half, libdeepwater, is loaded through Deno FFI (build it with
 * `deno task build`; run with `--allow-ffi --allow-read --allow-write
 * --allow-env`, or `-A`).
 *
 * @example
 * ```ts
 * import { Platform } from "./mod.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * using platform = new Platform(dir, { log: { console: false } });
 * platform.createFeed({
 *   feed_name: "trades",
 *   mode: "UF",
 *   fields: [
 *     { name: "price", type: "float64", desc: "Trade price" },
 *     { name: "size", type: "float64" },
 *     { name: "timestamp_us", type: "uint64" },
 *   ],
 *   ts_col: "timestamp_us",
 *   chunk_size_mb: 0.25,
 *   retention_hours: 72,
 * });
 * using writer = platform.createWriter("trades");
 * for (let i = 0; i < 1000; i++) writer.writeValues(100 + i / 100, 1, 1_700_000_000_000_000 + i);
 * using reader = platform.createReader("trades");
 * const hits = [...reader.read(1_700_000_000_000_100, 1_700_000_000_000_199)];
 * console.assert(hits.length === 100);
 * ```
 *
 * @module
 */
import { checkDenoVersion } from "./lib/base/version.ts";

checkDenoVersion();

export { Platform } from "./lib/platform.ts";
export type { PlatformOptions } from "./lib/platform.ts";
export type { ChunkInfo, FeedInfo } from "./lib/ops/feed_stats.ts";
export type { ConsumerInfo } from "./lib/feed/consumers.ts";
export { isRingReader, isRingWriter } from "./lib/feed/contract.ts";
export { batchColumns } from "./lib/feed/columns.ts";
export type { Columns } from "./lib/feed/columns.ts";
export type { RecordCursor } from "./lib/feed/cursor.ts";
export type {
  ColumnsOptions,
  Durability,
  FeedKind,
  FeedReader,
  FeedWriter,
  ReaderOptions,
  RingFeedReader,
  RingFeedWriter,
  StreamBatchOptions,
  StreamOptions,
  TailOptions,
  WaitMode,
  WriteOptions,
  WriterOptions,
} from "./lib/feed/contract.ts";
export { DeepwaterError } from "./lib/base/errors.ts";
export type { DeepwaterErrorCode } from "./lib/base/errors.ts";
export type {
  FeedSpec,
  FieldKind,
  FieldLayout,
  FieldSpec,
  Layout,
  NormalizedSpec,
  ScalarType,
} from "./lib/schema/spec.ts";
export { defineFeed } from "./lib/schema/spec.ts";
export { RecordEncoder } from "./lib/schema/encoder.ts";
export type {
  Column,
  ColumnOf,
  ColumnsOf,
  InputOf,
  NameOf,
  OutputOf,
  PaddingType,
  RecordOf,
  ValuesOf,
  WideIntType,
  WriteRecordOf,
} from "./lib/schema/record_types.ts";
export type { Manifest } from "./lib/directory/manifest.ts";
export type { DecodedRecord, RecordValue } from "./lib/schema/codec.ts";
export type { LogOptions } from "./lib/base/log.ts";
export { ABI_VERSION, FORMAT_VERSION, PACKAGE_VERSION } from "./lib/base/version.ts";
