/**
 * Zero-copy record access: a cursor moves one reused record view over the
 * committed records of a time range, in place (the mapped chunk bytes, or
 * the reader's validated copy of ring slots). Reading a field is a DataView
 * load; nothing is allocated per record.
 *
 * Lifetime (as LMDB states it for `MDB_val`): the view `next()` returns, or
 * `visit()` passes to its callback, describes the current record only until
 * the cursor advances, the callback returns, or the cursor or reader closes.
 * After that every getter throws `CLOSED`; `copy()` is the escape hatch that
 * decodes the current record into an object you own.
 *
 * Truncation of a chunk file under the reader (another process's damage)
 * cannot crash it: the pages read as zeros and the cursor throws `CORRUPT`
 * when it moves past the run (chunk) that held them, before it ends.
 *
 * @module
 */
import { closedError } from "../base/errors.ts";
import { timeRange } from "../base/input.ts";
import type { DecodedRecord, DecodeFn } from "../schema/codec.ts";
import { VIEW_O, VIEW_STALE, type ViewKind, type ViewState } from "../schema/view.ts";
import type { RecordWalk } from "./walk.ts";

/** What a cursor needs from its reader. */
export interface CursorHost {
  /** Feed name, for messages. */
  readonly feed: string;
  /** Decoder for `copy()`. */
  readonly decode: DecodeFn;
  /** Throw CORRUPT if a mapping read was truncated. */
  checkFaults(): void;
  /** Called once when the cursor closes. */
  forget(cursor: RecordCursor<object>): void;
  /** Track an ended cursor again (a seek reopened it); throws CLOSED when the reader is closed. */
  reopen(cursor: RecordCursor<object>): void;
}

/**
 * A cursor over the records of a time range (see the module documentation).
 * Created by `reader.cursor()`.
 */
export class RecordCursor<R extends object> implements Iterable<R>, Disposable {
  readonly #walk: RecordWalk<unknown>;
  readonly #view: ViewState;
  readonly #attach: ViewKind["attach"];
  readonly #rs: number;
  readonly #host: CursorHost;
  /** The range's first timestamp (a seek never goes before it). */
  readonly #from: number;
  /** Byte offset of the next record to hand out, and the end of the current run. */
  #at = 0;
  #stop = 0;
  #open = true;
  /** Closed by reaching its end: `next()` keeps answering undefined. */
  #ended = false;

  /**
   * Use `reader.cursor()`.
   *
   * @param walk the records (the cursor owns it)
   * @param kind the layout's view class (the cursor owns one view)
   * @param recordSize the layout's record size
   * @param host the reader
   */
  constructor(walk: RecordWalk<unknown>, kind: ViewKind, recordSize: number, host: CursorHost) {
    this.#walk = walk;
    this.#view = new kind.View();
    this.#attach = kind.attach;
    this.#rs = recordSize;
    this.#host = host;
    this.#from = walk.start;
  }

  /**
   * Move to the next record and return the view of it, or undefined at the
   * end (the cursor is closed then). The view is the same object every
   * time.
   *
   * @returns the view, valid until the next call
   * @example
   * ```ts
   * import { Platform } from "../../mod.ts";
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed({
   *     feed_name: "trades",
   *     fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *     ts_col: "timestamp_us",
   *     chunk_size_mb: 0.0625,
   *   });
   *   using writer = platform.createWriter("trades");
   *   for (let i = 0; i < 5; i++) writer.writeValues(100 + i, 1_000 + i);
   *   using reader = platform.createReader("trades");
   *   using cursor = reader.cursor(1_001, 1_003);
   *   let sum = 0;
   *   for (let r; (r = cursor.next());) sum += r.price as number;
   *   console.assert(sum === 101 + 102 + 103);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  next(): R | undefined {
    const o = this.#at;
    if (o < this.#stop) {
      this.#at = o + this.#rs;
      this.#view[VIEW_O] = o;
      return this.#view as unknown as R;
    }
    return this.#nextRun();
  }

  #nextRun(): R | undefined {
    if (!this.#open) {
      if (this.#ended) return undefined;
      throw closedError(`Cursor of "${this.#host.feed}"`, this);
    }
    const w = this.#walk;
    this.#view[VIEW_O] = VIEW_STALE;
    this.#host.checkFaults(); // what the last run's records were read from
    if (!w.next()) {
      this.close();
      this.#ended = true;
      return undefined;
    }
    const v = this.#view;
    this.#attach(v, w.arrays);
    v[VIEW_O] = w.at;
    this.#at = w.at + this.#rs;
    this.#stop = w.at + w.count * this.#rs;
    return v as unknown as R;
  }

  /**
   * Move to the first record at or after `tsUs` within the cursor's range
   * and return the view of it, or undefined when there is none (the cursor
   * has ended then, until the next seek). Seeking back and forth reuses the
   * cursor and its view: nothing is allocated, and inside one chunk it costs
   * a search of that chunk (LMDB's `MDB_SET_RANGE`). A time before the
   * range's start means its start. A cursor that reached its end can seek
   * again; one you closed throws `CLOSED`.
   *
   * @param tsUs the timestamp sought (µs, a number or BigInt)
   * @returns the view of the first record at or after it, valid until the next step
   * @example
   * ```ts
   * import { Platform } from "../../mod.ts";
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed({
   *     feed_name: "trades",
   *     fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *     ts_col: "timestamp_us",
   *     chunk_size_mb: 0.0625,
   *   });
   *   using writer = platform.createWriter("trades");
   *   for (let i = 0; i < 100; i++) writer.writeValues(100 + i, 1_000 + 10 * i);
   *   using reader = platform.createReader("trades");
   *   using cursor = reader.cursor();
   *   console.assert(cursor.seek(1_495)?.price === 150); // first at or after 1_495 is 1_500
   *   console.assert(cursor.next()?.price === 151);
   *   console.assert(cursor.seek(1_000)?.price === 100); // back again
   *   console.assert(cursor.seek(9_999) === undefined); // past the end
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  seek(tsUs: number | bigint): R | undefined {
    if (!this.#open && !this.#ended) throw closedError(`Cursor of "${this.#host.feed}"`, this);
    const [t, none] = timeRange(tsUs, undefined);
    this.#view[VIEW_O] = VIEW_STALE;
    this.#at = this.#stop = 0;
    if (this.#ended) {
      this.#host.reopen(this);
      this.#open = true;
      this.#ended = false;
    }
    // A time past every timestamp (none < t) leaves nothing to find.
    this.#walk.restart(none < t ? Infinity : Math.max(t, this.#from));
    return this.#nextRun();
  }

  /**
   * The current record decoded into a new object you own (the escape hatch
   * from the view's lifetime).
   *
   * @returns the record, or undefined when the cursor is on no record
   */
  copy(): DecodedRecord | undefined {
    const o = this.#view[VIEW_O];
    if (o < 0) return undefined;
    const r = this.#host.decode(this.#walk.dv, this.#walk.u8, o);
    this.#host.checkFaults();
    return r;
  }

  /**
   * The current record's bytes, copied (its layout is `reader.layout`).
   *
   * @returns the bytes, or undefined when the cursor is on no record
   */
  bytes(): Uint8Array | undefined {
    const o = this.#view[VIEW_O];
    if (o < 0) return undefined;
    const b = this.#walk.u8.slice(o, o + this.#rs);
    this.#host.checkFaults();
    return b;
  }

  /** Whether the cursor is open (false once it reached the end or was closed). */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Iterate the views (each valid until the next step). */
  *[Symbol.iterator](): Iterator<R> {
    for (let r; (r = this.next());) yield r;
  }

  /** Release the cursor's chunk pins; the view points at nothing. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#at = this.#stop = 0;
    this.#view[VIEW_O] = VIEW_STALE;
    this.#walk.close();
    this.#host.forget(this);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Call `fn` with a view of each record of a walk, in place; stop early when
 * it returns `false`. The walk is closed on return.
 *
 * @param walk the records
 * @param kind the layout's view class
 * @param recordSize the layout's record size
 * @param host the reader
 * @param fn the visitor
 * @returns how many records were visited
 */
export function visitWalk<R>(
  walk: RecordWalk<unknown>,
  kind: ViewKind,
  recordSize: number,
  host: Pick<CursorHost, "checkFaults">,
  fn: (record: R) => unknown,
): number {
  let n = 0;
  const view = new kind.View();
  try {
    while (walk.next()) {
      kind.attach(view, walk.arrays);
      const stop = walk.at + walk.count * recordSize;
      for (let o = walk.at; o < stop; o += recordSize) {
        view[VIEW_O] = o;
        n++;
        if (fn(view as unknown as R) === false) {
          view[VIEW_O] = VIEW_STALE;
          host.checkFaults();
          return n;
        }
      }
      view[VIEW_O] = VIEW_STALE;
      host.checkFaults();
    }
    return n;
  } finally {
    view[VIEW_O] = VIEW_STALE;
    walk.close();
  }
}
