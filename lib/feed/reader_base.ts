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
  columnsOptions,
  readerOptions,
  readMax,
  show,
  streamBatchOptions,
  streamOptions,
  type StreamSettings,
  tailOptions,
  timeRange,
} from "../base/input.ts";
import type { DecodedRecord, DecodeFn } from "../schema/codec.ts";
import type { Layout } from "../schema/spec.ts";
import { makeViewKind, VIEW_O, VIEW_STALE, type ViewKind } from "../schema/view.ts";
import type { FeedContext } from "../directory/feed.ts";
import {
  columnFields,
  type Columns,
  columnTargets,
  gatherColumns,
  type RecordRun,
} from "./columns.ts";
import { type CursorHost, RecordCursor, visitWalk } from "./cursor.ts";
import { type RecordWalk, standaloneRun } from "./walk.ts";
import { setImmediate } from "node:timers";
import type {
  ColumnsOptions,
  FeedKind,
  FeedReader,
  ReaderOptions,
  StreamBatchOptions,
  StreamOptions,
  TailOptions,
} from "./contract.ts";
import { LiveIterator, type LiveSource } from "./live.ts";
import { ConsumerFile, ConsumerTrack } from "./consumers.ts";

/** Largest batch `batches()` yields, in bytes (a chunk's run is split past it). */
const BATCH_BYTES = 1 << 22;
/** Most records `tail()` takes per run before it looks at the signal again. */
const TAIL_RUN = 4096;

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
  /** Consumer streams started here: released on close. */
  readonly #consumers = new Set<ConsumerTrack>();
  /** False once closed. A plain field: per-record loops test it. */
  protected open = true;
  /** Open cursors, closed with the reader so their views never outlive it. */
  readonly #cursors = new Set<RecordCursor<object>>();
  #viewKind: ViewKind | undefined;
  /** The run `streamBatches()` copies from (rings reuse its buffer). */
  readonly #bytesRun = standaloneRun();
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
  /**
   * Move up to `max` records committed past `cursor` into `out`, advancing
   * it. With `runs` (a named consumer's stream), append a triple
   * `(index in out, a, b)` wherever the records stop being consecutive
   * positions (see {@linkcode ConsumerTrack.runs}), and once at the start.
   */
  protected abstract pull(
    cursor: C,
    max: number,
    out: DecodedRecord[],
    onOverrun: ((lost: number) => void) | undefined,
    runs?: number[],
  ): void;
  /**
   * Point `run` at the next whole, consecutive records committed past
   * `cursor` (at most `maxRecords`, one chunk at most), advancing the cursor;
   * false when there are none. Chunk feeds point it into the mapped chunk
   * (valid until the reader maps other chunks); rings copy the records,
   * checked, into the run's own buffer.
   */
  protected abstract pullRun(
    cursor: C,
    maxRecords: number,
    run: RecordWalk<unknown>,
    onOverrun: ((lost: number) => void) | undefined,
  ): boolean;
  /** A cursor as the two numbers a consumer file stores. */
  protected abstract position(cursor: C): [number, number];
  /**
   * The cursor a named consumer's stored position names, checked against the
   * feed (past the data is `CORRUPT`; deleted data is skipped and logged).
   */
  protected abstract resume(a: number, b: number, consumer: string): C;
  /**
   * Whether anything past `cursor` is committed (a cheap check: the spin loop
   * calls it). `quick`: a cheaper check a spin makes between full ones; it
   * may miss what only a full check sees (a new chunk) and may say yes
   * wrongly, never miss a commit past the cursor in its current storage.
   */
  protected abstract hasNews(cursor: C, quick?: boolean): boolean;
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
    const [cursor, track] = this.#begin(o);
    const runs = track?.runs;
    return new LiveIterator<DecodedRecord>(
      this.#source(cursor, (out, max) => {
        this.pull(cursor, max, out, o.onOverrun, runs);
        this.checkFaults();
      }),
      o.wait,
      o.signal,
      o.spinYieldMs,
      track,
    );
  }

  /** See {@linkcode FeedReader.columns}. */
  columns(
    startUs?: number | bigint,
    endUs?: number | bigint,
    fields?: readonly string[],
    options?: ColumnsOptions,
  ): Columns {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    const wanted = columnFields(this.ctx.layout, fields, this.feed);
    const into = columnTargets(columnsOptions(options).into, wanted, this.feed);
    const walk = this.walk(start, end, true);
    try {
      const runs: RecordRun[] = [];
      let total = 0;
      while (walk.next()) {
        runs.push({ u8: walk.u8, at: walk.at, count: walk.count, base: walk.base });
        total += walk.count;
      }
      const out = gatherColumns(runs, total, wanted, this.ctx.layout.recordSize, into);
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
      reopen: (c) => {
        this.check();
        this.#cursors.add(c);
      },
    };
  }

  /**
   * See {@linkcode FeedReader.streamBatches}.
   *
   * @param options see {@linkcode StreamBatchOptions}
   * @returns an async iterator of record batches, with its own position
   */
  streamBatches(options?: StreamBatchOptions): AsyncIterableIterator<Uint8Array> {
    this.check();
    const o = streamBatchOptions(options);
    const [cursor, track] = this.#begin(o);
    const runs = track?.runs;
    const maxRecords = Math.max(1, Math.floor(o.maxBytes / this.ctx.layout.recordSize));
    return new LiveIterator<Uint8Array>(
      this.#source(cursor, (out) => {
        // One batch per pull: the iterator hands it out before pulling again.
        if (out.length === 0) this.#pullBytes(cursor, maxRecords, out, o.onOverrun, runs);
        this.checkFaults();
      }),
      o.wait,
      o.signal,
      o.spinYieldMs,
      track,
    );
  }

  /**
   * Push at most one batch past `cursor` to `out`: a copy of a run (see
   * `pullRun`). With `runs`, append `(index in out, a, b - 1)` where `(a, b)`
   * is the position right after the batch.
   */
  #pullBytes(
    cursor: C,
    maxRecords: number,
    out: Uint8Array[],
    onOverrun: ((lost: number) => void) | undefined,
    runs: number[] | undefined,
  ): void {
    const run = this.#bytesRun;
    if (!this.pullRun(cursor, maxRecords, run, onOverrun)) return;
    const rs = this.ctx.layout.recordSize;
    out.push(run.u8.slice(run.at, run.at + run.count * rs));
    if (runs) {
      const [a, b] = this.position(cursor);
      runs.push(out.length - 1, a, b - 1);
    }
  }

  /** See {@linkcode FeedReader.tail}. */
  async tail(fn: (record: DecodedRecord) => unknown, options?: TailOptions): Promise<number> {
    this.check();
    if (typeof fn !== "function") {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Invalid tail callback for "${this.feed}": expected a function, got ${show(fn)}`,
      );
    }
    const o = tailOptions(options);
    const cursor = this.streamStart(o);
    const kind = this.#viewKind ??= this.#makeViewKind();
    const view = new kind.View();
    const run = standaloneRun();
    const rs = this.ctx.layout.recordSize;
    const spin = o.wait === "spin";
    let n = 0;
    let turn = performance.now();
    for (;;) {
      if (!this.open || o.signal?.aborted) return n;
      if (this.pullRun(cursor, TAIL_RUN, run, o.onOverrun)) {
        kind.attach(view, run.arrays);
        const stop = run.at + run.count * rs;
        for (let at = run.at; at < stop; at += rs) {
          view[VIEW_O] = at;
          n++;
          if (fn(view as unknown as DecodedRecord) === false) {
            view[VIEW_O] = VIEW_STALE;
            this.checkFaults();
            return n;
          }
        }
        view[VIEW_O] = VIEW_STALE;
        this.checkFaults();
        if (performance.now() - turn <= o.spinYieldMs) continue;
      } else if (spin) {
        // Busy-wait synchronously for the lowest latency; the event loop gets
        // a turn every spinYieldMs so the signal and timers still run.
        const deadline = turn + o.spinYieldMs;
        let news = false;
        for (let i = 0; !(news = this.hasNews(cursor, (i & 15) !== 0));) {
          if ((++i & 1023) === 0 && performance.now() > deadline) break;
        }
        if (news) continue;
      } else {
        const upkeep = this.idle();
        if (upkeep) await upkeep;
        if (!this.hasNews(cursor)) await this.block(cursor, o.signal);
        turn = performance.now();
        continue;
      }
      await new Promise<void>((r) => setImmediate(r));
      turn = performance.now();
    }
  }

  /** The live source over `cursor` with the given pull. */
  #source<T>(cursor: C, pull: (out: T[], max: number) => void): LiveSource<T> {
    return {
      pull,
      hasNews: (quick) => this.hasNews(cursor, quick),
      block: (signal) => this.block(cursor, signal),
      idle: () => this.idle(),
      isOpen: () => this.open,
    };
  }

  /**
   * Where a stream starts, and its consumer's acknowledgements: a named
   * consumer resumes where it left off (its first run starts where the
   * options say and stores that at once, so a crash before its first
   * acknowledgement resumes there, not at a later head).
   */
  #begin(o: StreamSettings): [C, ConsumerTrack | undefined] {
    if (o.consumer === undefined) return [this.streamStart(o), undefined];
    if (this.ctx.readOnly) {
      throw new DeepwaterError(
        "READ_ONLY",
        `Cannot stream as consumer "${o.consumer}" of "${this.feed}": the platform is read-only and a consumer stores its position: open the platform with write access`,
      );
    }
    for (const t of this.#consumers) if (!t.file.isOpen) this.#consumers.delete(t);
    const file = ConsumerFile.open(this.ctx.paths, this.feed, o.consumer, this.kind);
    try {
      let cursor: C;
      if (file.position) cursor = this.resume(file.position.a, file.position.b, o.consumer);
      else {
        cursor = this.streamStart(o);
        const [a, b] = this.position(cursor);
        file.commit(a, b, 0);
      }
      const track = new ConsumerTrack(file);
      this.#consumers.add(track);
      return [cursor, track];
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Unmap everything. Running iterators end or throw `CLOSED`. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    for (const c of this.#cursors) c.close();
    this.closing.abort();
    for (const t of this.#consumers) t.close();
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
