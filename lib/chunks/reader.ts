/**
 * The persisted reader: the feed reader contract (`feed/contract.ts`) over
 * chunk files: time-range queries over mapped chunks, the newest record, and
 * live tails that follow the writer across processes.
 *
 * Readers open every file read-only and never create, grow or repair
 * anything. They observe the writer's commits with acquire loads
 * (`Atomics.load`), so a record is visible only once whole.
 *
 * @module
 */
import { closedError, DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { DecodedRecord } from "../schema/codec.ts";
import { CHUNK_FIELDS, CHUNK_HEADER, FLAG, REGISTRY_FIELDS } from "./format.ts";
import { u64 } from "../schema/header.ts";
import { type StreamSettings, timeRange } from "../base/input.ts";
import type { FeedReader, ReaderOptions } from "../feed/contract.ts";
import { ReaderBase } from "../feed/reader_base.ts";
import { RecordWalk, standaloneRun, type WalkSteps } from "../feed/walk.ts";
import { runArrays } from "../schema/view.ts";
import { FaultWatch, Mapping } from "../native/mapping.ts";
import { MarkerFile } from "./markers.ts";
import { checkRegistryMatches, Registry } from "./registry.ts";
import { ChunkCache, type ChunkView } from "./chunk_cache.ts";
import { scanTs } from "../native/scan.ts";
import { searchTs } from "./search.ts";
import { Doorbell } from "../native/doorbell.ts";

/** Cached timestamp bounds of sealed chunks base, base+1, ... */
interface ChunkSummary {
  base: number;
  min: number[];
  max: number[];
  /** Per chunk: holds out-of-order timestamps (from a checksummed entry, or a scan). */
  unsorted: boolean[];
  /** Some summarised chunk holds out-of-order timestamps (bounds not monotonic). */
  ooo: boolean;
}

/** First index >= from whose value is >= target (values non-decreasing). */
function lowerBound(values: number[], from: number, target: number): number {
  let lo = from, hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The publishing count in chunk `v`'s header (0 in chunks no 0.2.0 writer touched). */
function publishingCount(v: ChunkView): number {
  return v.dv.getUint32(CHUNK_FIELDS.publishing, true);
}

/** A chunk walk's position: the next chunk to look at, and the pins it holds. */
interface ChunkWalkState {
  /** Next chunk id to consider (0: the walk has not started). */
  id: number;
  /** Newest chunk when the walk started. */
  last: number;
  /** The range is everything (no search, no filter). */
  all: boolean;
  /** The current run's chunk (pinned). */
  view: ChunkView | undefined;
  /** Earlier runs' chunks, pinned until the close (retaining walks). */
  held: ChunkView[];
}

/** Position of a live cursor: next record to deliver. */
interface Cursor {
  chunk: number;
  index: number;
}

/** Timestamps are below 2^53 (checked on write): an end at or past this includes everything. */
const MAX_TS = Number.MAX_SAFE_INTEGER;

/**
 * Reads one persisted feed (the {@linkcode FeedReader} contract over chunk
 * files). Created by `Platform.createReader`.
 */
export class ChunkReader extends ReaderBase<Cursor> {
  /** Always `"chunks"`. */
  readonly kind = "chunks" as const;
  readonly #reg: Registry;
  readonly #rs: number;
  readonly #tsOff: number;
  readonly #cache: ChunkCache;
  #notify: Mapping | undefined | null;
  #bell: Doorbell | undefined;
  #markers: MarkerFile | undefined;
  #sum: ChunkSummary = { base: 1, min: [], max: [], unsorted: [], ooo: false };
  /**
   * A chunk a pull found newest and not deleted: later pulls from it load
   * only its commit word, and the spin's quick check applies to it alone.
   */
  #headChunk = 0;
  readonly #faults = new FaultWatch();
  /** The run `pull` decodes (it points into the mapped chunk). */
  readonly #pulled = standaloneRun();

  /** Use `Platform.createReader`. */
  constructor(ctx: FeedContext, options: ReaderOptions, onClose: (r: FeedReader) => void) {
    super(ctx, options, onClose);
    this.#rs = ctx.layout.recordSize;
    this.#tsOff = ctx.layout.tsOffset;
    this.#reg = Registry.open(ctx.paths.registry(ctx.name), false);
    try {
      checkRegistryMatches(this.#reg, ctx);
    } catch (e) {
      this.#reg.close();
      throw e;
    }
    this.#cache = new ChunkCache(ctx, this.#reg, this.settings.cacheChunks);
    this.available = this.#head();
  }

  /**
   * Records in storage order, optionally limited to `startUs <= ts <= endUs`
   * (both inclusive). In-order chunks are binary-searched (O(log n));
   * chunks holding out-of-order timestamps are scanned, so the result is
   * exact whatever the write order. Records committed while iterating may be
   * included up to the newest chunk that existed when iteration began.
   *
   * Bounds are numbers or BigInts of microseconds. Left out, a start of
   * `-Infinity` or an end of `Infinity` is open; a start below 0 means 0.
   * A negative BigInt or one beyond 2^64-1, NaN, `Infinity` as a start,
   * `-Infinity` as an end or anything else is `INVALID_ARGUMENT`.
   *
   * @param startUs first timestamp to include (default: all)
   * @param endUs last timestamp to include (default: all)
   * @returns an iterator of decoded records
   */
  read(startUs?: number | bigint, endUs?: number | bigint): IterableIterator<DecodedRecord> {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    return this.#range(start, end);
  }

  /** Number of records `read(startUs, endUs)` would return right now. */
  count(startUs?: number | bigint, endUs?: number | bigint): number {
    this.check();
    const [start, end] = timeRange(startUs, endUs);
    const walk = this.walk(start, end, false);
    let total = 0;
    while (walk.next()) total += walk.count;
    return total;
  }

  *#range(start: number, end: number): Generator<DecodedRecord> {
    const decode = this.decode;
    const rs = this.#rs;
    const walk = this.walk(start, end, false);
    try {
      while (walk.next()) {
        const { dv, u8 } = walk;
        const stop = walk.at + walk.count * rs;
        for (let o = walk.at; o < stop; o += rs) {
          if (!this.open) throw closedError(`Reader for "${this.feed}"`, this);
          const r = decode(dv, u8, o);
          this.checkFaults();
          yield r;
        }
      }
    } finally {
      walk.close();
    }
  }

  /** See `ReaderBase.walk`: the chunk runs of a time range. */
  protected walk(start: number, end: number, retain: boolean): RecordWalk<ChunkWalkState> {
    const state: ChunkWalkState = { id: 0, last: 0, all: false, view: undefined, held: [] };
    return new RecordWalk(this.#steps, state, start, end, retain);
  }

  readonly #steps: WalkSteps<ChunkWalkState> = {
    step: (w) => this.#step(w),
    release: (w) => this.#release(w),
    rewind: (w) => void (w.state.id = 0),
  };

  #release(w: RecordWalk<ChunkWalkState>): void {
    const st = w.state;
    if (st.view) this.#cache.unpin(st.view);
    st.view = undefined;
    for (const v of st.held) this.#cache.unpin(v);
    st.held.length = 0;
  }

  /**
   * Point `w` at the next chunk run that may hold records in its range; the
   * run's chunk stays pinned until the next step (or, retaining, the close).
   *
   * Sealed chunks are immutable, so their timestamp bounds are cached in a
   * summary. While no retained chunk holds out-of-order data, chunk maxima
   * are non-decreasing: the first candidate chunk is found by binary search
   * and the walk stops at the first chunk starting after `end`, which makes
   * a seek O(log chunks + log records). A chunk holding out-of-order data is
   * filtered record by record into a copy.
   */
  #step(w: RecordWalk<ChunkWalkState>): boolean {
    const st = w.state;
    if (st.view) {
      if (w.retain) st.held.push(st.view);
      else this.#cache.unpin(st.view);
      st.view = undefined;
    }
    const { start, end } = w;
    if (end < start) return false;
    const reg = this.#reg;
    let sum: ChunkSummary;
    if (st.id === 0) {
      const { first, last } = reg.span();
      st.last = last;
      st.all = start === 0 && end === MAX_TS;
      sum = this.#summary(first, last);
      st.id = first;
      if (!st.all && !sum.ooo) {
        st.id = sum.base + lowerBound(sum.max, Math.max(0, first - sum.base), start);
      }
    } else sum = this.#sum;
    const all = st.all;
    for (; st.id <= st.last; st.id++) {
      this.check();
      const id = st.id;
      const k = id - sum.base;
      const known = k >= 0 && k < sum.max.length;
      if (!all && known) {
        if (sum.min[k]! > end) {
          if (!sum.ooo) break;
          continue;
        }
        if (sum.max[k]! < start) continue;
      }
      const flags = reg.flags(id);
      if (flags & FLAG.DELETED) continue;
      const view = this.#cache.view(id);
      if (!view) continue;
      const n = this.#committed(view);
      if (n === 0) continue;
      let lo = 0, hi = n;
      if (!all) {
        if (flags & FLAG.OUT_OF_ORDER || (known && sum.unsorted[k])) {
          if (!this.#filtered(w, view, n)) continue;
          st.id++;
          return true;
        }
        // A sealed in-order chunk's bounds often settle an end without a
        // search (an open end always does): one binary search, not two.
        if (!(known && start <= sum.min[k]!)) lo = this.#search(view, n, start, false);
        if (!(end >= MAX_TS || (known && end >= sum.max[k]!))) {
          hi = this.#search(view, n, end, true);
        }
      }
      if (lo < hi) {
        st.id++;
        this.#cache.pin(view);
        st.view = view;
        w.u8 = view.u8;
        w.dv = view.dv;
        w.base = view.map.addr;
        w.arrays = view.arrays;
        w.at = CHUNK_HEADER + lo * this.#rs;
        w.count = hi - lo;
        return true;
      }
    }
    this.checkFaults();
    return false;
  }

  /**
   * Point `w` at a copy of the records of chunk `view` (holding out-of-order
   * timestamps) that fall in its range; false when none do.
   */
  #filtered(w: RecordWalk<ChunkWalkState>, view: ChunkView, n: number): boolean {
    const rs = this.#rs, tsOff = this.#tsOff, { start, end } = w;
    const { dv, u8 } = view;
    let hits = 0;
    for (let i = 0, o = CHUNK_HEADER; i < n; i++, o += rs) {
      const ts = u64(dv, o + tsOff);
      if (ts >= start && ts <= end) hits++;
    }
    if (hits === 0) {
      this.checkFaults(); // the timestamps may have been read from zero pages
      return false;
    }
    const buf = new Uint8Array(hits * rs);
    for (let i = 0, o = CHUNK_HEADER, k = 0; i < n && k < hits; i++, o += rs) {
      const ts = u64(dv, o + tsOff);
      if (ts >= start && ts <= end) buf.set(u8.subarray(o, o + rs), rs * k++);
    }
    this.checkFaults();
    w.u8 = buf;
    w.dv = new DataView(buf.buffer);
    w.base = undefined;
    w.arrays = runArrays(buf.buffer as ArrayBuffer);
    w.at = 0;
    w.count = hits;
    return true;
  }

  /**
   * Extend the sealed-chunk summary up to the newest sealed chunk. Bounds
   * come from the registry entry only when it passes its checksum; otherwise
   * from a scan of the chunk itself, so a damaged entry costs a scan, never
   * a wrong answer.
   */
  #summary(first: number, last: number): ChunkSummary {
    let s = this.#sum;
    if (first < s.base || first > s.base + s.max.length) {
      s = this.#sum = { base: first, min: [], max: [], unsorted: [], ooo: false };
    }
    const reg = this.#reg;
    for (let id = s.base + s.max.length; id <= last; id++) {
      const flags = reg.flags(id);
      if (!(flags & FLAG.SEALED)) break;
      const prevMax = s.max.length ? s.max[s.max.length - 1]! : 0;
      let min = prevMax, max = prevMax, unsorted = false;
      if (!(flags & FLAG.DELETED)) {
        if (reg.entryIntact(id)) {
          const e = reg.entry(id);
          if (e.committed > 0) [min, max] = [e.minTs, e.maxTs];
          unsorted = (flags & FLAG.OUT_OF_ORDER) !== 0;
        } else {
          const view = this.#cache.view(id);
          const n = view ? this.#committed(view) : 0;
          if (view && n > 0) {
            const t = scanTs(view.map.addr + BigInt(CHUNK_HEADER), n, this.#rs, this.#tsOff);
            [min, max, unsorted] = [t.min, t.max, !t.sorted];
          }
        }
      }
      // Empty or deleted chunks keep the sequence monotonic with neighbours' bounds.
      s.min.push(min);
      s.max.push(max);
      s.unsorted.push(unsorted);
      if (unsorted) s.ooo = true;
    }
    return s;
  }

  /**
   * Chunk `view`'s committed count, checked against what its mapping holds
   * before anything reads records: a damaged count is `CORRUPT`, never a read
   * past the mapping.
   */
  #committed(view: ChunkView): number {
    return this.#checked(view, this.#reg.committed(view.id));
  }

  /** `n`, chunk `view`'s committed count just loaded, checked as {@linkcode #committed} does. */
  #checked(view: ChunkView, n: number): number {
    if (n > view.cap) {
      throw this.#reg.corrupt(
        `chunk ${view.id} of "${this.feed}" commits ${n} records but holds ${view.cap}`,
      );
    }
    // The writer stores each count it is about to publish in the chunk header
    // before the commit word, so that copy (loaded after the word) is at least
    // as high; a word above it would hand out unwritten records.
    const publishing = publishingCount(view);
    if (publishing !== 0 && n > publishing) {
      throw this.#reg.corrupt(
        `chunk ${view.id} of "${this.feed}" commits ${n} records but its own header counts ${publishing}`,
      );
    }
    return n;
  }

  #search(view: ChunkView, n: number, target: number, upper: boolean): number {
    return searchTs(view.dv, CHUNK_HEADER + this.#tsOff, this.#rs, n, target, upper);
  }

  /**
   * The newest committed record, or undefined when the feed is empty.
   *
   * @returns the record
   */
  latest(): DecodedRecord | undefined {
    this.check();
    const reg = this.#reg;
    const { first, last } = reg.span();
    for (let id = last; id >= first; id--) {
      if (reg.committed(id) === 0 || reg.flags(id) & FLAG.DELETED) continue;
      const v = this.#cache.view(id);
      if (!v) continue;
      const n = this.#committed(v);
      if (n === 0) continue;
      const r = this.decode(v.dv, v.u8, CHUNK_HEADER + (n - 1) * this.#rs);
      this.checkFaults();
      return r;
    }
    return undefined;
  }

  /** Where a stream starts: the newest playback marker, the first record at or after `from`, or the live head. */
  protected streamStart(o: StreamSettings): Cursor {
    if (o.from !== undefined) return this.#fromStart(o.from);
    return o.playback ? this.#playbackStart() : this.#head();
  }

  /**
   * The first record, in storage order, whose timestamp is at or after
   * `from`, among those committed now; else the live head. The head is taken
   * first, so what is committed meanwhile is delivered live, once. Chunks
   * whose newest record is older are skipped through the sealed-chunk
   * summary (a binary search while every chunk is in order); in-order chunks
   * are binary-searched, out-of-order ones scanned.
   */
  #fromStart(from: number): Cursor {
    const head = this.#head();
    const reg = this.#reg;
    const { first, last } = reg.span();
    if (last === 0) return head;
    const sum = this.#summary(first, last);
    let id = first;
    if (!sum.ooo) id = sum.base + lowerBound(sum.max, Math.max(0, first - sum.base), from);
    for (id = Math.max(id, first); id <= head.chunk; id++) {
      this.check();
      const k = id - sum.base;
      const known = k >= 0 && k < sum.max.length;
      if (known && sum.max[k]! < from) continue;
      if (reg.flags(id) & FLAG.DELETED) continue;
      const view = this.#cache.view(id);
      if (!view) continue;
      const n = id === head.chunk
        ? Math.min(head.index, this.#committed(view))
        : this.#committed(view);
      // Flags after the count: OUT_OF_ORDER is set before the commit it covers.
      if (reg.flags(id) & FLAG.OUT_OF_ORDER || (known && sum.unsorted[k])) {
        const dv = view.dv;
        for (let i = 0; i < n; i++) {
          if (u64(dv, CHUNK_HEADER + i * this.#rs + this.#tsOff) >= from) {
            return { chunk: id, index: i };
          }
        }
        this.checkFaults();
      } else if (n > 0) {
        const i = this.#search(view, n, from, false);
        if (i < n) return { chunk: id, index: i };
      }
    }
    return head;
  }

  /** A cursor as a consumer file stores it. */
  protected position(cursor: Cursor): [number, number] {
    return [cursor.chunk, cursor.index];
  }

  /** The cursor a consumer's stored `(chunk, index)` names, checked against the registry. */
  protected resume(chunk: number, index: number, consumer: string): Cursor {
    const reg = this.#reg;
    const { first, last } = reg.span();
    const where =
      `Consumer "${consumer}" of "${this.feed}" resumes at chunk ${chunk} record ${index}`;
    const fix =
      `the consumer file is damaged or the feed's data was replaced: remove the consumer (deepwater consumers ${this.feed} --remove ${consumer}) to start it again as new`;
    const corrupt = (why: string) =>
      new DeepwaterError("CORRUPT", `${where}, ${why}: ${fix}`, {
        path: this.ctx.paths.consumer(this.feed, consumer),
      });
    if (chunk < 1 || chunk > Math.max(last, 1) || index >= 2 ** 32) {
      throw corrupt(`past the feed's newest chunk ${last}`);
    }
    if (chunk >= first && !(reg.flags(chunk) & FLAG.DELETED)) {
      const n = reg.committed(chunk);
      if (index > n) throw corrupt(`past the ${n} records that chunk holds`);
      return { chunk, index };
    }
    // Retention removed where it stopped: count what it never saw, from the
    // registry entries still describing those chunks.
    let lost = -index, exact = chunk > first - reg.capacity;
    for (let id = Math.max(chunk, first - reg.capacity + 1); id <= last; id++) {
      if (id >= first && !(reg.flags(id) & FLAG.DELETED)) break;
      if (reg.entryIntact(id)) lost += reg.entry(id).committed;
      else exact = false;
    }
    lost = Math.max(0, lost);
    this.ctx.log.warn(
      `${where}, which retention deleted: ${
        exact ? lost : `at least ${lost}`
      } records it had not acknowledged are gone; it continues at the oldest retained record`,
    );
    return { chunk, index };
  }

  /**
   * See `ReaderBase.pullRun`: the committed records past `cursor` in its
   * chunk, in place.
   *
   * A tail at the head pulls from the newest chunk over and over, so that
   * case skips the registry's span and flags (three atomic loads): once a
   * pull has found a chunk newest and not deleted, later pulls from it load
   * only its commit word. Retention never deletes the newest chunk, and a
   * chunk deleted after it stopped being newest stays mapped, so what is
   * pulled from it is still its own committed records: the count is checked
   * against the chunk's own header, whose publishing copy it must carry. Everything else (the end of a
   * chunk, a jump past retention) takes the full path.
   */
  protected pullRun(cursor: Cursor, maxRecords: number, run: RecordWalk<unknown>): boolean {
    const reg = this.#reg;
    if (cursor.chunk === this.#headChunk) {
      const n = reg.committed(cursor.chunk);
      const v = cursor.index < n ? this.#cache.view(cursor.chunk) : undefined;
      if (v) return this.#fill(run, v, cursor, n, maxRecords);
    }
    for (;;) {
      const { first, last } = reg.span();
      if (cursor.chunk < first) cursor.chunk = first, cursor.index = 0;
      if (cursor.chunk > last) return false;
      const flags = reg.flags(cursor.chunk);
      const n = reg.committed(cursor.chunk);
      if (!(flags & FLAG.DELETED) && cursor.index < n) {
        const v = this.#cache.view(cursor.chunk);
        if (!v) continue; // removed between the flag check and the open: look again
        // Only a chunk whose header carries the publishing count (every chunk a
        // 0.2.0 writer touched): the fast path's one check is against it.
        if (cursor.chunk === last && publishingCount(v) !== 0) this.#headChunk = last;
        return this.#fill(run, v, cursor, n, maxRecords);
      }
      // Past a deleted chunk, or the end of a sealed one (as `pull` moves on).
      if (!(flags & (FLAG.SEALED | FLAG.DELETED))) {
        if (reg.lastChunk() <= cursor.chunk || reg.flags(cursor.chunk) & FLAG.SEALED) return false;
        throw reg.corrupt(
          `chunk ${cursor.chunk} of "${this.feed}" has a successor but was never sealed`,
        );
      }
      if (!(flags & FLAG.DELETED) && cursor.index < reg.committed(cursor.chunk)) continue;
      if (reg.lastChunk() <= cursor.chunk) return false;
      cursor.chunk++;
      cursor.index = 0;
    }
  }

  /** Point `run` at up to `max` of chunk `v`'s first `n` committed records past `cursor`, and advance it. */
  #fill(run: RecordWalk<unknown>, v: ChunkView, cursor: Cursor, n: number, max: number): true {
    const k = Math.min(this.#checked(v, n) - cursor.index, max);
    run.u8 = v.u8;
    run.dv = v.dv;
    run.arrays = v.arrays;
    run.base = v.map.addr;
    run.at = CHUNK_HEADER + cursor.index * this.#rs;
    run.count = k;
    cursor.index += k;
    return true;
  }

  /** Cursor at the live head (just after the newest committed record). */
  #head(): Cursor {
    const reg = this.#reg;
    const { last } = reg.span();
    if (last === 0) return { chunk: 1, index: 0 };
    const v = reg.flags(last) & FLAG.DELETED ? undefined : this.#cache.view(last);
    return { chunk: last, index: v ? this.#committed(v) : 0 };
  }

  #playbackStart(): Cursor {
    const reg = this.#reg;
    if (!this.ctx.spec.index_playback) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot play back "${this.feed}": the feed was created without index_playback: true`,
      );
    }
    const n = reg.markerCount();
    if (n === 0) return this.#head();
    this.#markers ??= MarkerFile.open(this.ctx.paths.markers(this.feed), false);
    const m = this.#markers.get(n - 1);
    const { first, last } = reg.span();
    // Retention removed the marked snapshot: replay from the oldest record
    // still retained after it (a deleted chunk is skipped by the pull).
    if (m.chunk < first) return { chunk: first, index: 0 };
    if (reg.flags(m.chunk) & FLAG.DELETED) return { chunk: m.chunk, index: 0 };
    // A marker past the data is damage: never trust it.
    if (m.chunk > last || m.index > reg.committed(m.chunk)) {
      throw new DeepwaterError(
        "CORRUPT",
        `Playback marker ${
          n - 1
        } of "${this.feed}" points at chunk ${m.chunk} record ${m.index}, past the feed's data (chunks ${first}..${last}): run deepwater-repair`,
        { path: this.ctx.paths.markers(this.feed) },
      );
    }
    return { chunk: m.chunk, index: m.index };
  }

  /** Move up to `max` committed records from `cursor` into `out`. */
  protected pull(
    cursor: Cursor,
    max: number,
    out: DecodedRecord[],
    _onOverrun?: unknown,
    runs?: number[],
  ): void {
    const run = this.#pulled;
    const rs = this.#rs, decode = this.decode;
    while (out.length < max && this.pullRun(cursor, max - out.length, run)) {
      runs?.push(out.length, cursor.chunk, cursor.index - run.count);
      const { dv, u8 } = run;
      for (let i = 0, o = run.at; i < run.count; i++, o += rs) out.push(decode(dv, u8, o));
    }
  }

  /**
   * Whether anything past `cursor` is committed (or a new chunk published).
   * `quick` loads only the cursor chunk's commit word: one atomic load where
   * the full check makes three while nothing is new. The spin loops use it
   * between full checks; it applies only to the chunk a pull last found
   * newest (a slot reused since gives at most a false "yes", which
   * `pullRun` sorts out), else the full check runs.
   */
  protected hasNews(cursor: Cursor, quick = false): boolean {
    const reg = this.#reg;
    if (quick && cursor.chunk === this.#headChunk) {
      return reg.committed(cursor.chunk) > cursor.index;
    }
    if (cursor.chunk > reg.lastChunk()) return false;
    if (reg.committed(cursor.chunk) > cursor.index) return true;
    const done = FLAG.SEALED | FLAG.DELETED;
    return (reg.flags(cursor.chunk) & done) !== 0 && reg.lastChunk() > cursor.chunk;
  }

  protected async block(cursor: Cursor, signal: AbortSignal | undefined): Promise<void> {
    const notify = this.#notifyMap();
    if (notify === null) {
      // No write access to the registry's notify page: fall back to a 1 ms poll.
      await new Promise<void>((r) => setTimeout(r, 1));
      return;
    }
    // The reader's own aborter fires on close(), so a close ends the wait too.
    this.#bell ??= new Doorbell(notify, REGISTRY_FIELDS);
    await this.#bell.wait(() => this.hasNews(cursor), signal, this.closing.signal);
  }

  /** Writable mapping of the registry's first two pages (notify words), or null if not permitted. */
  #notifyMap(): Mapping | null {
    if (this.#notify !== undefined) return this.#notify;
    if (this.ctx.readOnly) return (this.#notify = null);
    try {
      this.#notify = Mapping.file(this.#reg.path, {
        write: true,
        length: REGISTRY_FIELDS.notifySeq + 4096,
      });
    } catch {
      this.#notify = null;
    }
    return this.#notify;
  }

  /** Throw CORRUPT if a file this reader maps was truncated under it (one atomic load when not). */
  protected checkFaults(): void {
    if (!this.#faults.changed) return;
    const maps = [this.#reg.map, this.#notify, ...this.#cache.mappings()];
    this.#faults.settle(maps, `run deepwater-repair --feed ${this.feed}`);
  }

  /** Unmap everything (once, from `close()`). */
  protected release(): void {
    this.#cache.close();
    this.#markers?.close();
    this.#notify?.close();
    this.#reg.close();
  }
}
