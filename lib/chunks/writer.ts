/**
 * The persisted writer: appends records to mapped chunk files and publishes
 * each commit with a release store, rotating to a pre-faulted next chunk.
 *
 * Commit protocol (DESIGN.md): record bytes are written first, then the
 * chunk's committed count is published with a release store (the native
 * commit, see `Doorbell.commit`). A chunk is
 * sealed (final count, min/max/last timestamps, checksum, SEALED flag)
 * before its successor is published, and the successor's registry slot is
 * complete before the `last_chunk` store makes it visible. A process killed
 * at any instant leaves every committed record readable and no torn record
 * visible; the next writer resumes after the last committed record.
 *
 * @module
 */
import type { FileLock } from "../native/lock.ts";
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
import { writeIndexOption, writerOptions } from "../base/input.ts";
import { Mapping } from "../native/mapping.ts";
import { COMMIT_FAULTED, COMMIT_WAKE, type Doorbell, NO_WORD } from "../native/doorbell.ts";
import { MarkerFile } from "./markers.ts";
import { checkRegistryMatches, isNotFound, Registry } from "./registry.ts";
import type { Durability, FeedWriter, WriteOptions, WriterOptions } from "../feed/contract.ts";
import {
  acquireWriterLock,
  batchRecords,
  batchTsError,
  makeWriteValues,
  WriteCore,
  writeObject,
} from "../feed/write_core.ts";
import { NextChunk } from "./next_chunk.ts";
import { bytesAddress, copyScan, scanTs } from "../native/scan.ts";
import { inspectChunkFile } from "./chunk_file.ts";

/** u32 indices of the chunk header's counts around each commit (see CHUNK_FIELDS). */
const PUBLISHING_INDEX = CHUNK_FIELDS.publishing >> 2;
const LIVE_COUNT_INDEX = CHUNK_FIELDS.liveCount >> 2;
/** Indices into ChunkCore.ts. */
const LAST = 0, MIN = 1, MAX = 2;

/** The persisted writer's side of the shared write path (see `feed/write_core.ts`). Internal. */
class ChunkCore extends WriteCore {
  count = 0;
  cap = 0;
  /** The registry's doorbell: commits go through it (see `Doorbell.commit`). */
  readonly bell: Doorbell;
  /** u32 index of the chunk's commit word in the registry. */
  commitIdx = 0;
  /** u32 view of the chunk being written: its header keeps a copy of the count. */
  chunk32: Uint32Array = new Uint32Array(0);
  /**
   * The chunk's last, smallest and largest timestamps. A Float64Array, not
   * three number fields: V8 kept those fields tagged, so every commit boxed
   * its timestamp in a new heap number (a quarter of writeValues' time).
   */
  readonly ts: Float64Array = Float64Array.of(-1, Infinity, -Infinity);
  ooo = false;

  readonly recordSize: number;

  constructor(
    ctx: FeedContext,
    registry: Registry,
    readonly rotate: () => void,
    readonly onOutOfOrder: () => void,
    readonly wake: () => void,
    readonly onFault: () => void,
    readonly onSync: () => void,
  ) {
    super(ctx.name, ctx.codec);
    this.recordSize = ctx.layout.recordSize;
    this.bell = registry.doorbell;
  }

  /** Timestamp of the last record written (-1 before any). */
  get lastTs(): number {
    return this.ts[LAST]!;
  }
  set lastTs(v: number) {
    this.ts[LAST] = v;
  }
  /** Smallest timestamp in the chunk (Infinity while empty). */
  get minTs(): number {
    return this.ts[MIN]!;
  }
  set minTs(v: number) {
    this.ts[MIN] = v;
  }
  /** Largest timestamp in the chunk (-Infinity while empty). */
  get maxTs(): number {
    return this.ts[MAX]!;
  }
  set maxTs(v: number) {
    this.ts[MAX] = v;
  }

  /** Rotate when the chunk is full (also the CLOSED gate: a closed writer's cap is 0). */
  claim(): number {
    if (this.count === this.cap) this.rotate();
    return CHUNK_HEADER + this.count * this.recordSize;
  }

  /** Bookkeeping and publish for one record with timestamp `ts`. */
  commit(ts: number): number {
    const t = this.ts;
    if (ts < t[LAST]! && !this.ooo) this.onOutOfOrder();
    if (ts < t[MIN]!) t[MIN] = ts;
    if (ts > t[MAX]!) t[MAX] = ts;
    t[LAST] = ts;
    return this.publish(this.count + 1);
  }

  /**
   * Publish the chunk's first `count` records: plain stores of the count into
   * the chunk header around the registry's commit word (readers check the
   * word against the first, repair restores from the second), the commit
   * itself, and a ring when readers wait. Returns COMMIT_FAULTED when a
   * mapping faulted since the last settle.
   */
  publish(count: number): number {
    this.chunk32[PUBLISHING_INDEX] = count;
    const r = this.bell.commit(this.commitIdx, count, NO_WORD, 0, this.faults.seen);
    this.count = count;
    this.chunk32[LIVE_COUNT_INDEX] = count;
    if ((r & COMMIT_WAKE) !== 0) this.wake();
    return r & COMMIT_FAULTED;
  }

  faulted(): void {
    this.onFault();
  }

  sync(): void {
    this.onSync();
  }
}

/**
 * Appends records to one persisted feed (the {@linkcode FeedWriter}
 * contract over chunk files). Exactly one writer per feed exists across all
 * processes (an flock on `writer.lock`; a second gets `WRITER_LOCKED`).
 * Created by `Platform.createWriter`.
 */
export class ChunkWriter implements FeedWriter {
  /** Always `"chunks"`. */
  readonly kind = "chunks" as const;
  /** Feed name. */
  readonly feed: string;
  readonly #ctx: FeedContext;
  readonly #reg: Registry;
  readonly #core: ChunkCore;
  readonly #lock: FileLock;
  readonly #durability: Durability;
  readonly #geometry: { bytes: number; capacity: number };
  readonly #next: NextChunk;
  readonly #onClose: (w: ChunkWriter) => void;
  #markers: MarkerFile | undefined;
  #chunk: Mapping | undefined;
  #chunkId = 0;
  #flushedCount = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #open = true;

  /** See {@linkcode FeedWriter.writeValues}. */
  readonly writeValues: (...values: unknown[]) => void;

  /** Use `Platform.createWriter`. */
  constructor(ctx: FeedContext, options: WriterOptions, onClose: (w: ChunkWriter) => void) {
    this.feed = ctx.name;
    this.#ctx = ctx;
    this.#onClose = onClose;
    const o = writerOptions(options);
    this.#durability = o.durability;
    this.#geometry = chunkGeometry(ctx.spec.chunk_size_mb, ctx.layout.recordSize);
    this.#next = new NextChunk(
      (id) => ctx.paths.chunk(ctx.name, id),
      this.#geometry.bytes,
      o.prefetch,
    );
    this.#lock = acquireWriterLock(ctx);
    try {
      this.#reg = Registry.open(ctx.paths.registry(ctx.name), true);
      checkRegistryMatches(this.#reg, ctx);
    } catch (e) {
      this.#lock.close();
      throw e;
    }
    this.#core = new ChunkCore(
      ctx,
      this.#reg,
      () => this.#rotate(),
      () => this.#markOutOfOrder(),
      () => this.#wake(),
      () =>
        this.#core.faults.settle(
          [this.#chunk, this.#reg.map],
          `run deepwater-repair --feed ${this.feed}`,
        ),
      () => this.flush(),
    );
    this.#core.syncEachWrite = this.#durability === "write";
    this.writeValues = makeWriteValues(this.#core);
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
   * was nothing to prepare). See {@linkcode FeedWriter.ready}.
   */
  get ready(): Promise<void> {
    return this.#next.ready;
  }

  /** Id of the chunk being written. */
  get chunkId(): number {
    return this.#chunkId;
  }

  /**
   * See {@linkcode FeedWriter.write}. With `createIndex`, the record and its
   * marker are committed together or not at all: the marker file is opened
   * and its room checked before the record is committed, so a failed call
   * can be retried without duplicating the record. (A process killed
   * between the two commits leaves the record without its marker.)
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
    if (!this.#open) throw closedError(`Writer for "${this.feed}"`, this);
    const c = this.#core;
    const marker = index ? this.#nextMarker() : 0;
    const ts = writeObject(c, record);
    if (index) this.#addMarker(marker, c.count - 1, ts);
    c.settle();
  }

  /**
   * See {@linkcode FeedWriter.writeBatch}: one publish per chunk touched.
   *
   * @param bytes whole records
   */
  writeBatch(bytes: Uint8Array): void {
    const rs = this.#ctx.layout.recordSize;
    if (!this.#open) throw closedError(`Writer for "${this.feed}"`, this);
    const n = batchRecords(bytes, this.feed, rs);
    if (n === 0) return;
    const c = this.#core;
    const tsOff = this.#ctx.layout.tsOffset;
    const src = bytesAddress(bytes);
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
      c.publish(c.count + k); // a fault is reported by settle() below
      done += k;
    }
    c.settle();
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
    this.#next.close();
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
    this.#next.warm(path, m.length); // after a reboot its pages are not in the page cache
    const c = this.#core;
    const s = scanTs(m.addr + BigInt(CHUNK_HEADER), e.committed, rs, this.#ctx.layout.tsOffset);
    c.lastTs = e.committed ? s.last : prevLastTs;
    c.minTs = e.committed ? s.min : Infinity;
    c.maxTs = e.committed ? s.max : -Infinity;
    c.ooo = (e.flags & FLAG.OUT_OF_ORDER) !== 0;
    this.#next.prepare(last + 1);
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
    let m = this.#next.take(id);
    if (!m) {
      // No prepared chunk (the writer's first, or the worker failed).
      m = Mapping.file(path, { length: bytes, write: true, create: true });
      this.#next.warm(path, bytes);
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
    this.#next.prepare(id + 1);
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

  /** Seal the full chunk and switch to the next. Also the CLOSED gate of the hot path. */
  #rotate(): void {
    if (!this.#open) throw closedError(`Writer for "${this.feed}"`, this);
    const c = this.#core;
    if (c.faults.changed) c.faulted(); // before the old chunk is unmapped and its fault forgotten
    const reg = this.#reg;
    const id = this.#chunkId;
    this.#ensureRoom(id + 1); // before sealing: a FULL registry leaves the chunk live
    sealChunkHeader(c.dv, c.count); // self-describing for repair
    reg.seal(id, c.minTs, c.maxTs, c.lastTs, c.ooo ? FLAG.OUT_OF_ORDER : 0);
    if (this.#durability !== "page-cache") this.flush();
    const old = this.#chunk!;
    this.#next.settleWarming(false);
    this.#startChunk(id + 1, c.lastTs);
    old.close({ background: true });
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
    return batchTsError(this.feed, this.#ctx.layout.tsName);
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
