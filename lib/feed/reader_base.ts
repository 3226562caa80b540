/**
 * What both readers share: the lifecycle (open, `CLOSED`, an idempotent
 * close that ends running tails), `readAvailable()`'s own position, and the
 * construction of every `stream()` with its own position over the live-tail
 * iterator. A storage kind supplies positions (its cursor type `C`) and four
 * moves on them: pull what is committed past a cursor, say whether anything
 * is, sleep until something may be, and check for contained faults.
 *
 * @module
 */
import { closedError } from "../base/errors.ts";
import { readerOptions, readMax, streamOptions, type StreamSettings } from "../base/input.ts";
import type { DecodedRecord, DecodeFn } from "../schema/codec.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { FeedKind, FeedReader, ReaderOptions, StreamOptions } from "./contract.ts";
import { LiveIterator } from "./live.ts";

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

  /** See {@linkcode FeedReader.read}. */
  abstract read(
    startUs?: number | bigint,
    endUs?: number | bigint,
  ): IterableIterator<DecodedRecord>;
  /** See {@linkcode FeedReader.count}. */
  abstract count(startUs?: number | bigint, endUs?: number | bigint): number;
  /** See {@linkcode FeedReader.latest}. */
  abstract latest(): DecodedRecord | undefined;

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

  /** Unmap everything. Running iterators end or throw `CLOSED`. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
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
