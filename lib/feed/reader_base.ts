/**
 * What both readers share: the lifecycle (open, `CLOSED`, an idempotent
 * close that ends running tails), `readAvailable()`'s own position, and the
 * construction of every `stream()` with its own position over the live-tail
 * iterator. A storage kind supplies positions (its cursor type `C`) and four
 * moves on them: pull what is committed past a cursor, say whether anything
 * is, sleep until something may be, and check for contained faults; and a
 * walk over a time range (`feed/walk.ts`), on which the range reads, the
 * columns, the raw batches and the zero-copy cursor are built here once.
 *
 * @module
 */
import { closedError, DeepwaterError } from "../base/errors.ts";
import {
  readerOptions,
  readMax,
  show,
  streamOptions,
  type StreamSettings,
  timeRange,
} from "../base/input.ts";
import type { DecodedRecord, DecodeFn } from "../schema/codec.ts";
import type { Layout } from "../schema/spec.ts";
import { makeViewKind, type ViewKind } from "../schema/view.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { FeedKind, FeedReader, ReaderOptions, StreamOptions } from "./contract.ts";
import { columnFields, type Columns, gatherColumns, type RecordRun } from "./columns.ts";
import { type CursorHost, RecordCursor, visitWalk } from "./cursor.ts";
import { LiveIterator } from "./live.ts";
import type { RecordWalk } from "./walk.ts";

/** Largest batch `batches()` yields, in bytes (a chunk's run is split past it). */
const BATCH_BYTES = 1 << 22;

/** The checked reader options a storage kind may need. */
export interface ReaderSettings {
  /** 64-bit integers as BigInt. */
  bigint: boolean;
  /** Chunk mappings to keep open (chunk feeds). */
  cacheChunks: number;
}

/**
 * The shared half of a feed reader. Subclasses implement the storage-specific
 * moves and set `available` (readAvailable's cursor) at the end of their
 * constructor.
 */
export abstract class ReaderBase<C> implements FeedReader {
  /** Which storage holds the feed. */
  abstract readonly kind: FeedKind;
  /** Feed name. */
  readonly feed: string;
  /** The feed this reader reads. */
  protected readonly ctx: FeedContext;
  /** Decoder for records, by the `bigint` option. */
  protected readonly decode: DecodeFn;
  /** The checked options. */
  protected readonly settings: ReaderSettings;
  /** Aborted on close: wakes every tail sleeping in `block`. */
  protected readonly closing: AbortController = new AbortController();
  /** `readAvailable()`'s position: set by the subclass constructor. */
  protected available!: C;
  readonly #onClose: (r: FeedReader) => void;
  /** False once closed. A plain field: per-record loops test it. */
  protected open = true;
  /** Open cursors, closed with the reader so their views never outlive it. */
  readonly #cursors = new Set<RecordCursor<object>>();
  #viewKind: ViewKind | undefined;
  #host: CursorHost | undefined;

  /**
   * @param ctx the feed
   * @param options the caller's reader options (checked here)
   * @param onClose called once, when the reader closes
   */
  constructor(ctx: FeedContext, options: ReaderOptions, onClose: (r: FeedReader) => void) {
    this.feed = ctx.name;
    this.ctx = ctx;
    this.#onClose = onClose;
    this.settings = readerOptions(options);
    this.decode = this.settings.bigint ? ctx.codec.decodeBigInt : ctx.codec.decode;
  }

  /** Whether the reader is open. */
  get isOpen(): boolean {
    return this.open;
  }

  /** The feed's record layout (field offsets and sizes, record size, timestamp field). */
  get layout(): Layout {
    return this.ctx.layout;
  }

  /** See {@linkcode FeedReader.read}. */
  abstract read(
    startUs?: number | bigint,
    endUs?: number | bigint,
  ): IterableIterator<DecodedRecord>;
  /** See {@linkcode FeedReader.count}. */
  abstract count(startUs?: number | bigint, endUs?: number | bigint): number;
  /** See {@linkcode FeedReader.latest}. */
  abstract latest(): DecodedRecord | undefined;

  /**
   * A walk over the committed records with `start <= ts <= end` (numbers,
   * already checked), in storage order. With `retain`, every run stays
   * valid until the walk closes.
   */
  protected abstract walk(start: number, end: number, retain: boolean): RecordWalk<unknown>;
  /** Where a new `stream()` starts (the live head, or a playback marker). */
  protected abstract streamStart(settings: StreamSettings): C;
  /** Move up to `max` records committed past `cursor` into `out`, advancing it. */
  protected abstract pull(
    cursor: C,
    max: number,
    out: DecodedRecord[],
    onOverrun: ((lost: number) => void) | undefined,
  ): void;
  /** Whether anything past `cursor` is committed (a cheap check: the spin loop calls it). */
  protected abstract hasNews(cursor: C): boolean;
  /** Sleep until news past `cursor`, an abort, the close, or a bounded timeout. */
  protected abstract block(cursor: C, signal: AbortSignal | undefined): Promise<void>;
  /** Upkeep before each wait of a tail (a promise is awaited first). */
  protected idle(): Promise<void> | void {}
  /** Throw CORRUPT if a mapping this reader reads was truncated under it. */
  protected abstract checkFaults(): void;
  /** Unmap everything (called once, by close). */
  protected abstract release(): void;

  /**
   * See {@linkcode FeedReader.readAvailable}.
   *
   * @param max most records to return (default 65536; a positive integer)
   * @returns decoded records, possibly none
   */
  readAvailable(max = 65536): DecodedRecord[] {
    this.check();
    const out: DecodedRecord[] = [];
    this.pull(this.available, readMax(max), out, undefined);
    this.checkFaults();
    return out;
  }

  /**
   * See {@linkcode FeedReader.stream}.
   *
   * @param options see {@linkcode StreamOptions}
   * @returns an async iterator of records, with its own position
   */
  stream(options?: StreamOptions): AsyncIterableIterator<DecodedRecord> {
    this.check();
    const o = streamOptions(options);
    const cursor = this.streamStart(o);
    return new LiveIterator(
      {
        pull: (out, max) => {
          this.pull(cursor, max, out, o.onOverrun);
          this.checkFaults();
        },
        hasNews: () => this.hasNews(cursor),
        block: (signal) => this.block(cursor, signal),
        idle: () => this.idle(),
        isOpen: () => this.open,
      },
      o.wait,
      o.signal,
      o.spinYieldMs,
    );
  }

  /** See {@linkcode FeedReader.columns}. */
  columns(startUs?: number | bigint, endUs?: number | bigint, fields?: readonly string[]): Columns {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    const wanted = columnFields(this.ctx.layout, fields, this.feed);
    const walk = this.walk(start, end, true);
    try {
      const runs: RecordRun[] = [];
      let total = 0;
      while (walk.next()) {
        runs.push({ u8: walk.u8, at: walk.at, count: walk.count, base: walk.base });
        total += walk.count;
      }
      const out = gatherColumns(runs, total, wanted, this.ctx.layout.recordSize);
      this.checkFaults();
      return out;
    } finally {
      walk.close();
    }
  }

  /** See {@linkcode FeedReader.batches}. */
  batches(startUs?: number | bigint, endUs?: number | bigint): IterableIterator<Uint8Array> {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    return this.#batches(start, end);
  }

  *#batches(start: number, end: number): Generator<Uint8Array<ArrayBuffer>> {
    const rs = this.ctx.layout.recordSize;
    const per = Math.max(1, Math.floor(BATCH_BYTES / rs));
    const walk = this.walk(start, end, false);
    try {
      while (walk.next()) {
        for (let i = 0; i < walk.count; i += per) {
          const at = walk.at + i * rs;
          const b = walk.u8.slice(at, at + Math.min(per, walk.count - i) * rs);
          this.checkFaults();
          yield b;
        }
      }
    } finally {
      walk.close();
    }
  }

  /** See {@linkcode FeedReader.cursor}. */
  cursor(startUs?: number | bigint, endUs?: number | bigint): RecordCursor<DecodedRecord> {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    const c = new RecordCursor<DecodedRecord>(
      this.walk(start, end, false),
      this.#viewKind ??= this.#makeViewKind(),
      this.ctx.layout.recordSize,
      this.#cursorHost(),
    );
    this.#cursors.add(c);
    return c;
  }

  /** See {@linkcode FeedReader.visit}. */
  visit(
    startUs: number | bigint | undefined,
    endUs: number | bigint | undefined,
    fn: (record: DecodedRecord) => unknown,
  ): number {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    if (typeof fn !== "function") {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Invalid visitor for "${this.feed}": expected a function, got ${show(fn)}`,
      );
    }
    const kind = this.#viewKind ??= this.#makeViewKind();
    const rs = this.ctx.layout.recordSize;
    return visitWalk(this.walk(start, end, false), kind, rs, this.#cursorHost(), fn);
  }

  #makeViewKind(): ViewKind {
    return makeViewKind(this.ctx.layout, this.feed, this.settings.bigint);
  }

  /** What cursors and visits call back (made on first use). */
  #cursorHost(): CursorHost {
    return this.#host ??= {
      feed: this.feed,
      decode: this.decode,
      checkFaults: () => this.checkFaults(),
      forget: (c) => void this.#cursors.delete(c),
    };
  }

  /** Unmap everything. Running iterators end or throw `CLOSED`. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    for (const c of this.#cursors) c.close();
    this.closing.abort();
    this.release();
    this.#onClose(this);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Throw CLOSED once the reader is closed. */
  protected check(): void {
    if (!this.open) throw closedError(`Reader for "${this.feed}"`, this);
  }
}
