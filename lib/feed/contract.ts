/**
 * The feed contract: what every writer and every reader does, whichever of
 * the two storage kinds holds the feed (chunk files for `persist: true`, a
 * shared-memory ring for `persist: false`). `Platform.createWriter` and
 * `Platform.createReader` return these types; code written against them
 * works with both kinds. The few things only a ring has (records lost to
 * overruns, its capacity, its shared-memory name) sit on
 * {@linkcode RingFeedReader} and {@linkcode RingFeedWriter}, reached by
 * checking `kind` through {@linkcode isRingReader} / {@linkcode isRingWriter}.
 *
 * The promises both kinds keep (tested by `tests/contract_test.ts` against a
 * feed of each kind):
 * - A writer commits each record whole or not at all; readers in any process
 *   see only whole, committed records, in commit order.
 * - A bad value throws `INVALID_VALUE` and commits nothing; a closed handle
 *   throws `CLOSED`; `close()` is idempotent and `Symbol.dispose` calls it.
 * - `readAvailable()` keeps one position for the reader (starting where the
 *   reader was opened); every `stream()` call starts its own position at the
 *   live head (or the newest playback marker, the first record at or after
 *   `from`, or where its named consumer left off). No call moves another's.
 *
 * @module
 */
import type { DecodedRecord } from "../schema/codec.ts";
import type { Layout } from "../schema/spec.ts";
import type { Columns } from "./columns.ts";
import type { RecordCursor } from "./cursor.ts";

/** Which storage holds a feed: chunk files (`persist: true`) or a shared-memory ring. */
export type FeedKind = "chunks" | "ring";

/**
 * When committed data is forced to storage (chunk feeds; a ring refuses
 * anything but the default).
 *
 * - `"page-cache"` (default): never msync; data survives a process crash
 *   (the kernel owns the pages) but not a power loss.
 * - `"rotation"`: msync each chunk when it is sealed, and on close.
 * - `"write"`: msync after every write call (`writeValues`, `write`,
 *   `writeBatch`): power-loss safe per call, and slow.
 * - `{ intervalMs }`: msync what was committed since the last flush every
 *   `intervalMs` milliseconds (1 .. 2^31-1, from a timer), and on close.
 */
export type Durability = "page-cache" | "rotation" | "write" | { intervalMs: number };

/**
 * Options for `Platform.createWriter`. An unknown key or a value of the
 * wrong type is `INVALID_ARGUMENT` naming the key.
 */
export interface WriterOptions {
  /** Durability setting (default `"page-cache"`). */
  durability?: Durability;
  /**
   * Create and pre-fault the next chunk on a worker thread ahead of rotation
   * (default true), so rotating costs microseconds instead of page faults.
   * A ring has nothing to prefetch and ignores it.
   */
  prefetch?: boolean;
}

/** Options for a single {@linkcode FeedWriter.write}. */
export interface WriteOptions {
  /** Mark this record as a playback point (chunk feeds with `index_playback`). */
  createIndex?: boolean;
}

/**
 * Options for `Platform.createReader`. An unknown key or a value of the
 * wrong type is `INVALID_ARGUMENT` naming the key.
 */
export interface ReaderOptions {
  /** Return 64-bit integer fields as BigInt (default: numbers, error when one does not fit). */
  bigint?: boolean;
  /**
   * Chunk mappings kept open for reuse (default 1024; chunk feeds). A mapping
   * costs only address space and one kernel VMA, and re-mapping on every
   * random seek costs tens of microseconds, so keep this above the chunks you
   * seek into. An integer from 1 to 65536 (the kernel's default
   * `vm.max_map_count` bounds a process's mappings near there anyway).
   */
  cacheChunks?: number;
}

/** How a live tail waits for the writer. */
export type WaitMode = "block" | "spin";

/**
 * Options for {@linkcode FeedReader.stream}. An unknown key or a value of the
 * wrong type is `INVALID_ARGUMENT` naming the key.
 */
export interface StreamOptions {
  /**
   * Start at the newest playback marker (chunk feeds with `index_playback`)
   * and continue live without a gap; with no marker yet, start at the live
   * head. A ring keeps no markers: `INVALID_ARGUMENT`.
   */
  playback?: boolean;
  /** Ends the stream cleanly when aborted. */
  signal?: AbortSignal;
  /**
   * `"block"` (default): sleep in a futex wait, burning no CPU while the feed
   * is idle (wake-up costs a few microseconds). `"spin"`: poll continuously
   * for the lowest latency; it keeps one core busy.
   */
  wait?: WaitMode;
  /**
   * Longest stretch, in milliseconds, without giving the event loop a turn,
   * while spinning or while records keep arriving (default 1, 0 .. 1000), so
   * timers and abort handlers still run.
   */
  spinYieldMs?: number;
  /**
   * Called with the number of records lost each time the writer laps this
   * stream (rings only; a chunk feed never loses a record, so never calls it).
   */
  onOverrun?: (lost: number) => void;
  /**
   * Replay history first: start at the first record, in storage order,
   * whose timestamp is at or after `from` (µs, a number or BigInt), then
   * continue live with no gap and no duplicate. Every record after that one
   * in storage order follows, whatever its timestamp: with out-of-order
   * writes, later records older than `from` are delivered too. When no
   * retained record is at or after `from`, the stream starts at the live
   * head. `-Infinity` (or 0) replays everything retained. Not with
   * `playback` (both say where to start: `INVALID_ARGUMENT`).
   */
  from?: number | bigint;
  /**
   * A named consumer (rules of feed names): the stream resumes right after
   * the last record this consumer acknowledged, in any process, across
   * restarts. Asking the iterator for the next record acknowledges the one
   * handed out before it, and `break` / `return()` acknowledges the last one
   * handed out, so a record whose loop body finished is never delivered
   * again, and the one record a crash interrupted is delivered again
   * (at-least-once for it, exactly-once otherwise). The first run of a new
   * consumer starts at `from` (or the newest playback marker) if given,
   * else at the live head; later runs ignore `from`. One stream per
   * consumer at a time, across processes: a second is `CONSUMER_LOCKED`
   * (a stream holds its consumer until it ends: `break`, the signal, or the
   * reader's close). A consumer stream writes its position file, so a
   * read-only platform refuses it (`READ_ONLY`).
   * Records retention deleted before the consumer got to them are skipped
   * (and logged with their count).
   */
  consumer?: string;
}

/**
 * Options for {@linkcode FeedReader.streamBatches}: those of `stream()`,
 * plus the batch size.
 */
export interface StreamBatchOptions extends StreamOptions {
  /**
   * Most bytes in one batch (default 262144, an integer from 1 to 2^30). A
   * batch always holds at least one whole record.
   */
  maxBytes?: number;
}

/**
 * Options for {@linkcode FeedReader.columns}.
 *
 * @example
 * ```ts
 * import type { ColumnsOptions } from "../../mod.ts";
 * const price = new Float64Array(1_000_000);
 * const options: ColumnsOptions = { into: { price } }; // reused call after call
 * ```
 */
export interface ColumnsOptions<C = Record<string, unknown>> {
  /**
   * Arrays you own to gather numeric and bool columns into, by field name
   * (each of the field's own type, as `columns()` returns it). A column that
   * fits is gathered into the front of its array and returned as a
   * `subarray` of it: no allocation and, in memory already touched, no page
   * faults, which for a fresh multi-megabyte array cost more than the
   * gather. An array too short for the range is left alone and a new one is
   * returned. A wrong type, an unknown field or two arrays sharing bytes is
   * `INVALID_ARGUMENT`.
   */
  into?: Partial<C>;
}

/**
 * Options for {@linkcode FeedReader.tail}: those of `stream()` but
 * `consumer` (a tail acknowledges nothing).
 */
export type TailOptions = Omit<StreamOptions, "consumer">;

/**
 * Appends records to one feed. Exactly one writer per feed exists across all
 * processes (a second gets `WRITER_LOCKED`). Create with
 * `Platform.createWriter`.
 *
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "trades",
 *     mode: "UF",
 *     fields: [
 *       { name: "price", type: "float64" },
 *       { name: "size", type: "float64" },
 *       { name: "timestamp_us", type: "uint64" },
 *     ],
 *     ts_col: "timestamp_us",
 *     chunk_size_mb: 0.0625,
 *   });
 *   using writer = platform.createWriter("trades");
 *   writer.writeValues(101.5, 2, 1_700_000_000_000_000);
 *   writer.write({ price: 101.75, size: 1, timestamp_us: 1_700_000_000_000_001 });
 *   console.assert(platform.createReader("trades").count() === 2);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface FeedWriter<
  V extends readonly unknown[] = unknown[],
  W extends object = Record<string, unknown>,
> {
  /** Which storage holds the feed. */
  readonly kind: FeedKind;
  /** Feed name. */
  readonly feed: string;
  /** Whether the writer is open. */
  readonly isOpen: boolean;
  /**
   * Settles once the writer's storage is pre-faulted (at once when there is
   * nothing to prepare). A writer works before that; awaiting it first keeps
   * page faults off the first writes, e.g. before a session opens.
   */
  readonly ready: Promise<void>;
  /**
   * Append positional values in schema order (padding fields skipped).
   * Validates every value first; a bad value throws `INVALID_VALUE` and
   * commits nothing.
   */
  readonly writeValues: (...values: V) => void;
  /**
   * Append one record given as an object keyed by field name: exactly the
   * feed's value fields (an unknown or missing key is `INVALID_VALUE`).
   *
   * @param record field values (padding fields are not given)
   * @param options `createIndex` marks a playback point (chunk feeds with `index_playback`)
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   writer.write({ price: 101.5, timestamp_us: 1_000 });
   *   console.assert(reader.latest()?.price === 101.5);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  write(record: W, options?: WriteOptions): void;
  /**
   * Append many packed records (little-endian, schema layout, `recordSize`
   * bytes each), publishing once per chunk or batch. Timestamps are checked
   * first; a bad batch throws `INVALID_VALUE` and commits nothing.
   *
   * @param bytes whole records
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   const encoder = new RecordEncoder(trades);
   *   writer.writeBatch(encoder.encode([
   *     { price: 101.5, timestamp_us: 1_000 },
   *     { price: 101.6, timestamp_us: 1_001 },
   *   ]));
   *   console.assert(reader.count() === 2);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  writeBatch(bytes: Uint8Array): void;
  /**
   * Force everything committed so far to storage (a no-op for rings).
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades, { durability: "rotation" });
   *   writer.writeValues(101.5, 1_000);
   *   writer.flush(); // on disk now, not only in the page cache
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  flush(): void;
  /**
   * Release the lock and the mappings; committed records stay. Idempotent.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   const writer = platform.createWriter(trades);
   *   writer.writeValues(101.5, 1_000);
   *   writer.close();
   *   writer.close(); // idempotent
   *   using again = platform.createWriter(trades); // the lock is free again
   *   console.assert(platform.createReader(trades).count() === 1);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  close(): void;
  /**
   * Same as `close()`.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   {
   *     using writer = platform.createWriter(trades);
   *     writer.writeValues(101.5, 1_000);
   *   } // closed here: the writer lock is released
   *   using again = platform.createWriter(trades);
   *   console.assert(again.isOpen);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  [Symbol.dispose](): void;
}

/**
 * A writer of a `persist: false` feed: the contract plus its shared-memory
 * ring's name and size.
 */
export interface RingFeedWriter<
  V extends readonly unknown[] = unknown[],
  W extends object = Record<string, unknown>,
> extends FeedWriter<V, W> {
  /** Always `"ring"`. */
  readonly kind: "ring";
  /** Shared-memory name of the ring (under /dev/shm). */
  readonly shmName: string;
  /** Slots in the ring: how many records it retains. */
  readonly capacity: number;
}

/**
 * Reads one feed: time ranges, the newest record, everything new since the
 * last look, and a live tail. Any number of readers, in any process. Create
 * with `Platform.createReader`.
 *
 * Records are decoded into plain objects (copies): they stay valid after
 * the reader closes. An iterator from `read()` or `stream()` still running
 * when the reader closes throws `CLOSED` on its next step (or ends).
 *
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "trades",
 *     mode: "UF",
 *     fields: [
 *       { name: "price", type: "float64" },
 *       { name: "timestamp_us", type: "uint64" },
 *     ],
 *     ts_col: "timestamp_us",
 *     chunk_size_mb: 0.0625,
 *   });
 *   using writer = platform.createWriter("trades");
 *   using reader = platform.createReader("trades");
 *   for (let i = 0; i < 10; i++) writer.writeValues(100 + i, 1_000 + i);
 *   console.assert(reader.count(1_002, 1_004) === 3);
 *   console.assert([...reader.read(1_008)].length === 2);
 *   console.assert(reader.latest()?.price === 109);
 *   console.assert(reader.readAvailable().length === 10);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface FeedReader<R extends object = DecodedRecord, C extends object = Columns> {
  /** Which storage holds the feed. */
  readonly kind: FeedKind;
  /** Feed name. */
  readonly feed: string;
  /** Whether the reader is open. */
  readonly isOpen: boolean;
  /**
   * Records in storage order, optionally limited to `startUs <= ts <= endUs`
   * (both inclusive). Bounds are numbers or BigInts of microseconds; left
   * out, a start of `-Infinity` or an end of `Infinity` is open; a start
   * below 0 means 0. A negative BigInt or one beyond 2^64-1, NaN,
   * `Infinity` as a start, `-Infinity` as an end or anything else is
   * `INVALID_ARGUMENT`.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @returns an iterator of decoded records
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 1_000 + i);
   *   const prices = [...reader.read(1_001, 1_003)].map((r) => r.price);
   *   console.assert(prices.join() === "101,102,103");
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  read(startUs?: number | bigint, endUs?: number | bigint): IterableIterator<R>;
  /**
   * Number of records `read(startUs, endUs)` would return right now.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 1_000 + i);
   *   console.assert(reader.count() === 5 && reader.count(1_002) === 3);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  count(startUs?: number | bigint, endUs?: number | bigint): number;
  /**
   * The newest committed record, or undefined when the feed is empty.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   console.assert(reader.latest() === undefined);
   *   writer.writeValues(101.5, 1_000);
   *   console.assert(reader.latest()?.price === 101.5);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  latest(): R | undefined;
  /**
   * The feed's record layout: every field (padding included) with its kind,
   * byte offset and size, the record size and the timestamp field. What
   * decodes the bytes `batches()` yields.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   const { recordSize, fields } = reader.layout;
   *   console.assert(recordSize === 24 && fields[1]!.offset === 8);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  readonly layout: Layout;
  /**
   * One column per field over the records of a time range (bounds as for
   * `read()`), in storage order: numbers in the field's own typed array
   * (`Float64Array` for float64, `Int32Array` for int32, `BigUint64Array`
   * for uint64, exact), `bool` as 0/1 bytes, `char`/`string` as strings,
   * `bytes` as byte arrays. Gathered by libdeepwater straight out of the
   * mapped chunks (a ring's retained records are copied and checked
   * first): the arrays are yours; nothing decodes records into objects.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @param fields the fields to gather, by name (default: every value field;
   *   an unknown or repeated name is `INVALID_ARGUMENT`)
   * @returns the columns, by field name, all of the same length
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   const { price, size } = reader.columns(1_001, 1_003, ["price", "size"]);
   *   let notional = 0;
   *   for (let i = 0; i < price.length; i++) notional += price[i]! * size[i]!;
   *   console.assert(price instanceof Float64Array && notional === 2 * (101 + 102 + 103));
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  columns(startUs?: number | bigint, endUs?: number | bigint): C;
  /**
   * {@linkcode FeedReader.columns} limited to some fields.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @param fields the fields to gather, by name
   * @param options `into`: arrays of yours to gather into, reused call after
   *   call (see {@linkcode ColumnsOptions})
   * @returns the columns asked for, by field name
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   const { timestamp_us } = reader.columns(undefined, undefined, ["timestamp_us"]);
   *   console.assert(timestamp_us instanceof BigUint64Array && timestamp_us[4] === 1_004n);
   *   // Windows into one array of yours: no allocation per call.
   *   const price = new Float64Array(1_000);
   *   const w = reader.columns(1_001, 1_002, ["price"], { into: { price } });
   *   console.assert(w.price.buffer === price.buffer && w.price.length === 2);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  columns<K extends keyof C & string>(
    startUs: number | bigint | undefined,
    endUs: number | bigint | undefined,
    fields: readonly K[],
    options?: ColumnsOptions<Pick<C, K>>,
  ): Pick<C, K>;
  /**
   * The records of a time range (bounds as for `read()`) as raw bytes:
   * `Uint8Array`s of whole committed records back to back, in storage
   * order, each from at most one chunk and at most 4 MiB. Each batch is a
   * copy you own (one memcpy per run; a ring's records are checked against
   * their sequence words first), ready for a transport or an export; decode
   * it with `reader.layout` or `batchColumns()`.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @returns an iterator of batches
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   let records = 0;
   *   for (const batch of reader.batches(1_001)) records += batch.length / reader.layout.recordSize;
   *   console.assert(records === 4);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  batches(startUs?: number | bigint, endUs?: number | bigint): IterableIterator<Uint8Array>;
  /**
   * A zero-copy cursor over the records of a time range (bounds as for
   * `read()`): `next()` returns one reused view whose getters read the
   * fields in place, in the mapped chunk. Nothing is allocated per record.
   *
   * Lifetime, as LMDB states it for `MDB_val`: the view describes the current
   * record only until the cursor advances or closes; after that its getters
   * throw `CLOSED`. `cursor.copy()` decodes the current record into an
   * object you keep. Close a cursor you leave before its end (`using`), so
   * its chunk is no longer pinned; the reader's close closes it too. If a
   * chunk file is truncated under the reader, its records read as zeros and
   * the cursor throws `CORRUPT` before it moves past that chunk.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @returns the cursor
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   using cursor = reader.cursor(1_001, 1_003);
   *   let notional = 0;
   *   for (let r; (r = cursor.next());) notional += r.price * r.size;
   *   console.assert(notional === 2 * (101 + 102 + 103));
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  cursor(startUs?: number | bigint, endUs?: number | bigint): RecordCursor<R>;
  /**
   * Call `fn` with a zero-copy view of each record of a time range (bounds
   * as for `read()`), in storage order; return `false` from it to stop. The
   * view is valid only until the callback returns (see `cursor()`).
   *
   * @param startUs first timestamp to include (undefined: all)
   * @param endUs last timestamp to include (undefined: all)
   * @param fn the visitor
   * @returns how many records were visited
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [
   *     { name: "price", type: "float64" },
   *     { name: "size", type: "float64" },
   *     { name: "timestamp_us", type: "uint64" },
   *   ],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 2, 1_000 + i);
   *   let notional = 0;
   *   const n = reader.visit(undefined, undefined, (r) => {
   *     notional += r.price * r.size;
   *   });
   *   console.assert(n === 5 && notional === 2 * (100 + 101 + 102 + 103 + 104));
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  visit(
    startUs: number | bigint | undefined,
    endUs: number | bigint | undefined,
    fn: (record: R) => unknown,
  ): number;
  /**
   * Records committed since the previous call (the first call: since the
   * reader was created), without waiting. Its position is its own: no
   * `stream()` moves it.
   *
   * @param max most records to return (default 65536; a positive integer)
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   writer.writeValues(101.5, 1_000);
   *   writer.writeValues(101.6, 1_001);
   *   console.assert(reader.readAvailable().length === 2);
   *   console.assert(reader.readAvailable().length === 0); // nothing new since
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  readAvailable(max?: number): R[];
  /**
   * Live tail: yields every record committed after the call (or from the
   * newest playback marker, from `from`, or after a named consumer's last
   * acknowledged record), in order, with no skip and no duplicate. Every
   * call has its own position. Ends when `signal` aborts or the reader
   * closes.
   *
   * @param options see {@linkcode StreamOptions}
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   const live = reader.stream({ signal: AbortSignal.timeout(5_000) });
   *   writer.writeValues(101.5, 1_000); // committed after the stream began
   *   for await (const rec of live) {
   *     console.assert(rec.price === 101.5);
   *     break;
   *   }
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  stream(options?: StreamOptions): AsyncIterableIterator<R>;
  /**
   * The live tail as raw bytes, for transports: each batch is a copy of
   * whole committed records in storage order (little-endian, the feed's
   * record layout), all from one chunk (rings: consecutive records), at most
   * `maxBytes`. The same positions as `stream()` with the same options
   * (`from`, `consumer`, `playback`, `wait`, `signal`, …): no gap, no
   * duplicate; for a consumer, a batch is acknowledged when the next one is
   * asked for (or on `break`).
   *
   * @param options see {@linkcode StreamBatchOptions}
   * @returns an async iterator of record batches, with its own position
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 3; i++) writer.writeValues(100 + i, 1_000 + i);
   *   for await (const bytes of reader.streamBatches({ from: 0 })) {
   *     console.assert(bytes.length === 3 * 16); // three 16-byte records
   *     break;
   *   }
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  streamBatches(options?: StreamBatchOptions): AsyncIterableIterator<Uint8Array>;
  /**
   * The lowest-latency live tail: calls `fn` synchronously with a zero-copy
   * view of every record committed after the call (or from `from`), in
   * order, with no skip and no duplicate; return `false` from it to stop.
   * Nothing is allocated per record and no promise is settled per record.
   * The view has the lifetime of a cursor's (valid until `fn` returns).
   * `wait: "spin"` busy-waits between records for the lowest latency and
   * gives the event loop a turn every `spinYieldMs`; `wait: "block"`
   * (default) sleeps in the futex wait. Resolves with the number of records
   * visited once `fn` returns `false`, `signal` aborts or the reader closes.
   *
   * @param fn the callback
   * @param options see {@linkcode TailOptions}
   * @returns how many records `fn` saw
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   using writer = platform.createWriter(trades);
   *   using reader = platform.createReader(trades);
   *   for (let i = 0; i < 3; i++) writer.writeValues(100 + i, 1_000 + i);
   *   let last = 0;
   *   const n = await reader.tail((r) => {
   *     last = r.price;
   *     return r.timestamp_us < 1_002; // stop after the third
   *   }, { from: 0 });
   *   console.assert(n === 3 && last === 102);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  tail(fn: (record: R) => unknown, options?: TailOptions): Promise<number>;
  /**
   * Unmap everything. Running iterators end or throw `CLOSED`. Idempotent.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   const reader = platform.createReader(trades);
   *   reader.close();
   *   reader.close(); // idempotent
   *   console.assert(!reader.isOpen);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  close(): void;
  /**
   * Same as `close()`.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   {
   *     using reader = platform.createReader(trades);
   *     console.assert(reader.isOpen);
   *   } // closed here
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  [Symbol.dispose](): void;
}

/**
 * A reader of a `persist: false` feed: the contract plus what only a ring
 * has. A ring retains its newest `capacity` records; a reader that falls
 * further behind loses the overwritten ones, counted in `lost` and reported
 * through `onOverrun`.
 */
export interface RingFeedReader<R extends object = DecodedRecord, C extends object = Columns>
  extends FeedReader<R, C> {
  /** Always `"ring"`. */
  readonly kind: "ring";
  /** Records this reader's `readAvailable()` and `stream()` calls lost to overruns so far. */
  readonly lost: number;
  /** Slots in the ring (how many records it retains), or 0 before a writer created it. */
  readonly capacity: number;
  /** Shared-memory name of the ring (under /dev/shm). */
  readonly shmName: string;
}

/**
 * Whether `reader` reads a shared-memory ring (`persist: false`), narrowing
 * it to {@linkcode RingFeedReader}.
 *
 * @param reader any reader
 * @returns true for a ring reader
 *
 * @example
 * ```ts
 * import { isRingReader, Platform } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "ticks",
 *     fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
 *     ts_col: "timestamp_us",
 *     chunk_size_mb: 0.0625,
 *     persist: false,
 *   });
 *   {
 *     using writer = platform.createWriter("ticks");
 *     using reader = platform.createReader("ticks");
 *     writer.writeValues(101.5, 1_000);
 *     if (isRingReader(reader)) console.assert(reader.lost === 0 && reader.capacity > 0);
 *   }
 *   platform.removeRing("ticks");
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function isRingReader<R extends object, C extends object>(
  reader: FeedReader<R, C>,
): reader is RingFeedReader<R, C> {
  return reader.kind === "ring";
}

/**
 * Whether `writer` writes a shared-memory ring (`persist: false`), narrowing
 * it to {@linkcode RingFeedWriter}.
 *
 * @param writer any writer
 * @returns true for a ring writer
 *
 * @example
 * ```ts
 * import { isRingWriter, Platform } from "../../mod.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed({
 *     feed_name: "ticks",
 *     fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
 *     ts_col: "timestamp_us",
 *     chunk_size_mb: 0.0625,
 *     persist: false,
 *   });
 *   {
 *     using writer = platform.createWriter("ticks");
 *     if (isRingWriter(writer)) console.assert(writer.shmName.startsWith("/dw-"));
 *   }
 *   platform.removeRing("ticks");
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function isRingWriter<V extends readonly unknown[], W extends object>(
  writer: FeedWriter<V, W>,
): writer is RingFeedWriter<V, W> {
  return writer.kind === "ring";
}
