/**
 * The ring writer for `persist: false` feeds: the same API as the persisted
 * writer, publishing into a shared-memory ring (no disk I/O). See
 * `ring_format.ts` for the slot protocol.
 *
 * @module
 */
import { FileLock } from "../native/lock.ts";
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
import type { StoreFn } from "../schema/codec.ts";
import { writeIndexOption, writerOptions } from "../base/input.ts";
import { FaultWatch } from "../native/mapping.ts";
import { checkBatch, type WriteOptions, type WriterOptions } from "../chunks/writer.ts";

/** Hot-path state shared with the generated `writeValues`. Internal. */
class RingCore {
  dv!: DataView;
  u8!: Uint8Array;
  u32!: Uint32Array;
  n = 0;
  mask = 0;
  slotSize = 0;
  open = true;
  /** Set when the ring could not be re-created: every later write throws it. */
  failure: DeepwaterError | undefined;
  filled = false;
  /** Watched after every write call: a truncated ring is CORRUPT. */
  readonly faults = new FaultWatch();
  /** Throws CORRUPT naming the ring; call only when `faults.changed`. */
  faulted: () => void = () => {};

  constructor(ring: RingMap, readonly wake: () => void, readonly arityError: (n: number) => never) {
    this.attach(ring);
  }

  /** Continue on `ring` after its head. */
  attach(ring: RingMap): void {
    this.dv = ring.dv;
    this.u8 = ring.u8;
    this.u32 = ring.u32;
    this.n = ring.head();
    this.mask = ring.capacity - 1;
    this.slotSize = ring.slotSize;
    this.filled = ring.dv.getUint32(RING_FIELDS.filled, true) === 1;
  }

  /** Mark slot n as being written; returns the payload offset. */
  begin(): number {
    if (!this.open || this.failure) throw this.failure ?? closedError("Ring writer");
    const off = 4096 + ((this.n >>> 0) & this.mask) * this.slotSize;
    Atomics.store(this.u32, off >> 2, (2 * this.n + 1) >>> 0);
    return off + SLOT_HEADER;
  }

  /** Complete slot n; `publish` also moves the head (batches publish once). */
  end(publish: boolean): void {
    const off = 4096 + ((this.n >>> 0) & this.mask) * this.slotSize;
    Atomics.store(this.u32, off >> 2, (2 * this.n + 2) >>> 0);
    this.n++;
    if (!this.filled && this.n > this.mask) {
      this.filled = true;
      Atomics.store(this.u32, RING_FIELDS.filled >> 2, 1);
    }
    if (publish) this.publish();
  }

  publish(): void {
    Atomics.store(this.u32, RING_FIELDS.head >> 2, this.n >>> 0);
    if (Atomics.load(this.u32, RING_FIELDS.waiters >> 2) !== 0) this.wake();
  }
}

function makeWriteValues(core: RingCore, store: StoreFn, arity: number) {
  const args = Array.from({ length: arity }, (_, i) => `a${i}`).join(", ");
  return new Function(
    "c",
    "store",
    `"use strict"; return function writeValues(${args}) {
  if (arguments.length !== ${arity}) c.arityError(arguments.length);
  store(c.dv, c.u8, c.begin(), ${args});
  c.end(true);
  if (Atomics.load(c.faults.word, 0) !== c.faults.seen) c.faulted();
};`,
  )(core, store) as (...values: unknown[]) => void;
}

/**
 * Writes a `persist: false` feed into its shared-memory ring. One writer per
 * feed across processes (`WRITER_LOCKED`). A restarted writer continues
 * after the ring's head. If the ring's name is removed while writing, the
 * writer notices within a second, logs a warning and re-creates it.
 */
export class RingWriter {
  /** Feed name. */
  readonly feed: string;
  readonly #ctx: FeedContext;
  readonly #name: string;
  readonly #lock: FileLock;
  readonly #core: RingCore;
  readonly #onClose: (w: RingWriter) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #ring: RingMap;

  /** Append positional values in schema order (see `Writer.writeValues`). */
  readonly writeValues: (...values: unknown[]) => void;

  /** @internal Use `Platform.createWriter`. */
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
    this.#lock = FileLock.acquire(ctx.paths.writerLock(ctx.name), {
      wait: false,
      action:
        `Cannot open a writer for "${ctx.name}": another process holds the writer lock; one writer per feed is allowed`,
    });
    this.#name = ringName(ctx);
    try {
      this.#ring = this.#create();
    } catch (e) {
      this.#lock.close();
      throw e;
    }
    this.#core = new RingCore(this.#ring, () => this.#wake(), (n) => {
      throw new DeepwaterError(
        "INVALID_VALUE",
        `Cannot write record to "${ctx.name}": got ${n} values, expected ${ctx.codec.arity}`,
      );
    });
    this.#core.faulted = () =>
      this.#core.faults.settle(
        [this.#ring.map],
        "remove the ring (Platform.removeRing or deepwater-cleanup) and restart the writer",
      );
    this.writeValues = makeWriteValues(this.#core, ctx.codec.store, ctx.codec.arity);
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
   * its first write, until the ring has wrapped once). Here for parity with
   * {@linkcode Writer.ready}.
   */
  get ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Shared-memory name of the ring. */
  get shmName(): string {
    return this.#name;
  }

  /**
   * Append one record given as an object keyed by field name: exactly the
   * feed's value fields (an unknown or missing key is `INVALID_VALUE`).
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
    const c = this.#core;
    this.#ctx.codec.storeObject(c.dv, c.u8, c.begin(), record);
    c.end(true);
    if (c.faults.changed) c.faulted();
  }

  /**
   * Append packed records; the head is published once at the end.
   *
   * @param bytes whole records in the feed's layout
   */
  writeBatch(bytes: Uint8Array): void {
    const c = this.#core;
    if (!c.open || c.failure) throw c.failure ?? closedError(`Ring writer for "${this.feed}"`);
    const rs = this.#ctx.layout.recordSize;
    checkBatch(bytes, this.feed);
    if (bytes.length % rs !== 0) {
      throw new DeepwaterError(
        "INVALID_VALUE",
        `Cannot write batch to "${this.feed}": expected a Uint8Array of whole ${rs}-byte records`,
      );
    }
    const n = bytes.length / rs;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tsOff = this.#ctx.layout.tsOffset;
    for (let i = 0; i < n; i++) {
      if (dv.getUint32(i * rs + tsOff + 4, true) > 0x1fffff) {
        throw new DeepwaterError(
          "INVALID_VALUE",
          `Cannot write batch to "${this.feed}": record ${i} has a timestamp beyond 2^53-1 microseconds`,
        );
      }
    }
    for (let i = 0; i < n; i++) {
      c.u8.set(bytes.subarray(i * rs, (i + 1) * rs), c.begin());
      c.end(false);
    }
    if (n > 0) c.publish();
    if (c.faults.changed) c.faulted();
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

  /** Same as {@linkcode RingWriter.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
