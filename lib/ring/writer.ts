/**
 * The ring writer for `persist: false` feeds: the feed writer contract
 * (`feed/contract.ts`), publishing into a shared-memory ring (no disk I/O).
 * See `format.ts` in this folder for the slot protocol.
 *
 * @module
 */
import type { FileLock } from "../native/lock.ts";
import { closedError, DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import {
  currentNonce,
  RING_FIELDS,
  ringGeometry,
  RingMap,
  ringName,
  SLOT_HEADER,
} from "./format.ts";
import { writeIndexOption, writerOptions } from "../base/input.ts";
import { bytesAddress, scanTs } from "../native/scan.ts";
import { COMMIT_FAULTED, COMMIT_WAKE, NO_WORD } from "../native/doorbell.ts";
import type { RingFeedWriter, WriteOptions, WriterOptions } from "../feed/contract.ts";
import {
  acquireWriterLock,
  batchRecords,
  batchTsError,
  makeWriteValues,
  WriteCore,
  writeObject,
} from "../feed/write_core.ts";

/** u32 index of the ring's head word. */
const HEAD_INDEX = RING_FIELDS.head >> 2;

/** The ring writer's side of the shared write path (see `feed/write_core.ts`). Internal. */
class RingCore extends WriteCore {
  /** The ring written: its slot offsets, seqlock (claims) and doorbell (commits). */
  ring!: RingMap;
  n = 0;
  open = true;
  /** Set when the ring could not be re-created: every later write throws it. */
  failure: DeepwaterError | undefined;
  filled = false;

  constructor(
    ctx: FeedContext,
    ring: RingMap,
    readonly owner: object,
    readonly wake: () => void,
    readonly onFault: () => void,
  ) {
    super(ctx.name, ctx.codec);
    // claim() marks the slot odd, which costs readers its oldest record.
    const scratch = new ArrayBuffer(ctx.layout.recordSize);
    this.scratch = { dv: new DataView(scratch), u8: new Uint8Array(scratch) };
    this.attach(ring);
  }

  /** Continue on `ring` after its head. */
  attach(ring: RingMap): void {
    this.ring = ring;
    this.dv = ring.dv;
    this.u8 = ring.u8;
    this.n = ring.head();
    this.filled = ring.dv.getUint32(RING_FIELDS.filled, true) === 1;
  }

  /** Mark slot n as being written (odd sequence); returns the payload offset. */
  claim(): number {
    if (!this.open || this.failure) {
      throw this.failure ?? closedError(`Writer for "${this.feed}"`, this.owner);
    }
    const off = this.ring.slotOffset(this.n);
    this.ring.slots.claim(off >> 2, (2 * this.n + 1) >>> 0);
    return off + SLOT_HEADER;
  }

  /**
   * Complete slot n (even sequence) and publish the head in one native
   * commit (see `Doorbell.commit`); returns COMMIT_FAULTED when a mapping
   * faulted since the last settle.
   */
  commit(_ts: number): number {
    const seq = this.ring.slotOffset(this.n) >> 2;
    const even = (2 * this.n + 2) >>> 0;
    this.n++;
    const r = this.ring.doorbell.commit(seq, even, HEAD_INDEX, this.n >>> 0, this.faults.seen);
    this.markFilled();
    if ((r & COMMIT_WAKE) !== 0) this.wake();
    return r & COMMIT_FAULTED;
  }

  /** Complete slot n (even sequence) without moving the head (batches publish once). */
  end(): void {
    Atomics.store(this.ring.u32, this.ring.slotOffset(this.n) >> 2, (2 * this.n + 2) >>> 0);
    this.n++;
    this.markFilled();
  }

  /** Set the ring's filled flag once the head has gone round (a reader's oldest slot then moves). */
  markFilled(): void {
    if (!this.filled && this.n >= this.ring.capacity) {
      this.filled = true;
      Atomics.store(this.ring.u32, RING_FIELDS.filled >> 2, 1);
    }
  }

  /** Publish the head after a batch of end() calls. */
  publish(): void {
    const r = this.ring.doorbell.commit(HEAD_INDEX, this.n >>> 0, NO_WORD, 0, this.faults.seen);
    if ((r & COMMIT_WAKE) !== 0) this.wake();
  }

  faulted(): void {
    this.onFault();
  }

  /** Nothing to sync: a ring lives in memory. */
  sync(): void {}
}

/**
 * Writes a `persist: false` feed into its shared-memory ring. One writer per
 * feed across processes (`WRITER_LOCKED`). A restarted writer continues
 * after the ring's head. If the ring's name is removed while writing, the
 * writer notices within a second, logs a warning and re-creates it.
 */
export class RingWriter implements RingFeedWriter {
  /** Always `"ring"`. */
  readonly kind = "ring" as const;
  /** Feed name. */
  readonly feed: string;
  readonly #ctx: FeedContext;
  readonly #name: string;
  readonly #lock: FileLock;
  readonly #core: RingCore;
  readonly #onClose: (w: RingWriter) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #ring: RingMap;

  /** See {@linkcode RingFeedWriter.writeValues}. */
  readonly writeValues: (...values: unknown[]) => void;

  /** Use `Platform.createWriter`. */
  constructor(ctx: FeedContext, options: WriterOptions, onClose: (w: RingWriter) => void) {
    this.feed = ctx.name;
    this.#ctx = ctx;
    this.#onClose = onClose;
    if (writerOptions(options).durability !== "page-cache") {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Feed "${ctx.name}" is a shared-memory ring (persist: false): durability options do not apply`,
      );
    }
    this.#lock = acquireWriterLock(ctx);
    this.#name = ringName(ctx);
    try {
      this.#ring = this.#create();
    } catch (e) {
      this.#lock.close();
      throw e;
    }
    this.#core = new RingCore(
      ctx,
      this.#ring,
      this,
      () => this.#wake(),
      () =>
        this.#core.faults.settle(
          [this.#ring.map],
          "remove the ring (Platform.removeRing or deepwater-cleanup) and restart the writer",
        ),
    );
    this.writeValues = makeWriteValues(this.#core);
    this.#timer = setInterval(() => this.#checkName(), 1000);
    Deno.unrefTimer(this.#timer);
    ctx.log.info(`ring writer opened for "${ctx.name}"`, { shm: this.#name, head: this.#core.n });
  }

  #create(): RingMap {
    const geo = ringGeometry(this.#ctx.spec.chunk_size_mb, this.#ctx.layout.recordSize);
    return RingMap.attach(this.#name, geo, this.#ctx.layout.recordSize, this.#ctx.layoutCrc, true)!;
  }

  #checkName(): void {
    if (!this.#core.open || currentNonce(this.#name) === this.#ring.nonce) return;
    this.#ctx.log.warn(
      `ring "${this.#name}" of "${this.feed}" was removed or replaced; re-creating it`,
    );
    this.#wake(); // let readers blocked on the old ring notice
    const old = this.#ring;
    try {
      this.#ring = this.#create();
    } catch (e) {
      // A timer must not throw (that would end the process): the next write
      // call reports it instead, and the ring is looked at again next second.
      const why = e instanceof Error ? e.message : String(e);
      this.#core.failure = new DeepwaterError(
        e instanceof DeepwaterError ? e.code : "IO",
        `Ring writer for "${this.feed}" cannot re-create its removed ring: ${why}`,
        { cause: e },
      );
      this.#ctx.log.error(this.#core.failure.message);
      return;
    }
    this.#core.failure = undefined;
    this.#core.attach(this.#ring);
    old.close();
  }

  /** Whether the writer is open. */
  get isOpen(): boolean {
    return this.#core.open;
  }

  /**
   * Settled at once: a ring is not pre-faulted (each slot's page faults in on
   * its first write, until the ring has wrapped once).
   */
  get ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Shared-memory name of the ring. */
  get shmName(): string {
    return this.#name;
  }

  /** Slots in the ring: how many records it retains. */
  get capacity(): number {
    return this.#core.ring.capacity;
  }

  /**
   * See {@linkcode RingFeedWriter.write}.
   *
   * @param record field values
   * @param options playback markers are not supported on rings
   */
  write(record: Record<string, unknown>, options?: WriteOptions): void {
    if (writeIndexOption(options)) {
      throw new DeepwaterError(
        "INVALID_ARGUMENT",
        `Cannot create a playback marker on "${this.feed}": rings (persist: false) keep no markers`,
      );
    }
    writeObject(this.#core, record);
    this.#core.settle();
  }

  /**
   * Append packed records; the head is published once at the end.
   *
   * @param bytes whole records in the feed's layout
   */
  writeBatch(bytes: Uint8Array): void {
    const c = this.#core;
    if (c.open && c.failure) throw c.failure;
    const rs = this.#ctx.layout.recordSize;
    if (!c.open) throw closedError(`Writer for "${this.feed}"`, this);
    const n = batchRecords(bytes, this.feed, rs);
    const layout = this.#ctx.layout;
    if (n > 0 && scanTs(bytesAddress(bytes), n, rs, layout.tsOffset).big) {
      throw batchTsError(this.feed, layout.tsName);
    }
    for (let i = 0; i < n; i++) {
      c.u8.set(bytes.subarray(i * rs, (i + 1) * rs), c.claim());
      c.end();
    }
    if (n > 0) c.publish();
    c.settle();
  }

  /** No-op for rings (nothing to flush); kept for API symmetry. */
  flush(): void {}

  #wake(): void {
    this.#ring.doorbell.ring();
  }

  /** Release the lock and the mapping; the ring and its records stay. Idempotent. */
  close(): void {
    if (!this.#core.open) return;
    this.#core.open = false;
    clearInterval(this.#timer);
    this.#ring.close();
    this.#lock.close();
    this.#ctx.log.info(`ring writer closed for "${this.feed}"`);
    this.#onClose(this);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
