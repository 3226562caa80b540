/**
 * Shared-memory rings for `persist: false` feeds: layout and opening.
 *
 * A ring is one POSIX shared-memory object, `/dw-<ring_id>-<feed>` (the
 * data directory's random identity from manifest.json, owner-only, created
 * exclusively),
 * sized by the feed's `chunk_size_mb` (rounded to whole pages):
 * ```
 * 0     u32 magic "DWRN"  4 u32 format  8 u32 header size (4096)  12 u32 record size
 * 16    u32 slot size     20 u32 capacity (slots, a power of two)  24 u32 layout CRC32C
 * 28    u32 nonce (random, identifies this incarnation of the ring)
 * 64    u32 head: records published, modulo 2^32 (release store after each record)
 * 72    u32 filled: 1 once the ring has wrapped (every slot holds a record)
 * 128   u32 notify sequence (futex word)     192 u32 waiting readers
 * 4096  slots: u32 seq, u32 reserved, record bytes, padded to a multiple of 8
 * ```
 * Record n (counting from 0 since the ring was created) lives in slot
 * n & (capacity - 1). Its writer stores seq = 2n+1 (odd: being written),
 * the payload, then seq = 2n+2 (even: complete), then head = n+1, all modulo
 * 2^32. A reader copies the slot and re-reads seq: if it is not 2n+2 before
 * and after the copy, the record was overwritten (or is being overwritten)
 * and is counted as lost, never returned. Counters are 32-bit serial
 * numbers: unambiguous because a ring never holds 2^31 slots. The odd store
 * is followed by a release fence and the reader's copy by an acquire fence
 * (`RingMap.slots`, libdeepwater's `dw_seq_claim` and `dw_seq_read`), which
 * arm64 needs and `Atomics` cannot express.
 *
 * @module
 */
import { DW_EINVAL, ENOENT } from "../native/errno.ts";
import { Doorbell } from "../native/doorbell.ts";
import { SeqSlots } from "../native/seqlock.ts";
import type { FeedContext } from "../directory/feed.ts";
import { DeepwaterError } from "../base/errors.ts";
import { Mapping, MAX_MAPPING, unlinkShm } from "../native/mapping.ts";
import { checkHeader, PAGE } from "../schema/header.ts";
import { FORMAT_VERSION } from "../base/version.ts";

/** Ring magic (0x4457524e). */
const RING_MAGIC = 0x4457524e;
/** Ring header size; slots start here. */
const RING_HEADER = 4096;
/** Byte offsets in the ring header. */
export const RING_FIELDS = {
  /** u32 "DWRN". The writer that creates the object, once. */
  magic: 0,
  /** u32 format version. The creating writer, once, last of the header (release). */
  version: 4,
  /** u32 header size (4096). Creating writer, once. */
  headerSize: 8,
  /** u32 record size. Creating writer, once. */
  recordSize: 12,
  /** u32 bytes per slot (slot header + record, padded to 8). Creating writer, once. */
  slotSize: 16,
  /** u32 slots, a power of two. Creating writer, once. */
  capacity: 20,
  /** u32 CRC32C of the layout descriptor. Creating writer, once. */
  layoutCrc: 24,
  /** u32 random incarnation id. Creating writer, once. */
  nonce: 28,
  /** u32 records published, modulo 2^32. The writer, release store after each record's slot. */
  head: 64,
  /**
   * u32 1 once the ring has wrapped. The writer, right after publishing the
   * head that fills it (head = capacity: a reader's window starts at 0 with
   * or without the flag) and before any later head.
   */
  filled: 72,
  /**
   * u32 futex word (see `native/doorbell.ts`). The writer increments it after commits readers
   * wait for; a reader whose wait is aborted increments it to end its own sleep.
   */
  notifySeq: 128,
  /** u32 readers blocked on `notifySeq`. Readers add and subtract; the writer loads it. */
  waiters: 192,
} as const;
/** Bytes before the record inside a slot. */
export const SLOT_HEADER = 8;

/** Geometry of a ring. */
export interface RingGeometry {
  /** Bytes per slot. */
  slotSize: number;
  /** Slots (a power of two). */
  capacity: number;
  /** Total shared-memory size. */
  bytes: number;
}

/**
 * Size a ring: the largest power-of-two slot count that fits `chunk_size_mb`
 * (at least 2 slots).
 *
 * @param chunkSizeMb the feed's chunk_size_mb
 * @param recordSize bytes per record
 * @returns the geometry
 */
export function ringGeometry(chunkSizeMb: number, recordSize: number): RingGeometry {
  const slotSize = Math.ceil((SLOT_HEADER + recordSize) / 8) * 8;
  const budget = Math.max(Math.round(chunkSizeMb * 1024 * 1024) - RING_HEADER, 2 * slotSize);
  let capacity = 2;
  while (capacity * 2 * slotSize <= budget && capacity < 2 ** 30) capacity *= 2;
  const bytes = Math.ceil((RING_HEADER + capacity * slotSize) / PAGE) * PAGE;
  return { slotSize, capacity, bytes };
}

/**
 * Shared-memory name of a feed's ring: `/dw-<ring_id>-<feed>`.
 *
 * @param ctx the feed (its `ringId` comes from the manifest)
 * @returns the name
 * @throws {DeepwaterError} `IO` when the manifest has no ring_id (an older
 *   directory opened by a process that may not write the manifest)
 */
export function ringName(ctx: FeedContext): string {
  if (ctx.ringId === undefined) {
    throw new DeepwaterError(
      "IO",
      `Cannot use the ring of "${ctx.name}": manifest "${ctx.paths.manifest}" has no ring_id and this process may not add it: open the data directory once with write access (new Platform) to add it`,
      { path: ctx.paths.manifest },
    );
  }
  return `/dw-${ctx.ringId}-${ctx.name}`;
}

/** An attached ring (either side). */
export class RingMap {
  /** Mapping of the whole object. */
  readonly map: Mapping;
  /** DataView over it. */
  readonly dv: DataView;
  /** Byte view over it. */
  readonly u8: Uint8Array;
  /** u32 view for Atomics. */
  readonly u32: Uint32Array;
  /** Slots. */
  readonly capacity: number;
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Incarnation nonce. */
  readonly nonce: number;
  /** Wakes readers blocked on the ring (the `notifySeq` and `waiters` words). */
  readonly doorbell: Doorbell;
  /** The slots' seqlock: the writer's claim and the readers' checked copy. */
  readonly slots: SeqSlots;

  private constructor(map: Mapping, recordSize: number, layoutCrc: number) {
    this.map = map;
    this.dv = new DataView(map.buffer);
    this.u8 = new Uint8Array(map.buffer);
    this.u32 = new Uint32Array(map.buffer);
    this.doorbell = new Doorbell(map, RING_FIELDS);
    this.slots = new SeqSlots(map);
    const dv = this.dv;
    const bad = (why: string) =>
      new DeepwaterError(
        "CORRUPT",
        `Ring "${map.path}" ${why}: remove it (platform.removeRing() on its feed, or delete /dev/shm${map.path}) and restart the writer (deepwater-cleanup and deepwater-repair leave rings alone)`,
        { path: map.path },
      );
    checkHeader(map.buffer, {
      magic: RING_MAGIC,
      headerSize: RING_HEADER,
      what: "Ring",
      path: map.path,
      fix:
        `remove it (platform.removeRing() on its feed, or delete /dev/shm${map.path}) and restart the writer (deepwater-cleanup and deepwater-repair leave rings alone)`,
    });
    if (
      dv.getUint32(RING_FIELDS.recordSize, true) !== recordSize ||
      dv.getUint32(RING_FIELDS.layoutCrc, true) !== layoutCrc
    ) {
      throw new DeepwaterError(
        "SCHEMA_DRIFT",
        `Ring "${map.path}" holds another record layout: remove it and restart the writer`,
        { path: map.path },
      );
    }
    this.capacity = dv.getUint32(RING_FIELDS.capacity, true);
    this.slotSize = dv.getUint32(RING_FIELDS.slotSize, true);
    this.nonce = dv.getUint32(RING_FIELDS.nonce, true);
    // Every slot offset the ring computes must land inside the mapping with
    // room for its header and a whole record, and below 2^31 (offsets are
    // shifted as int32 and passed to libdeepwater as u32; no ring this
    // library sizes is larger, see ringGeometry).
    if (
      this.capacity < 2 || (this.capacity & (this.capacity - 1)) !== 0 ||
      this.slotSize < SLOT_HEADER + recordSize || this.slotSize % 8 !== 0 ||
      map.length < RING_HEADER + this.capacity * this.slotSize ||
      RING_HEADER + this.capacity * this.slotSize > MAX_MAPPING
    ) throw bad("has an impossible geometry");
  }

  /**
   * Attach to a ring, creating it (writer side) when missing.
   *
   * @param name shared-memory name
   * @param geo geometry for creation
   * @param recordSize feed record size
   * @param layoutCrc feed layout CRC
   * @param create create if missing (writers)
   * @returns the ring, or undefined when it does not exist and `create` is false
   */
  static attach(
    name: string,
    geo: RingGeometry,
    recordSize: number,
    layoutCrc: number,
    create: boolean,
  ): RingMap | undefined {
    let map: Mapping;
    try {
      map = create
        ? Mapping.shm(name, { length: geo.bytes, write: true, create: true })
        : Mapping.shm(name, { write: true });
    } catch (e) {
      // Not there yet, or there but still empty: its creator has opened it
      // and not yet sized it (shm_open, then fallocate). Either way: no ring yet.
      if (!create && e instanceof DeepwaterError && (e.errno === ENOENT || e.errno === DW_EINVAL)) {
        return undefined;
      }
      throw e;
    }
    const dv = new DataView(map.buffer);
    if (create && dv.getUint32(RING_FIELDS.version, true) === 0) {
      // Fresh object (all zeros): initialise, version last. The writer lock
      // guarantees a single initialiser.
      dv.setUint32(RING_FIELDS.magic, RING_MAGIC, true);
      dv.setUint32(RING_FIELDS.headerSize, RING_HEADER, true);
      dv.setUint32(RING_FIELDS.recordSize, recordSize, true);
      dv.setUint32(RING_FIELDS.slotSize, geo.slotSize, true);
      dv.setUint32(RING_FIELDS.capacity, geo.capacity, true);
      dv.setUint32(RING_FIELDS.layoutCrc, layoutCrc, true);
      dv.setUint32(RING_FIELDS.nonce, crypto.getRandomValues(new Uint32Array(1))[0]! | 1, true);
      Atomics.store(new Uint32Array(map.buffer), RING_FIELDS.version >> 2, FORMAT_VERSION);
    } else if (!create && dv.getUint32(RING_FIELDS.version, true) === 0) {
      map.close();
      return undefined; // a writer is still initialising it: treat as not there yet
    }
    try {
      return new RingMap(map, recordSize, layoutCrc);
    } catch (e) {
      map.close();
      throw e;
    }
  }

  /** Published record count, modulo 2^32 (acquire). */
  head(): number {
    return Atomics.load(this.u32, RING_FIELDS.head >> 2);
  }

  /** Byte offset of the slot of record `n` (any integer; taken modulo capacity). */
  slotOffset(n: number): number {
    return RING_HEADER + ((n >>> 0) & (this.capacity - 1)) * this.slotSize;
  }

  /** Unmap. Idempotent. */
  close(): void {
    this.map.close();
  }
}

/**
 * The nonce of the ring currently published under `name`, or undefined when
 * no ring exists (used to notice removal or replacement).
 */
export function currentNonce(name: string): number | undefined {
  let map: Mapping;
  try {
    map = Mapping.shm(name, { length: RING_HEADER });
  } catch {
    return undefined;
  }
  try {
    return new DataView(map.buffer).getUint32(RING_FIELDS.nonce, true);
  } finally {
    map.close();
  }
}

/**
 * Remove a ring's shared-memory name. Attached processes keep their mapping;
 * writers re-create the ring within a second and readers follow it.
 *
 * @param name shared-memory name
 * @returns whether a ring was removed
 */
export function removeRing(name: string): boolean {
  return unlinkShm(name);
}
