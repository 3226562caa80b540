/**
 * The persisted reader: time-range queries over mapped chunks, the newest
 * record, and a live tail that follows the writer across processes.
 *
 * Readers open every file read-only and never create, grow or repair
 * anything. They observe the writer's commits with acquire loads
 * (`Atomics.load`), so a record is visible only once whole.
 *
 * @module
 */
import { closedError, DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import type { DecodedRecord, DecodeFn } from "../schema/codec.ts";
import { checkChunkHeader, CHUNK_FIELDS, CHUNK_HEADER, FLAG, REGISTRY_FIELDS } from "./format.ts";
import { u64 } from "../schema/header.ts";
import { readerOptions, readMax, streamOptions, timeRange } from "../base/input.ts";
import { LiveIterator } from "../feed/live.ts";
import { FaultWatch, Mapping } from "../native/mapping.ts";
import { MarkerFile } from "./markers.ts";
import { checkRegistryMatches, isNotFound, Registry } from "./registry.ts";
import { scanTs, searchTs } from "../native/scan.ts";
import { Doorbell } from "../native/doorbell.ts";

/**
 * Options for {@linkcode Reader} (and {@linkcode RingReader}). An unknown key
 * or a value of the wrong type is `INVALID_ARGUMENT` naming the key.
 */
export interface ReaderOptions {
  /** Return 64-bit integer fields as BigInt (default: numbers, error when one does not fit). */
  bigint?: boolean;
  /**
   * Chunk mappings kept open for reuse (default 1024). A mapping costs only
   * address space and one kernel VMA, and re-mapping on every random seek
   * costs tens of microseconds, so keep this above the chunks you seek into.
   * An integer from 1 to 65536 (the kernel's default `vm.max_map_count`
   * bounds a process's mappings near there anyway).
   */
  cacheChunks?: number;
}

/** How a live tail waits for the writer. */
export type WaitMode = "block" | "spin";

/**
 * Options for {@linkcode Reader.stream}. An unknown key or a value of the
 * wrong type is `INVALID_ARGUMENT` naming the key.
 */
export interface StreamOptions {
  /**
   * Start at the newest playback marker (feeds with `index_playback`) and
   * continue live without a gap; with no marker yet, start at the live head.
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
}

interface ChunkView {
  id: number;
  /** Records the mapping holds (the chunk header's capacity, checked against the file). */
  cap: number;
  map: Mapping;
  dv: DataView;
  u8: Uint8Array;
  pins: number;
}

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

/** Position of a live cursor: next record to deliver. */
interface Cursor {
  chunk: number;
  index: number;
}

/** Timestamps are below 2^53 (checked on write): an end at or past this includes everything. */
const MAX_TS = Number.MAX_SAFE_INTEGER;

/**
 * Reads one persisted feed. Create with `Platform.createReader`.
 *
 * Records are decoded into plain objects (copies): they stay valid after the
 * reader closes. An iterator from `read()` or `stream()` that is still
 * running when the reader closes throws `CLOSED` on its next step.
 */
export class Reader {
  /** Feed name. */
  readonly feed: string;
  readonly #ctx: FeedContext;
  readonly #reg: Registry;
  readonly #decode: DecodeFn;
  readonly #rs: number;
  readonly #tsOff: number;
  readonly #cacheLimit: number;
  readonly #chunks = new Map<number, ChunkView>();
  readonly #onClose: (r: Reader) => void;
  #notify: Mapping | undefined | null;
  #bell: Doorbell | undefined;
  #markers: MarkerFile | undefined;
  #cursor: Cursor;
  #sum: ChunkSummary = { base: 1, min: [], max: [], unsorted: [], ooo: false };
  #open = true;
  readonly #aborter = new AbortController();
  readonly #faults = new FaultWatch();

  /** @internal Use `Platform.createReader`. */
  constructor(ctx: FeedContext, options: ReaderOptions, onClose: (r: Reader) => void) {
    this.feed = ctx.name;
    this.#ctx = ctx;
    this.#onClose = onClose;
    const o = readerOptions(options);
    this.#decode = o.bigint ? ctx.codec.decodeBigInt : ctx.codec.decode;
    this.#rs = ctx.layout.recordSize;
    this.#tsOff = ctx.layout.tsOffset;
    this.#cacheLimit = o.cacheChunks;
    this.#reg = Registry.open(ctx.paths.registry(ctx.name), false);
    try {
      checkRegistryMatches(this.#reg, ctx);
    } catch (e) {
      this.#reg.close();
      throw e;
    }
    this.#cursor = this.#head();
  }

  /** Whether the reader is open. */
  get isOpen(): boolean {
    return this.#open;
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
    this.#check();
    const [start, end] = timeRange(startUs, endUs);
    return this.#range(start, end);
  }

  /** Number of records `read(startUs, endUs)` would return right now. */
  count(startUs?: number | bigint, endUs?: number | bigint): number {
    this.#check();
    const [start, end] = timeRange(startUs, endUs);
    let total = 0;
    for (const seg of this.#segments(start, end)) {
      if (seg.filter) {
        for (let i = seg.lo; i < seg.hi; i++) {
          const ts = u64(seg.view.dv, CHUNK_HEADER + i * this.#rs + this.#tsOff);
          if (ts >= start && ts <= end) total++;
        }
      } else total += seg.hi - seg.lo;
      this.#unpin(seg.view);
    }
    this.#checkFaults();
    return total;
  }

  *#range(start: number, end: number): Generator<DecodedRecord> {
    const decode = this.#decode;
    const rs = this.#rs;
    const tsOff = this.#tsOff;
    for (const seg of this.#segments(start, end)) {
      const { dv, u8 } = seg.view;
      try {
        if (seg.filter) {
          for (let i = seg.lo; i < seg.hi; i++) {
            if (!this.#open) throw closedError(`Reader for "${this.feed}"`);
            const o = CHUNK_HEADER + i * rs;
            const ts = u64(dv, o + tsOff);
            if (ts < start || ts > end) continue;
            const r = decode(dv, u8, o);
            this.#checkFaults();
            yield r;
          }
        } else {
          for (let i = seg.lo; i < seg.hi; i++) {
            if (!this.#open) throw closedError(`Reader for "${this.feed}"`);
            const r = decode(dv, u8, CHUNK_HEADER + i * rs);
            this.#checkFaults();
            yield r;
          }
        }
        this.#checkFaults(); // records the filter skipped may have been read from zero pages
      } finally {
        this.#unpin(seg.view);
      }
    }
  }

  /**
   * The pinned chunk ranges that may hold records in [start, end]. Each
   * yielded view is pinned; the consumer unpins it.
   *
   * Sealed chunks are immutable, so their timestamp bounds are cached in a
   * summary. While no retained chunk holds out-of-order data, chunk maxima
   * are non-decreasing: the first candidate chunk is found by binary search
   * and the walk stops at the first chunk starting after `end`, which makes
   * a seek O(log chunks + log records).
   */
  *#segments(
    start: number,
    end: number,
  ): Generator<{ view: ChunkView; lo: number; hi: number; filter: boolean }> {
    if (end < start) return;
    const reg = this.#reg;
    const { first, last } = reg.span();
    const all = start === 0 && end === Number.MAX_SAFE_INTEGER;
    const sum = this.#summary(first, last);
    let id = first;
    if (!all && !sum.ooo) id = sum.base + lowerBound(sum.max, Math.max(0, first - sum.base), start);
    for (; id <= last; id++) {
      this.#check();
      const k = id - sum.base;
      const known = k >= 0 && k < sum.max.length;
      if (!all && known) {
        if (sum.min[k]! > end) {
          if (!sum.ooo) return;
          continue;
        }
        if (sum.max[k]! < start) continue;
      }
      const flags = reg.flags(id);
      if (flags & FLAG.DELETED) continue;
      const view = this.#view(id);
      if (!view) continue;
      const n = this.#committed(view);
      if (n === 0) continue;
      view.pins++;
      let lo = 0, hi = n, filter = false;
      if (!all) {
        if (flags & FLAG.OUT_OF_ORDER || (known && sum.unsorted[k])) filter = true;
        else {
          // A sealed in-order chunk's bounds often settle an end without a
          // search (an open end always does): one binary search, not two.
          if (!(known && start <= sum.min[k]!)) lo = this.#search(view, n, start, false);
          if (!(end >= MAX_TS || (known && end >= sum.max[k]!))) {
            hi = this.#search(view, n, end, true);
          }
        }
      }
      if (lo < hi) yield { view, lo, hi, filter };
      else this.#unpin(view);
    }
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
          const view = this.#view(id);
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
    const n = this.#reg.committed(view.id);
    if (n > view.cap) {
      throw this.#reg.corrupt(
        `chunk ${view.id} of "${this.feed}" commits ${n} records but holds ${view.cap}`,
      );
    }
    // The writer stores each count it is about to publish in the chunk header
    // before the commit word, so that copy (loaded after the word) is at least
    // as high; a word above it would hand out unwritten records.
    const publishing = view.dv.getUint32(CHUNK_FIELDS.publishing, true);
    if (publishing !== 0 && n > publishing) {
      throw this.#reg.corrupt(
        `chunk ${view.id} of "${this.feed}" commits ${n} records but its own header counts ${publishing}`,
      );
    }
    return n;
  }

  #search(view: ChunkView, n: number, target: number, upper: boolean): number {
    const addr = view.map.addr + BigInt(CHUNK_HEADER);
    return searchTs(addr, n, this.#rs, this.#tsOff, target, upper, view.map.path);
  }

  /**
   * The newest committed record, or undefined when the feed is empty.
   *
   * @returns the record
   */
  latest(): DecodedRecord | undefined {
    this.#check();
    const reg = this.#reg;
    const { first, last } = reg.span();
    for (let id = last; id >= first; id--) {
      if (reg.committed(id) === 0 || reg.flags(id) & FLAG.DELETED) continue;
      const v = this.#view(id);
      if (!v) continue;
      const n = this.#committed(v);
      if (n === 0) continue;
      const r = this.#decode(v.dv, v.u8, CHUNK_HEADER + (n - 1) * this.#rs);
      this.#checkFaults();
      return r;
    }
    return undefined;
  }

  /**
   * Records committed since the previous call (the first call: since the
   * reader was created), without waiting. Shares its position with nothing
   * else: `stream()` keeps its own.
   *
   * @param max most records to return (default 65536; a positive integer)
   * @returns decoded records, possibly none
   */
  readAvailable(max = 65536): DecodedRecord[] {
    this.#check();
    const out: DecodedRecord[] = [];
    this.#pull(this.#cursor, readMax(max), out);
    this.#checkFaults();
    return out;
  }

  /**
   * Live tail: yields every record committed after the call (or from the
   * newest playback marker), in order, across chunk rotations, with no skip
   * and no duplicate. Ends when `signal` aborts or the reader closes.
   *
   * @param options see {@linkcode StreamOptions}
   * @returns an async iterator of records
   */
  stream(options?: StreamOptions): AsyncIterableIterator<DecodedRecord> {
    this.#check();
    const o = streamOptions(options);
    const cursor = o.playback ? this.#playbackStart() : this.#head();
    return new LiveIterator(
      {
        pull: (out, max) => {
          this.#pull(cursor, max, out);
          this.#checkFaults();
        },
        hasNews: () => this.#hasNews(cursor),
        block: (signal) => this.#block(cursor, signal),
        isOpen: () => this.#open,
      },
      o.wait,
      o.signal,
      o.spinYieldMs,
    );
  }

  /** Cursor at the live head (just after the newest committed record). */
  #head(): Cursor {
    const reg = this.#reg;
    const { last } = reg.span();
    if (last === 0) return { chunk: 1, index: 0 };
    const v = reg.flags(last) & FLAG.DELETED ? undefined : this.#view(last);
    return { chunk: last, index: v ? this.#committed(v) : 0 };
  }

  #playbackStart(): Cursor {
    const reg = this.#reg;
    if (!this.#ctx.spec.index_playback) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot play back "${this.feed}": the feed was created without index_playback: true`,
      );
    }
    const n = reg.markerCount();
    if (n === 0) return this.#head();
    this.#markers ??= MarkerFile.open(this.#ctx.paths.markers(this.feed), false);
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
        { path: this.#ctx.paths.markers(this.feed) },
      );
    }
    return { chunk: m.chunk, index: m.index };
  }

  /** Move up to `max` committed records from `cursor` into `out`. */
  #pull(cursor: Cursor, max: number, out: DecodedRecord[]): void {
    const reg = this.#reg;
    while (out.length < max) {
      const { first, last } = reg.span();
      if (cursor.chunk < first) cursor.chunk = first, cursor.index = 0;
      if (cursor.chunk > last) return;
      if (reg.flags(cursor.chunk) & FLAG.DELETED) {
        // Retention (or repair) removed it: its records are gone, move on.
        if (last <= cursor.chunk) return;
        cursor.chunk++;
        cursor.index = 0;
        continue;
      }
      if (cursor.index < reg.committed(cursor.chunk)) {
        const v = this.#view(cursor.chunk);
        if (!v) continue; // removed between the flag check and the open: look again
        const n = this.#committed(v);
        const k = Math.min(n - cursor.index, max - out.length);
        for (let i = 0; i < k; i++) {
          out.push(this.#decode(v.dv, v.u8, CHUNK_HEADER + (cursor.index + i) * this.#rs));
        }
        cursor.index += k;
        continue;
      }
      // Caught up with this chunk: move on only once it is sealed (final count)
      // and its successor is published.
      if (!(reg.flags(cursor.chunk) & FLAG.SEALED)) {
        // The writer seals before it publishes a successor, so a successor
        // beside a chunk that is (still, re-read after) unsealed is damage.
        if (reg.lastChunk() <= cursor.chunk || reg.flags(cursor.chunk) & FLAG.SEALED) return;
        throw reg.corrupt(
          `chunk ${cursor.chunk} of "${this.feed}" has a successor but was never sealed`,
        );
      }
      if (cursor.index < reg.committed(cursor.chunk)) continue;
      if (reg.lastChunk() <= cursor.chunk) return;
      cursor.chunk++;
      cursor.index = 0;
    }
  }

  /** Whether anything past `cursor` is committed (or a new chunk published). */
  #hasNews(cursor: Cursor): boolean {
    const reg = this.#reg;
    if (cursor.chunk > reg.lastChunk()) return false;
    if (reg.committed(cursor.chunk) > cursor.index) return true;
    const done = FLAG.SEALED | FLAG.DELETED;
    return (reg.flags(cursor.chunk) & done) !== 0 && reg.lastChunk() > cursor.chunk;
  }

  async #block(cursor: Cursor, signal: AbortSignal | undefined): Promise<void> {
    const notify = this.#notifyMap();
    if (notify === null) {
      // No write access to the registry's notify page: fall back to a 1 ms poll.
      await new Promise<void>((r) => setTimeout(r, 1));
      return;
    }
    // The reader's own aborter fires on close(), so a close ends the wait too.
    this.#bell ??= new Doorbell(notify, REGISTRY_FIELDS);
    await this.#bell.wait(() => this.#hasNews(cursor), signal, this.#aborter.signal);
  }

  /** Writable mapping of the registry's first two pages (notify words), or null if not permitted. */
  #notifyMap(): Mapping | null {
    if (this.#notify !== undefined) return this.#notify;
    if (this.#ctx.readOnly) return (this.#notify = null);
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

  /** Chunk view for `id`, mapping it if needed; undefined when cleanup removed it. */
  #view(id: number): ChunkView | undefined {
    let v = this.#chunks.get(id);
    if (v) {
      this.#chunks.delete(id); // re-insert: Map order is our LRU order
      this.#chunks.set(id, v);
      return v;
    }
    const path = this.#ctx.paths.chunk(this.feed, id);
    let map: Mapping;
    try {
      map = Mapping.file(path);
    } catch (e) {
      // Retention removed it (possibly between our flag check and the open).
      if (isNotFound(e) && (id < this.#reg.firstChunk() || this.#reg.flags(id) & FLAG.DELETED)) {
        return undefined;
      }
      if (isNotFound(e)) {
        throw new DeepwaterError(
          "CORRUPT",
          `Chunk ${id} of "${this.feed}" is missing: run deepwater-repair --feed ${this.feed}`,
          { path, cause: e },
        );
      }
      throw e;
    }
    let cap: number;
    try {
      cap = checkChunkHeader(map, id, this.#rs, this.#ctx.layoutCrc);
    } catch (e) {
      map.close();
      throw e;
    }
    const dv = new DataView(map.buffer);
    v = { id, cap, map, dv, u8: new Uint8Array(map.buffer), pins: 0 };
    this.#chunks.set(id, v);
    this.#evict();
    return v;
  }

  #unpin(v: ChunkView): void {
    v.pins--;
    this.#evict();
  }

  #evict(): void {
    if (this.#chunks.size <= this.#cacheLimit) return;
    for (const [id, v] of this.#chunks) {
      if (this.#chunks.size <= this.#cacheLimit) break;
      if (v.pins > 0) continue;
      v.map.close();
      this.#chunks.delete(id);
    }
  }

  #check(): void {
    if (!this.#open) throw closedError(`Reader for "${this.feed}"`);
  }

  /** Throw CORRUPT if a file this reader maps was truncated under it (one atomic load when not). */
  #checkFaults(): void {
    if (!this.#faults.changed) return;
    const maps = [this.#reg.map, this.#notify, ...[...this.#chunks.values()].map((v) => v.map)];
    this.#faults.settle(maps, `run deepwater-repair --feed ${this.feed}`);
  }

  /** Unmap everything. Running iterators throw CLOSED on their next step. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#aborter.abort();
    for (const v of this.#chunks.values()) v.map.close();
    this.#chunks.clear();
    this.#markers?.close();
    this.#notify?.close();
    this.#reg.close();
    this.#onClose(this);
  }

  /** Same as {@linkcode Reader.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
