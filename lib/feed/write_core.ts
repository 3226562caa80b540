/**
 * The write path both storage kinds share: claim room for one record, store
 * it, commit it, then check for contained faults and sync if asked. Each
 * kind supplies a {@linkcode WriteCore} (where the next record goes, how it
 * is published); this module builds the hot `writeValues` for it and writes
 * records given as objects, so the two writers differ only in storage.
 *
 * `writeValues` is generated per writer with the layout's fixed arity (no
 * rest array, no per-call allocation) and calls only this writer's core, so
 * V8 sees one shape at every call site and inlines `claim` and `commit`.
 * The source names the core's class: identical sources may share compiled
 * code and its type feedback, which must not mix the two storage kinds.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { show } from "../base/input.ts";
import type { Codec } from "../schema/codec.ts";
import { FaultWatch } from "../native/mapping.ts";
import { FileLock } from "../native/lock.ts";
import type { FeedContext } from "../directory/feed.ts";

/**
 * A storage kind's side of the write path. Subclasses keep `dv`/`u8` on the
 * bytes being written and implement `claim` and `commit`.
 */
export abstract class WriteCore {
  /** View of the storage the next record goes into (replaced on rotation). */
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** Byte view of the same storage. */
  u8: Uint8Array = new Uint8Array(0);
  /** msync after every write call (durability `"write"`). */
  syncEachWrite = false;
  /** Watched after every write call: storage truncated under the writer is CORRUPT. */
  readonly faults: FaultWatch = new FaultWatch();
  /**
   * Set by a kind whose `claim` is visible to readers (a ring marks the slot
   * it overwrites): each record is then first stored into this scratch
   * record, so a value that fails validation throws before `claim`.
   */
  scratch: { dv: DataView; u8: Uint8Array } | undefined;

  /**
   * @param feed feed name, for messages
   * @param codec the feed's generated codec
   */
  constructor(readonly feed: string, readonly codec: Codec) {}

  /**
   * Make room for one record (rotating, or throwing CLOSED or a stored
   * failure) and return the byte offset in `u8` where it goes. Nothing is
   * visible to readers until {@linkcode WriteCore.commit}.
   */
  abstract claim(): number;

  /**
   * Publish the record stored at the last claimed offset; `ts` is its
   * timestamp. Returns non-zero when a mapping of this process faulted since
   * the last settle (the commit's own check, see `Doorbell.commit`).
   */
  abstract commit(ts: number): number;

  /** Throw CORRUPT naming the faulted mapping; called only when `faults.changed`. */
  abstract faulted(): void;

  /** Force what was committed to storage (durability `"write"`). */
  abstract sync(): void;

  /** Checks after a write call: a contained fault, then the per-write sync. */
  settle(): void {
    if (this.faults.changed) this.faulted();
    if (this.syncEachWrite) this.sync();
  }

  /** Throw the INVALID_VALUE for a `writeValues` call with `n` values. */
  arityError(n: number): never {
    const c = this.codec;
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write record to "${this.feed}": got ${n} values, expected ${c.arity} (${
        c.valueFields.map((f) => f.name).join(", ")
      })`,
    );
  }
}

/**
 * Build the `writeValues` of one writer: fixed arity, the codec's generated
 * store, the core's claim and commit, and the fault/sync checks inline.
 *
 * @param core the writer's core
 * @returns `writeValues(...values)`
 */
export function makeWriteValues(core: WriteCore): (...values: unknown[]) => void {
  const arity = core.codec.arity;
  const args = Array.from({ length: arity }, (_, i) => `a${i}`).join(", ");
  const check = core.scratch ? `store(c.scratch.dv, c.scratch.u8, 0, ${args});\n  ` : "";
  return new Function(
    "c",
    "store",
    `"use strict"; /* ${core.constructor.name} */ return function writeValues(${args}) {
  if (arguments.length !== ${arity}) c.arityError(arguments.length);
  ${check}const at = c.claim();
  if (c.commit(store(c.dv, c.u8, at, ${args})) !== 0) c.faulted();
  if (c.syncEachWrite) c.sync();
};`,
  )(core, core.codec.store) as (...values: unknown[]) => void;
}

/**
 * Store one record given as an object and commit it.
 *
 * @param core the writer's core
 * @param record field values keyed by name
 * @returns the record's timestamp
 */
export function writeObject(core: WriteCore, record: Record<string, unknown>): number {
  const s = core.scratch;
  if (s) core.codec.storeObject(s.dv, s.u8, 0, record);
  const at = core.claim();
  const ts = core.codec.storeObject(core.dv, core.u8, at, record);
  core.commit(ts);
  return ts;
}

/**
 * Check a `writeBatch` argument and return its record count: a live
 * Uint8Array (a detached buffer reads as empty, and would otherwise pass for
 * an empty batch) of whole records.
 *
 * @param bytes the caller's argument
 * @param feed feed name for the message
 * @param recordSize bytes per record
 * @returns the number of records
 */
export function batchRecords(bytes: unknown, feed: string, recordSize: number): number {
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
  if (bytes.length % recordSize !== 0) {
    throw new DeepwaterError(
      "INVALID_VALUE",
      `Cannot write batch to "${feed}": ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`,
    );
  }
  return bytes.length / recordSize;
}

/**
 * The INVALID_VALUE for a `writeBatch` holding a timestamp beyond 2^53-1
 * (found by the native scan), the same for both storage kinds.
 *
 * @param feed feed name
 * @param tsName the timestamp field
 * @returns the error to throw
 */
export function batchTsError(feed: string, tsName: string): DeepwaterError {
  return new DeepwaterError(
    "INVALID_VALUE",
    `Cannot write batch to "${feed}": a "${tsName}" value is beyond 2^53-1 microseconds`,
  );
}

/**
 * Take the feed's writer lock without waiting: one writer per feed across
 * all processes, of either kind.
 *
 * @param ctx the feed
 * @returns the held lock; throws `WRITER_LOCKED` when another process holds it
 */
export function acquireWriterLock(ctx: FeedContext): FileLock {
  return FileLock.acquire(ctx.paths.writerLock(ctx.name), {
    wait: false,
    action:
      `Cannot open a writer for "${ctx.name}": another process holds the writer lock; one writer per feed is allowed`,
  });
}
