/**
 * The Platform: one data directory, its manifest, catalog and log, and the
 * writers and readers opened through it.
 *
 * @module
 */
import { Catalog, type CatalogEntry } from "./directory/catalog.ts";
import { closedError, closeReason, DeepwaterError } from "./base/errors.ts";
import { type FeedContext, feedContext, layoutCrc } from "./directory/feed.ts";
import { REG_CAPACITY } from "./chunks/format.ts";
import { chunkIdOf } from "./directory/paths.ts";
import { writeFileAtomic } from "./native/atomic_file.ts";
import { recoverEntry } from "./ops/recover.ts";
import { platformOptions, type SignalMode } from "./base/input.ts";
import { Log, type LogOptions } from "./base/log.ts";
import { ensureManifest, type Manifest, requireManifest } from "./directory/manifest.ts";
import { BasePaths } from "./directory/paths.ts";
import { removeRing, ringName } from "./ring/format.ts";
import type { FeedReader, FeedWriter, ReaderOptions, WriterOptions } from "./feed/contract.ts";
import { openReader, openWriter } from "./ops/open.ts";
import { Registry } from "./chunks/registry.ts";
import {
  computeLayout,
  type FeedSpec,
  type NormalizedSpec,
  normalizeSpec,
  validateFeedName,
} from "./schema/spec.ts";
import { type FeedInfo, feedInfo } from "./ops/feed_stats.ts";
import { type ConsumerInfo, listConsumers, removeConsumer } from "./feed/consumers.ts";
import type { ColumnsOf, RecordOf, ValuesOf, WriteRecordOf } from "./schema/record_types.ts";

/**
 * Options for {@linkcode Platform}. An unknown key or a value of the wrong
 * type is `INVALID_ARGUMENT` naming the key.
 */
export interface PlatformOptions {
  /** Logging (default: `<base>/deepwater.log`, never on a read-only platform, plus warnings on stderr). */
  log?: LogOptions;
  /**
   * What SIGINT and SIGTERM do (listeners are added beside the application's
   * own, never replacing them):
   * - `"exit"` (default): close every writer and reader of this platform
   *   (committed data intact, locks released), then exit with 128 + signal
   *   number (130, 143) as soon as the signal's listeners (the
   *   application's too) have run, before any timer or socket callback can
   *   write again. Every write that returned is committed; a write that
   *   still gets in (a callback already queued when the signal arrived)
   *   throws `CLOSED`, so it is never reported as written, and if nothing
   *   catches that `CLOSED` the process still exits with 128 + signal
   *   number, without a stack trace. (Deno stops exiting on a signal once
   *   any listener exists, so a library that listens must exit on the
   *   application's behalf.) For asynchronous clean-up of your own, use
   *   `"close"` and exit yourself.
   * - `"close"`: close writers and readers but leave exiting to the
   *   application's own handler.
   * - `"none"`: install nothing.
   */
  signals?: "exit" | "close" | "none";
  /**
   * `true`: open without creating, writing or logging anything in the
   * directory. Without it (or with `false`) a directory this process cannot
   * write is opened read-only all the same. Readers, `stream()`,
   * `getFeedInfo` and `listFeeds` work; `createFeed`, `createWriter` and
   * `removeRing` throw `READ_ONLY`; the directory must already hold a
   * manifest. A live tail then polls every millisecond instead of waiting on
   * the writer's futex (registering as a waiter is a write).
   */
  readOnly?: boolean;
}

/**
 * One Deepwater data directory. Creates the directory layout, checks the
 * manifest's format version, and opens writers and readers.
 *
 * @example
 * ```ts
 * import { Platform } from "../mod.ts";
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
 *   using reader = platform.createReader("trades");
 *   console.assert(reader.latest()?.price === 101.5);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class Platform {
  /** Absolute path of the data directory. */
  readonly basePath: string;
  readonly #paths: BasePaths;
  /** The manifest in force. */
  readonly manifest: Manifest;
  /**
   * Whether this platform only reads (asked for with `readOnly: true`, or
   * because the process cannot write the directory).
   */
  readonly readOnly: boolean;
  /** Why the platform is read-only, for messages. */
  readonly #readOnlyWhy: string;
  readonly #catalog: Catalog;
  readonly #log: Log;
  readonly #writers = new Set<FeedWriter>();
  readonly #readers = new Set<FeedReader>();
  readonly #signalListeners: [Deno.Signal, () => void][] = [];
  #open = true;

  /**
   * Open (creating if needed) a data directory. A directory this process
   * cannot write is opened read-only (see {@linkcode PlatformOptions.readOnly}).
   *
   * @param basePath directory for manifest, catalog, log and feeds; at most
   *   3840 bytes once resolved, so every file under it fits PATH_MAX
   * @param options logging, signals and read-only options
   */
  constructor(basePath: string, options?: PlatformOptions) {
    if (typeof basePath !== "string" || basePath.length === 0) {
      throw new DeepwaterError("INVALID_ARGUMENT", "Platform needs a base path (a directory)");
    }
    const o = platformOptions(options);
    this.#paths = new BasePaths(basePath);
    this.basePath = this.#paths.base;
    let readOnly = o.readOnly;
    let why = "it was opened with readOnly: true";
    let manifest: Manifest | undefined;
    let log: Log | undefined;
    if (!readOnly) {
      // Each step creates only what is missing. The first one this process
      // may not do (a directory, manifest or log it cannot create, or a log
      // it cannot append to) means the directory is someone else's to write:
      // the step failed, so it created nothing, and no later step runs.
      try {
        try {
          Deno.mkdirSync(this.#paths.feeds, { recursive: true });
        } catch (e) {
          throw new DeepwaterError(
            "IO",
            `Cannot create data directory "${this.#paths.base}": ${e}`,
            { path: this.#paths.base, cause: e },
          );
        }
        manifest = ensureManifest(this.#paths.manifest, this.#paths.catalogLock);
        log = new Log(this.#paths.log, o.log);
      } catch (e) {
        if (!writeDenied(e) || !isDirectory(this.#paths.base)) throw e;
        readOnly = true;
        why = "this process may not write it";
      }
    }
    if (readOnly) {
      manifest = requireManifest(this.#paths.manifest, this.#paths.base);
      log = new Log(this.#paths.log, { ...o.log, file: false });
    }
    this.readOnly = readOnly;
    this.#readOnlyWhy = why;
    this.manifest = manifest!;
    this.#log = log!;
    try {
      this.#catalog = new Catalog(this.#paths.catalog, this.#paths.catalogLock);
      this.#catalog.read(); // fail early on a corrupt or foreign catalog
      this.#installSignals(o.signals);
    } catch (e) {
      this.#log.close();
      throw e;
    }
    this.#log.info("platform opened", {
      base: this.#paths.base,
      format: this.manifest.format_version,
    });
  }

  /**
   * Define a feed. Idempotent for the same spec; a changed layout (fields,
   * types, order, ts_col, persist) throws `SCHEMA_DRIFT`; changed lifecycle
   * knobs (`retention_hours`, `chunk_size_mb` for new chunks, `index_playback`)
   * are applied. Safe to call from several processes at once.
   *
   * @param spec the feed spec (the seed's keys)
   * @returns the normalised spec now in the catalog
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   const again = platform.createFeed(trades); // idempotent for the same spec
   *   console.assert(again.chunk_size_mb === 0.0625 && again.retention_hours === 72);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createFeed(spec: FeedSpec): NormalizedSpec {
    this.#check();
    this.#writable("create a feed");
    const s = normalizeSpec(spec);
    const layout = computeLayout(s);
    return this.#catalog.update((entries) => {
      const i = entries.findIndex((e) => e.spec.feed_name === s.feed_name);
      const existing = entries[i];
      if (existing) {
        checkSameLayout(existing, s, layout.descriptor);
        const knobs = ["retention_hours", "chunk_size_mb", "index_playback"] as const;
        const changed = knobs.filter((k) => existing.spec[k] !== s[k]);
        const sameDesc = JSON.stringify(existing.spec.fields) === JSON.stringify(s.fields);
        if (changed.length === 0 && sameDesc) return { result: existing.spec };
        this.#log.info(`feed "${s.feed_name}" updated`, { changed });
        const next = [...entries];
        next[i] = { ...existing, spec: s };
        writeSpecCopy(this.#paths.specCopy(s.feed_name), next[i]!);
        return { result: s, replace: next };
      }
      const entry: CatalogEntry = {
        spec: s,
        descriptor: layout.descriptor,
        created: new Date().toISOString(),
      };
      const adopted = this.#adopt(entry);
      if (adopted) {
        writeSpecCopy(this.#paths.specCopy(s.feed_name), adopted);
        this.#log.warn(
          `feed "${s.feed_name}" was missing from the catalog; adopted its existing directory`,
        );
        return { result: s, append: adopted };
      }
      const dir = this.#paths.feedDir(s.feed_name);
      Deno.mkdirSync(dir, { recursive: true });
      if (s.persist) {
        Registry.create(this.#paths.registry(s.feed_name), {
          capacity: REG_CAPACITY,
          recordSize: layout.recordSize,
          tsOffset: layout.tsOffset,
          layoutCrc: layoutCrc(layout.descriptor),
          spec: JSON.stringify(entry),
        });
      }
      writeSpecCopy(this.#paths.specCopy(s.feed_name), entry);
      this.#log.info(`feed "${s.feed_name}" created`, {
        recordSize: layout.recordSize,
        persist: s.persist,
      });
      return { result: s, append: entry };
    });
  }

  /**
   * A feed the catalog does not list may still have a directory (a lost
   * catalog, or one restored from an older backup): adopt it when what it
   * holds was written for the requested layout, refuse otherwise, and never
   * replace its registry. Returns the entry to add, or undefined for a new
   * feed.
   */
  #adopt(requested: CatalogEntry): CatalogEntry | undefined {
    const name = requested.spec.feed_name;
    const dir = this.#paths.feedDir(name);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(dir);
    } catch {
      return undefined;
    }
    if (!st.isDirectory) {
      throw new DeepwaterError(
        "CORRUPT",
        `Feed directory "${dir}" is ${
          st.isSymlink ? "a symbolic link" : "not a directory"
        }; Deepwater does not follow links inside its data directory: remove it or put the feed's real directory there`,
        { path: dir },
      );
    }
    const holdsData = [...Deno.readDirSync(dir)].some((e) =>
      e.name === "registry.dwr" || chunkIdOf(e.name) !== undefined
    );
    const found = recoverEntry(this.#paths, name);
    if (!found) {
      if (!holdsData) return undefined; // only locks or a spec copy: nothing to keep
      throw new DeepwaterError(
        "CORRUPT",
        `Feed "${name}" is not in the catalog but "${dir}" holds its data, and neither its spec.json nor its registry describes the layout: run deepwater-repair, or restore spec.json from a backup`,
        { path: dir },
      );
    }
    checkSameLayout(found, requested.spec, requested.descriptor);
    if (requested.spec.persist && holdsData) {
      try {
        Deno.lstatSync(this.#paths.registry(name));
      } catch {
        throw new DeepwaterError(
          "CORRUPT",
          `Feed "${name}" has chunk files but no registry: run deepwater-repair --feed ${name} to rebuild it`,
          { path: this.#paths.registry(name) },
        );
      }
    }
    return { ...found, spec: requested.spec };
  }
  /**
   * Open the writer of a feed (one per feed across all processes), typed by
   * its spec: `writeValues` takes the spec's values in order and `write` its
   * record (see `defineFeed`). The spec must have the catalog's layout
   * (`SCHEMA_DRIFT` otherwise), so the types cannot lie.
   *
   * @param spec the feed's spec, declared `as const` or with `defineFeed`
   * @param options durability and prefetch settings
   * @returns the typed writer
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   writer.writeValues(101.5, 1_000); // typed: (number, number | bigint)
   *   writer.write({ price: 101.6, timestamp_us: 1_001 });
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createWriter<const S extends FeedSpec>(
    spec: S,
    options?: WriterOptions,
  ): FeedWriter<ValuesOf<S["fields"]>, WriteRecordOf<S>>;
  /**
   * Open the writer of a feed by name (one per feed across all processes).
   *
   * @param feedName feed to write
   * @param options durability and prefetch settings
   * @returns the writer
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   using writer = platform.createWriter("trades"); // by name: values untyped
   *   writer.writeValues(101.5, 1_000);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createWriter(feedName: string, options?: WriterOptions): FeedWriter;
  /** @ignore The implementation behind the overloads above. */
  createWriter(feed: string | FeedSpec, options: WriterOptions = {}): FeedWriter {
    this.#check();
    this.#writable(`open a writer of "${typeof feed === "string" ? feed : feed?.feed_name}"`);
    const ctx = this.#context(feed);
    const w = openWriter(ctx, options, (x) => this.#writers.delete(x));
    this.#writers.add(w);
    return w;
  }

  /**
   * Open a reader of a feed (any number, in any process), typed by its spec
   * with 64-bit integers as BigInt (see `defineFeed`). The spec must have the
   * catalog's layout (`SCHEMA_DRIFT` otherwise).
   *
   * @param spec the feed's spec, declared `as const` or with `defineFeed`
   * @param options `bigint: true`, chunk cache size
   * @returns the typed reader
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   writer.writeValues(101.5, 1_000);
   *   using reader = platform.createReader(trades, { bigint: true });
   *   const ts: bigint = reader.latest()!.timestamp_us;
   *   console.assert(ts === 1_000n);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createReader<const S extends FeedSpec>(
    spec: S,
    options: ReaderOptions & { bigint: true },
  ): FeedReader<RecordOf<S, true>, ColumnsOf<S>>;
  /**
   * Open a reader of a feed (any number, in any process), typed by its spec:
   * records have the spec's field names and types (see `defineFeed`). The
   * spec must have the catalog's layout (`SCHEMA_DRIFT` otherwise).
   *
   * @param spec the feed's spec, declared `as const` or with `defineFeed`
   * @param options chunk cache size (`bigint: true` has its own overload)
   * @returns the typed reader
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   writer.writeValues(101.5, 1_000);
   *   using reader = platform.createReader(trades);
   *   const price: number = reader.latest()!.price; // typed by the spec
   *   console.assert(price === 101.5);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createReader<const S extends FeedSpec>(
    spec: S,
    options?: ReaderOptions,
  ): FeedReader<RecordOf<S>, ColumnsOf<S>>;
  /**
   * Open a reader of a feed by name (any number, in any process).
   *
   * @param feedName feed to read
   * @param options BigInt output, chunk cache size
   * @returns the reader
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   using reader = platform.createReader("trades"); // by name: records untyped
   *   console.assert(reader.count() === 0);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  createReader(feedName: string, options?: ReaderOptions): FeedReader;
  /** @ignore The implementation behind the overloads above. */
  createReader(feed: string | FeedSpec, options: ReaderOptions = {}): FeedReader {
    const ctx = this.#context(feed);
    const r = openReader(ctx, options, (x) => this.#readers.delete(x));
    this.#readers.add(r);
    return r;
  }

  /**
   * Remove the shared-memory ring of a `persist: false` feed (its records
   * are gone). Attached writers re-create it within a second and streaming
   * readers follow; new readers see an empty feed until then.
   *
   * @param feedName a ring feed
   * @returns whether a ring existed
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   platform.createFeed({ ...trades, feed_name: "ticks", persist: false });
   *   console.assert(platform.removeRing("ticks") === false); // no writer has created it yet
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  removeRing(feedName: string): boolean {
    this.#check();
    this.#writable(`remove the ring of "${feedName}"`);
    const ctx = this.#context(feedName);
    if (ctx.spec.persist) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Feed "${feedName}" is persisted; it has no ring`,
      );
    }
    const removed = removeRing(ringName(ctx));
    if (removed) this.#log.info(`ring of "${feedName}" removed`);
    return removed;
  }

  /**
   * Names of all feeds, in creation order.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   console.assert(platform.listFeeds().join() === "trades");
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  listFeeds(): string[] {
    this.#check();
    return this.#catalog.read().map((e) => e.spec.feed_name);
  }

  /**
   * Spec, layout and storage statistics of a feed.
   *
   * @param feedName feed to describe
   * @returns the feed's info
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   writer.writeValues(101.5, 1_000);
   *   const info = platform.getFeedInfo("trades");
   *   console.assert(info.recordCount === 1 && info.recordSize === 16 && info.lastTs === 1_000);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  getFeedInfo(feedName: string): FeedInfo {
    const ctx = this.#context(feedName);
    return feedInfo(ctx, this.#entry(feedName).created);
  }

  /**
   * The named consumers of a feed (see `stream({ consumer })`): where each
   * resumes, when it last moved on, and whether a stream holds it now.
   *
   * @param feedName the feed
   * @returns the consumers, by name
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../mod.ts";
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
   *   for await (const _ of reader.stream({ consumer: "risk", from: 0 })) break;
   *   const [risk] = platform.listConsumers("trades");
   *   console.assert(risk?.name === "risk" && !risk.active);
   *   console.assert(platform.removeConsumer("trades", "risk"));
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  listConsumers(feedName: string): ConsumerInfo[] {
    const ctx = this.#context(feedName);
    return listConsumers(ctx.paths, ctx.name);
  }

  /**
   * Forget a named consumer of a feed: its next stream starts as new (at
   * `from`, or the live head). A stream using it is `CONSUMER_LOCKED`.
   *
   * @param feedName the feed
   * @param consumer the consumer's name
   * @returns whether it existed
   * @example
   * ```ts
   * import { defineFeed, Platform } from "../mod.ts";
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
   *   console.assert(platform.removeConsumer("trades", "risk") === false); // never streamed
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  removeConsumer(feedName: string, consumer: string): boolean {
    this.#check();
    this.#writable(`remove consumer "${consumer}" of "${feedName}"`);
    const ctx = this.#context(feedName);
    const removed = removeConsumer(ctx.paths, ctx.name, consumer);
    if (removed) this.#log.info(`consumer "${consumer}" of "${feedName}" removed`);
    return removed;
  }

  /**
   * Whether the platform is open.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   console.assert(platform.isOpen);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  get isOpen(): boolean {
    return this.#open;
  }

  #installSignals(mode: SignalMode): void {
    if (mode === "none") return;
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const listener = () => {
        const writers = this.#writers.size;
        this.#log.info(`${signal} received: closing ${writers} writer(s)`);
        if (mode === "exit") exitForSignal(code);
        this.close();
      };
      Deno.addSignalListener(signal, listener);
      this.#signalListeners.push([signal, listener]);
    }
  }

  /**
   * Close every writer and reader opened here, then the log. Idempotent.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *   const p = new Platform(dir, { log: { console: false } });
   *   const writer = p.createWriter(trades);
   *   p.close(); // closes the writer too
   *   p.close(); // idempotent
   *   console.assert(!p.isOpen && !writer.isOpen);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const [signal, listener] of this.#signalListeners) {
      Deno.removeSignalListener(signal, listener);
    }
    const why =
      `its Platform was closed (platform.close(), a signal, or the end of the block holding it with \`using\`) while it was still in use: keep the Platform open as long as its writers and readers are used`;
    for (const w of [...this.#writers]) {
      closeReason(w, why);
      w.close();
    }
    for (const r of [...this.#readers]) {
      closeReason(r, why);
      r.close();
    }
    this.#log.info("platform closed");
    this.#log.close();
  }

  /**
   * Same as {@linkcode Platform.close}.
   *
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../mod.ts";
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
   *     using p = new Platform(dir, { log: { console: false } });
   *     console.assert(p.isOpen);
   *   } // closed here, with its writers and readers
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (!this.#open) throw closedError("Platform");
  }

  #writable(action: string): void {
    if (!this.readOnly) return;
    throw new DeepwaterError(
      "READ_ONLY",
      `Cannot ${action}: the platform on "${this.#paths.base}" is read-only (${this.#readOnlyWhy}): open it with write access to change it`,
      { path: this.#paths.base },
    );
  }

  #entry(feedName: string): CatalogEntry {
    this.#check();
    validateFeedName(feedName, "feedName");
    const entry = this.#catalog.get(feedName);
    if (!entry) {
      throw new DeepwaterError(
        "FEED_NOT_FOUND",
        `Feed "${feedName}" does not exist in "${this.#paths.base}": create it with createFeed()`,
      );
    }
    return entry;
  }

  /**
   * The feed a name or a spec names; a spec must also have the catalog's
   * layout and storage kind, since typed handles are typed by it.
   */
  #context(feed: string | FeedSpec): FeedContext {
    const named = typeof feed === "string";
    const entry = this.#entry(named ? feed : validateFeedName(feed?.feed_name, "feed_name"));
    if (!named) {
      const s = normalizeSpec(feed);
      checkSameLayout(entry, s, computeLayout(s).descriptor);
    }
    const ctx = feedContext(entry, this.#paths, this.#log, this.manifest.ring_id);
    checkFeedDir(ctx.paths.feedDir(ctx.name));
    return this.readOnly ? { ...ctx, readOnly: true } : ctx;
  }
}

/** The exit code a signal in `"exit"` mode is ending the process with, once one arrived. */
let exitingWith: number | undefined;

/**
 * End the process with `code` before application code runs again: at the end
 * of the current task, once every signal listener (the application's too) has
 * run, so no timer or socket callback fires on a closed writer. Callbacks
 * already queued in this task (a promise continuation, a WebSocket message
 * dispatched from one) can still call a handle the signal closed: the CLOSED
 * they get means "not written", and left uncaught it ends the process with
 * `code` too, instead of a stack trace and exit 1.
 */
function exitForSignal(code: number): void {
  if (exitingWith !== undefined) return;
  exitingWith = code;
  const closedBySignal = (e: ErrorEvent | PromiseRejectionEvent) => {
    const error: unknown = e instanceof ErrorEvent ? e.error : e.reason;
    if (error instanceof DeepwaterError && error.code === "CLOSED") {
      e.preventDefault();
      Deno.exit(code);
    }
  };
  globalThis.addEventListener("error", closedBySignal);
  globalThis.addEventListener("unhandledrejection", closedBySignal);
  queueMicrotask(() => Deno.exit(code));
}

/** Keep `<feed>/spec.json` in step with the catalog so repair can rebuild a damaged catalog. */
function writeSpecCopy(path: string, entry: CatalogEntry): void {
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(entry, null, 2) + "\n"), {
    sync: false,
  });
}

/** A feed directory must be a real directory: a link could lead anywhere outside the base. */
function checkFeedDir(dir: string): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(dir);
  } catch (e) {
    throw new DeepwaterError(
      "CORRUPT",
      `Feed directory "${dir}" is missing: run deepwater-repair, or restore it from a backup`,
      { path: dir, cause: e },
    );
  }
  if (!st.isDirectory) {
    throw new DeepwaterError(
      "CORRUPT",
      `Feed directory "${dir}" is ${
        st.isSymlink ? "a symbolic link" : "not a directory"
      }; Deepwater does not follow links inside its data directory: put the feed's real directory there`,
      { path: dir },
    );
  }
}

/** Throw `SCHEMA_DRIFT` unless an existing entry has the requested layout and storage kind. */
function checkSameLayout(existing: CatalogEntry, s: NormalizedSpec, descriptor: string): void {
  if (existing.descriptor === descriptor && existing.spec.persist === s.persist) return;
  throw new DeepwaterError(
    "SCHEMA_DRIFT",
    `Feed "${s.feed_name}" exists with another layout: existing [${existing.descriptor}${
      existing.spec.persist ? "" : ", persist=false"
    }], requested [${descriptor}${s.persist ? "" : ", persist=false"}]: use a new feed name`,
  );
}

/** Whether `e` (or the system error behind it) says this process may not write there. */
function writeDenied(e: unknown): boolean {
  const sys = e instanceof DeepwaterError ? e.cause : e;
  return sys instanceof Deno.errors.PermissionDenied || sys instanceof Deno.errors.NotCapable ||
    (sys as { code?: unknown } | undefined)?.code === "EROFS";
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
