/**
 * The persisted writer: appends records to mapped chunk files and publishes
 * each commit with a release store, rotating to a pre-faulted next chunk.
 *
 * Commit protocol (DESIGN.md): record bytes are written first, then the
 * chunk's committed count is published with `Atomics.store`. A chunk is
 * sealed (final count, min/max/last timestamps, checksum, SEALED flag)
 * before its successor is published, and the successor's registry slot is
 * complete before the `last_chunk` store makes it visible. A process killed
 * at any instant leaves every committed record readable and no torn record
 * visible; the next writer resumes after the last committed record.
 *
 * @module
 */
import { removeQuietly } from "../native/atomic_file.ts";
import { FileLock } from "../native/lock.ts";
import { closedError, DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import {
  CHUNK_FIELDS,
  CHUNK_HEADER,
  chunkGeometry,
  FLAG,
  sealChunkHeader,
  writeChunkHeader,
} from "./format.ts";
import { chunkIdOf } from "../directory/paths.ts";
import { show, writeIndexOption, writerOptions } from "../base/input.ts";
import { FaultWatch, Mapping, type PendingMapping } from "../native/mapping.ts";
import { MarkerFile } from "./markers.ts";
import { checkRegistryMatches, isNotFound, Registry } from "./registry.ts";
import type { StoreFn } from "../schema/codec.ts";
import { copyScan, scanTs } from "../native/scan.ts";
import { inspectChunkFile } from "./chunk_file.ts";

/**
 * When committed data is forced to storage.
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
 * Options for {@linkcode Writer} (and {@linkcode RingWriter}). An unknown key
 * or a value of the wrong type is `INVALID_ARGUMENT` naming the key.
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

/** Options for a single {@linkcode Writer.write}. */
export interface WriteOptions {
  /** Mark this record as a playback point (feeds with `index_playback`). */
  createIndex?: boolean;
}

/** u32 indices of the chunk header's counts around each commit (see CHUNK_FIELDS). */
const PUBLISHING_INDEX = CHUNK_FIELDS.publishing >> 2;
const LIVE_COUNT_INDEX = CHUNK_FIELDS.liveCount >> 2;

/** Hot-path state shared with the generated `writeValues`. Internal. */
class Core {
  dv: DataView = new DataView(new ArrayBuffer(0));
  u8: Uint8Array = new Uint8Array(0);
  count = 0;
  cap = 0;
  reg: Uint32Array;
  commitIdx = 0;
  /** u32 view of the chunk being written: its header keeps a copy of the count. */
  chunk32: Uint32Array = new Uint32Array(0);
  waitersIdx: number;
  lastTs = -1;
  minTs = Infinity;
  maxTs = -Infinity;
  ooo = false;
  syncEachWrite = false;
  /** Watched after every write call: a truncated chunk or registry is CORRUPT. */
  readonly faults = new FaultWatch();
  /** Throws CORRUPT naming the faulted mapping; call only when `faults.changed`. */
  faulted: () => void = () => {};

  constructor(
    registry: Registry,
    readonly rotate: () => void,
    readonly onOutOfOrder: () => void,
    readonly wake: () => void,
    readonly arityError: (n: number) => never,
  ) {
    // The hot path stores the commit word and loads the waiter count through
    // the indices the registry hands out (see Registry.commitIndex).
    this.reg = registry.u32;
    this.waitersIdx = registry.waitersIndex;
  }

  /** Bookkeeping and publish for one record with timestamp `ts`. */
  commit(ts: number): void {
    if (ts < this.lastTs && !this.ooo) this.onOutOfOrder();
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
    this.lastTs = ts;
    // Plain stores of the count into the chunk header around the commit word:
    // readers check the word against the first, repair restores from the second.
    this.chunk32[PUBLISHING_INDEX] = this.count + 1;
    Atomics.store(this.reg, this.commitIdx, ++this.count);
    this.chunk32[LIVE_COUNT_INDEX] = this.count;
    if (Atomics.load(this.reg, this.waitersIdx) !== 0) this.wake();
  }
}

/** Build `writeValues` with a fixed arity for this layout (no rest array). */
function makeWriteValues(core: Core, store: StoreFn, arity: number, recordSize: number) {
  const args = Array.from({ length: arity }, (_, i) => `a${i}`).join(", ");
  return new Function(
    "c",
    "store",
    `"use strict"; return function writeValues(${args}) {
  if (arguments.length !== ${arity}) c.arityError(arguments.length);
  if (c.count === c.cap) c.rotate();
  const ts = store(c.dv, c.u8, ${CHUNK_HEADER} + c.count * ${recordSize}, ${args});
  c.commit(ts);
  if (Atomics.load(c.faults.word, 0) !== c.faults.seen) c.faulted();
  if (c.syncEachWrite) c.rotate.sync();
};`,
  )(core, store) as (...values: unknown[]) => void;
}

/**
 * Appends records to one persisted feed. Exactly one writer per feed exists
 * across all processes (an flock on `writer.lock`; a second gets
 * `WRITER_LOCKED`). Create with `Platform.createWriter`.
 */
export class Writer {
  /** Feed name. */
  readonly feed: string;
  readonly #ctx: FeedContext;
  readonly #reg: Registry;
  readonly #core: Core;
  readonly #lock: FileLock;
  readonly #durability: Durability;
  readonly #prefetch: boolean;
  readonly #geometry: { bytes: number; capacity: number };
  readonly #onClose: (w: Writer) => void;
  #markers: MarkerFile | undefined;
  #chunk: Mapping | undefined;
  #chunkId = 0;
  #next: { id: number; pending: PendingMapping } | undefined;
  /** A second mapping pre-faulting a chunk this writer had to create itself. */
  #warming: PendingMapping | undefined;
  #flushedCount = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #open = true;

  /**
   * Append positional values in schema order (padding fields skipped).
   * Validates every value first; a bad value throws `INVALID_VALUE` and
   * commits nothing.
   *
   * @example
   * ```ts ignore
   * writer.writeValues(123.45, 100.0, 1738368000000000);
   * ```
   */
  readonly writeValues: (...values: unknown[]) => void;

  /** @internal Use `Platform.createWriter`. */
  constructor(ctx: FeedContext, options: WriterOptions, onClose: (w: Writer) => void) {
    this.feed = ctx.name;
    this.#ctx = ctx;
    this.#onClose = onClose;
    ({ durability: this.#durability, prefetch: this.#prefetch } = writerOptions(options));
    this.#geometry = chunkGeometry(ctx.spec.chunk_size_mb, ctx.layout.recordSize);
    this.#lock = FileLock.acquire(ctx.paths.writerLock(ctx.name), {
      wait: false,
      action:
        `Cannot open a writer for "${ctx.name}": another process holds the writer lock; one writer per feed is allowed`,
    });
    try {
      this.#reg = Registry.open(ctx.paths.registry(ctx.name), true);
      checkRegistryMatches(this.#reg, ctx);
    } catch (e) {
      this.#lock.close();
      throw e;
    }
    const rotate = Object.assign(() => this.#rotate(), { sync: () => this.flush() });
    this.#core = new Core(
      this.#reg,
      rotate,
      () => this.#markOutOfOrder(),
      () => this.#wake(),
      (n) => {
        throw new DeepwaterError(
          "INVALID_VALUE",
          `Cannot write record to "${ctx.name}": got ${n} values, expected ${ctx.codec.arity} (${
            ctx.codec.valueFields.map((f) => f.name).join(", ")
          })`,
        );
      },
    );
    this.#core.syncEachWrite = this.#durability === "write";
    this.#core.faulted = () =>
      this.#core.faults.settle(
        [this.#chunk, this.#reg.map],
        `run deepwater-repair --feed ${this.feed}`,
      );
    this.writeValues = makeWriteValues(
      this.#core,
      ctx.codec.store,
      ctx.codec.arity,
      ctx.layout.recordSize,
    );
    try {
      this.#reg.setWriter(Deno.pid);
      this.#resume();
      if (typeof this.#durability === "object") {
        const timer = setInterval(() => this.#open && this.flush(), this.#durability.intervalMs);
        Deno.unrefTimer(timer);
        this.#timer = timer;
      }
    } catch (e) {
      this.#release();
      throw e;
    }
    ctx.log.info(`writer opened for "${ctx.name}"`, {
      chunk: this.#chunkId,
      resumeAt: this.#core.count,
    });
  }

  /** Whether the writer is open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * Settles once the chunk being written is pre-faulted (at once when there
   * was nothing to prepare). A writer works before that; awaiting it first
   * keeps page faults off the first writes, e.g. before a session opens.
   */
  get ready(): Promise<void> {
    return this.#warming?.done ?? Promise.resolve();
  }

  /** Id of the chunk being written. */
  get chunkId(): number {
    return this.#chunkId;
  }

  /**
   * Append one record given as an object keyed by field name: exactly the
   * feed's value fields (an unknown or missing key is `INVALID_VALUE`).
   *
   * With `createIndex`, the record and its marker are committed together or
   * not at all: the marker file is opened and its room checked before the
   * record is committed, so a failed call can be retried without duplicating
   * the record. (A process killed between the two commits leaves the record
   * without its marker.)
   *
   * @param record field values (padding fields are not given)
   * @param options `createIndex` marks a playback point (needs `index_playback`)
   */
  write(record: Record<string, unknown>, options?: WriteOptions): void {
    const index = writeIndexOption(options);
    if (index && !this.#ctx.spec.index_playback) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot create a playback marker on "${this.feed}": the feed was created without index_playback: true`,
      );
    }
    const c = this.#core;
    if (c.count === c.cap) this.#rotate();
    const marker = index ? this.#nextMarker() : 0;
    const ts = this.#ctx.codec.storeObject(
      c.dv,
      c.u8,
      CHUNK_HEADER + c.count * this.#ctx.layout.recordSize,
      record,
    );
    c.commit(ts);
    if (index) this.#addMarker(marker, c.count - 1, ts);
    if (c.faults.changed) c.faulted();
    if (c.syncEachWrite) this.flush();
  }

  /**
   * Append many packed records (little-endian, schema layout, `recordSize`
   * bytes each) with one publish per chunk touched. Timestamps are checked
   * first; a bad batch throws `INVALID_VALUE` and commits nothing.
   *
   * @param bytes whole records
   */
  writeBatch(bytes: Uint8Array): void {
    if (!this.#open) throw closedError(`Writer for "${this.feed}"`);
    const rs = this.#ctx.layout.recordSize;
    checkBatch(bytes, this.feed);
    if (bytes.length % rs !== 0) {
      throw new DeepwaterError(
        "INVALID_VALUE",
        `Cannot write batch to "${this.feed}": ${bytes.length} bytes is not a whole number of ${rs}-byte records`,
      );
    }
    const n = bytes.length / rs;
    if (n === 0) return;
    const c = this.#core;
    const tsOff = this.#ctx.layout.tsOffset;
    const src = bytesAddr(bytes);
    if (c.count === c.cap) this.#rotate();
    const fits = n <= c.cap - c.count;
    // A batch that spans chunks is validated before any chunk is touched; one
    // that fits is validated as it is copied into the uncommitted area.
    if (!fits && scanTs(src, n, rs, tsOff).big) throw this.#batchTsError();
    let done = 0;
    while (done < n) {
      if (c.count === c.cap) this.#rotate();
      const k = Math.min(n - done, c.cap - c.count);
      const at = CHUNK_HEADER + c.count * rs;
      const s = copyScan(this.#chunk!.addr + BigInt(at), src + BigInt(done * rs), k, rs, tsOff);
      if (s.big) throw this.#batchTsError(); // only reachable when it fits: nothing published
      if (!c.ooo && (!s.sorted || s.first < c.lastTs)) this.#markOutOfOrder();
      if (s.min < c.minTs) c.minTs = s.min;
      if (s.max > c.maxTs) c.maxTs = s.max;
      c.lastTs = s.last;
      c.chunk32[PUBLISHING_INDEX] = c.count + k; // the header's counts, as in Core.commit
      c.count += k;
      Atomics.store(c.reg, c.commitIdx, c.count);
      c.chunk32[LIVE_COUNT_INDEX] = c.count;
      if (Atomics.load(c.reg, c.waitersIdx) !== 0) this.#wake();
      done += k;
    }
    if (c.faults.changed) c.faulted();
    if (c.syncEachWrite) this.flush();
  }

  /**
   * Force everything committed so far to storage (msync, waiting for it).
   * Called automatically according to the durability setting.
   */
  flush(): void {
    if (!this.#open || !this.#chunk) return;
    const end = CHUNK_HEADER + this.#core.count * this.#ctx.layout.recordSize;
    const start = Math.max(0, CHUNK_HEADER + this.#flushedCount * this.#ctx.layout.recordSize - 1);
    if (end > start) this.#chunk.msync(start, end - start, true);
    this.#reg.map.msync(0, this.#reg.map.length, true);
    this.#flushedCount = this.#core.count;
  }

  /**
   * Close: flush per the durability setting, release the lock and mappings.
   * The live chunk stays open for the next writer to resume. Waits for the
   * next chunk's preparation if a worker is still running it (one chunk's
   * pre-fault at most), so no unpublished chunk file is left behind.
   * Idempotent.
   */
  close(): void {
    if (!this.#open) return;
    if (this.#durability !== "page-cache") this.flush();
    this.#ctx.log.info(`writer closed for "${this.feed}"`, {
      chunk: this.#chunkId,
      count: this.#core.count,
    });
    this.#release();
  }

  /** Same as {@linkcode Writer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #release(): void {
    this.#open = false;
    const c = this.#core;
    c.count = 0;
    c.cap = 0; // the next write call reaches #rotate, which throws CLOSED
    c.dv = new DataView(new ArrayBuffer(0));
    c.u8 = new Uint8Array(0);
    c.chunk32 = new Uint32Array(0);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#next) {
      // Wait for the worker: unlinking before it creates the file would leave
      // an orphan behind. Never published, so nobody else can have it open.
      const { pending } = this.#next;
      this.#next = undefined;
      try {
        pending.wait().close();
      } catch {
        // the worker failed: nothing is mapped
      }
      removeQuietly(pending.path);
    }
    this.#warming?.discard(); // only a second mapping of a published chunk: nothing to wait for
    this.#warming = undefined;
    this.#chunk?.close();
    this.#markers?.close();
    this.#reg.clearWriter(); // a recorded pid with a free lock means a crash
    this.#reg.close();
    this.#lock.close();
    this.#onClose(this);
  }

  /** Pick up where the last writer stopped (or create chunk 1). */
  #resume(): void {
    const reg = this.#reg;
    const last = reg.lastChunk();
    this.#refuseStrays(last);
    if (last === 0) {
      this.#startChunk(1, -1);
      return;
    }
    const e = reg.entry(last);
    const prevLastTs = last > 1 && last - 1 >= reg.firstChunk() ? reg.entry(last - 1).lastTs : -1;
    if (e.flags & FLAG.SEALED) {
      this.#startChunk(last + 1, e.lastTs);
      return;
    }
    const path = this.#ctx.paths.chunk(this.feed, last);
    let m: Mapping;
    try {
      m = Mapping.file(path, { write: true });
    } catch (err) {
      if (isNotFound(err)) {
        throw new DeepwaterError(
          "CORRUPT",
          `Live chunk ${last} of "${this.feed}" is missing: run deepwater-repair --feed ${this.feed}`,
          { path, cause: err },
        );
      }
      throw err;
    }
    const rs = this.#ctx.layout.recordSize;
    // The counts the last writer stored around each commit: a commit word
    // above what it was publishing, or below what it had published, is
    // damage, and resuming there would bury a phantom record or overwrite
    // acknowledged ones.
    const head = new DataView(m.buffer);
    const publishing = head.getUint32(CHUNK_FIELDS.publishing, true);
    const published = head.getUint32(CHUNK_FIELDS.liveCount, true);
    if ((publishing !== 0 && e.committed > publishing) || published > e.committed) {
      m.close();
      throw new DeepwaterError(
        "CORRUPT",
        `Live chunk ${last} of "${this.feed}" commits ${e.committed} records but its header says ${published} were published: run deepwater-repair --feed ${this.feed}`,
        { path },
      );
    }
    if (m.length < CHUNK_HEADER + e.capacity * rs || e.committed > e.capacity) {
      m.close();
      throw new DeepwaterError(
        "CORRUPT",
        `Live chunk ${last} of "${this.feed}" is shorter than its registry entry: run deepwater-repair --feed ${this.feed}`,
        { path },
      );
    }
    this.#install(m, last, e.capacity, e.committed);
    this.#warm(path, m.length); // after a reboot its pages are not in the page cache
    const c = this.#core;
    const s = scanTs(m.addr + BigInt(CHUNK_HEADER), e.committed, rs, this.#ctx.layout.tsOffset);
    c.lastTs = e.committed ? s.last : prevLastTs;
    c.minTs = e.committed ? s.min : Infinity;
    c.maxTs = e.committed ? s.max : -Infinity;
    c.ooo = (e.flags & FLAG.OUT_OF_ORDER) !== 0;
    this.#beginPrefetch(last + 1);
  }

  /**
   * Refuse to start when chunk files past the registry's newest chunk hold
   * data (a damaged or replaced registry): writing on would overwrite them.
   * The next chunk a previous writer prepared and never used is fine.
   */
  #refuseStrays(last: number): void {
    const dir = this.#ctx.paths.feedDir(this.feed);
    const strays: number[] = [];
    for (const e of Deno.readDirSync(dir)) {
      const id = chunkIdOf(e.name);
      if (id === undefined || id <= last) continue;
      const path = `${dir}/${e.name}`;
      const st = Deno.lstatSync(path);
      if (st.isSymlink) {
        throw new DeepwaterError(
          "CORRUPT",
          `Cannot open a writer for "${this.feed}": "${path}" is a symbolic link; Deepwater does not follow links inside its data directory: remove the link`,
          { path },
        );
      }
      const f = st.isFile
        ? inspectChunkFile(path, id, st.size, this.#ctx.layout.recordSize, this.#ctx.layoutCrc)
        : undefined;
      if (!f || f.holdsData || (id > last + 1 && !f.blank)) strays.push(id);
    }
    if (strays.length) {
      throw new DeepwaterError(
        "CORRUPT",
        `Cannot open a writer for "${this.feed}": chunk file(s) ${
          strays.sort((a, b) => a - b).join(", ")
        } lie past the registry's newest chunk ${last}: run deepwater-repair --feed ${this.feed}`,
        { path: dir },
      );
    }
  }

  /** Create (or take the prefetched) chunk `id`, publish it, make it current. */
  #startChunk(id: number, prevLastTs: number): void {
    const reg = this.#reg;
    this.#ensureRoom(id);
    const path = this.#ctx.paths.chunk(this.feed, id);
    const { bytes, capacity } = this.#geometry;
    let m: Mapping | undefined;
    if (this.#next?.id === id) {
      // Waiting for the worker beats faulting the same pages from two threads.
      try {
        m = this.#next.pending.wait();
      } catch {
        m = undefined; // fall back to a synchronous map, which reports any real error
      }
      this.#next = undefined;
    }
    if (!m) {
      // No prefetched chunk (the writer's first, or the worker failed).
      m = Mapping.file(path, { length: bytes, write: true, create: true });
      this.#warm(path, bytes);
    }
    writeChunkHeader(
      new DataView(m.buffer),
      id,
      this.#ctx.layout.recordSize,
      capacity,
      this.#ctx.layoutCrc,
    );
    reg.publishChunk(id, capacity);
    this.#install(m, id, capacity, 0);
    const c = this.#core;
    c.lastTs = prevLastTs;
    c.minTs = Infinity;
    c.maxTs = -Infinity;
    c.ooo = false;
    this.#beginPrefetch(id + 1);
  }

  #install(m: Mapping, id: number, capacity: number, count: number): void {
    this.#chunk = m;
    this.#chunkId = id;
    this.#flushedCount = count;
    const c = this.#core;
    c.dv = new DataView(m.buffer);
    c.u8 = new Uint8Array(m.buffer);
    c.count = count;
    c.cap = capacity;
    c.commitIdx = this.#reg.commitIndex(id);
    c.chunk32 = new Uint32Array(m.buffer, 0, CHUNK_HEADER >> 2);
    c.chunk32[PUBLISHING_INDEX] = count;
    c.chunk32[LIVE_COUNT_INDEX] = count;
  }

  #beginPrefetch(id: number): void {
    if (!this.#prefetch) return;
    const path = this.#ctx.paths.chunk(this.feed, id);
    this.#next = {
      id,
      pending: Mapping.begin(path, {
        length: this.#geometry.bytes,
        write: true,
        create: true,
        prefault: true,
      }),
    };
  }

  /** Seal the full chunk and switch to the next. Also the CLOSED gate of the hot path. */
  #rotate(): void {
    if (!this.#open) throw closedError(`Writer for "${this.feed}"`);
    const c = this.#core;
    if (c.faults.changed) c.faulted(); // before the old chunk is unmapped and its fault forgotten
    const reg = this.#reg;
    const id = this.#chunkId;
    this.#ensureRoom(id + 1); // before sealing: a FULL registry leaves the chunk live
    sealChunkHeader(c.dv, c.count); // self-describing for repair
    reg.seal(id, c.minTs, c.maxTs, c.lastTs, c.ooo ? FLAG.OUT_OF_ORDER : 0);
    if (this.#durability !== "page-cache") this.flush();
    const old = this.#chunk!;
    this.#settleWarming(false);
    this.#startChunk(id + 1, c.lastTs);
    old.close({ background: true });
  }

  /**
   * Pre-fault a chunk this writer maps itself on a worker thread, through a
   * second mapping, so opening returns at once and writes find their pages
   * allocated (`ready` says when). Populating writes nothing, so it is safe
   * beside our own stores.
   */
  #warm(path: string, bytes: number): void {
    if (!this.#prefetch) return;
    this.#settleWarming(true);
    this.#warming = Mapping.begin(path, { length: bytes, write: true, prefault: true });
  }

  /** Unmap the warming mapping once its worker is done (waiting for it if asked). */
  #settleWarming(wait: boolean): void {
    const w = this.#warming;
    if (!w) return;
    try {
      const m = wait ? w.wait() : w.poll();
      if (!m) return; // still running: look again at the next rotation
      m.close();
    } catch {
      // the worker failed: nothing is mapped, and the writes fault pages in themselves
    }
    this.#warming = undefined;
  }

  /** Throw FULL when chunk `id` would overwrite a retained registry slot. */
  #ensureRoom(id: number): void {
    const reg = this.#reg;
    if (id >= 2 ** 32) {
      throw new DeepwaterError("FULL", `Feed "${this.feed}" has used every chunk id`);
    }
    if (id - reg.firstChunk() >= reg.capacity) {
      throw new DeepwaterError(
        "FULL",
        `Cannot rotate "${this.feed}": its registry holds ${reg.capacity} chunks: run deepwater-cleanup (retention) or raise chunk_size_mb`,
        { path: reg.path },
      );
    }
  }

  #batchTsError(): DeepwaterError {
    return new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write batch to "${this.feed}": a "${this.#ctx.layout.tsName}" value is beyond 2^53-1 microseconds`,
    );
  }

  #markOutOfOrder(): void {
    this.#core.ooo = true;
    this.#reg.addFlags(this.#chunkId, FLAG.OUT_OF_ORDER); // visible before the commit that follows
  }

  #wake(): void {
    const reg = this.#reg;
    reg.wake();
  }

  /**
   * Everything about the next marker that can fail, done before its record
   * is committed: open (or create) the marker file and check its room.
   * Returns the marker's slot.
   */
  #nextMarker(): number {
    this.#markers ??= MarkerFile.open(this.#ctx.paths.markers(this.feed), true);
    const n = this.#reg.markerCount();
    this.#markers.checkRoom(n);
    return n;
  }

  /** Store and publish marker `n` (checked by #nextMarker) for a committed record. */
  #addMarker(n: number, index: number, ts: number): void {
    const reg = this.#reg;
    this.#markers!.set(n, { chunk: this.#chunkId, index, ts });
    reg.setMarkerCount(n + 1);
    if (reg.hasWaiters()) this.#wake();
  }
}

/**
 * Refuse a `writeBatch` argument that is not a live Uint8Array (a detached
 * buffer reads as empty, and would otherwise pass for an empty batch).
 *
 * @param bytes the caller's argument
 * @param feed feed name for the message
 */
export function checkBatch(bytes: unknown, feed: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write batch to "${feed}": expected a Uint8Array of whole records, got ${show(bytes)}`,
    );
  }
  if (bytes.buffer instanceof ArrayBuffer && bytes.buffer.detached) {
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write batch to "${feed}": its buffer is detached (transferred or closed): pass a live Uint8Array`,
    );
  }
}

function bytesAddr(bytes: Uint8Array): bigint {
  const p = Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}
